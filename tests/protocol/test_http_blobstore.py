"""HttpBlobStore against the real backend API served by uvicorn on a free port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import uvicorn
from eth_account import Account

from backend.api import create_app
from backend.config import BackendConfig
from backend.db import Base, ChainEvent, JobRow, engine_for, session_scope
from backend.migrate import upgrade
from protocol.blobstore import (
    MAX_BLOB_BYTES,
    BlobCorrupt,
    BlobError,
    BlobNotFound,
    BlobTooLarge,
    LocalBlobStore,
    open_blob_store,
)
from protocol.canonical import content_id, keccak_hex
from protocol.http_blobstore import BlobAccessDenied, BlobServerError, HttpBlobStore
from protocol.jobspec import JobResult
from protocol.settings import Settings
from tests.conftest import free_port

CLIENT = Account.from_key("0x" + "c1" * 32)
STRANGER = Account.from_key("0x" + "5e" * 32)
AUDITOR = Account.from_key("0x" + "a0" * 32)


class Backend:
    def __init__(self, url: str, database_url: str, blobs: Path) -> None:
        self.url, self.database_url, self.blobs = url, database_url, blobs


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    root = tmp_path_factory.mktemp("backend")
    database_url = f"sqlite:///{root / 'backend.db'}"
    upgrade(database_url)
    Base.metadata.create_all(engine_for(database_url))  # tables newer than the migration
    config = BackendConfig(
        database_url=database_url,
        broker_url="memory://",
        result_backend="cache+memory://",
        embedded=True,
        rpc_url="inprocess",
        deployments_dir=root / "deployments",
        blob_location=str(root / "blobs"),
    )
    app = create_app(config, Settings(auditors=(AUDITOR.address,)))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield Backend(f"http://127.0.0.1:{port}", database_url, root / "blobs")
    finally:
        server.should_exit = True
        thread.join(10)


def test_open_blob_store_picks_the_http_store(backend: Backend) -> None:
    store = open_blob_store(backend.url)
    assert isinstance(store, HttpBlobStore) and store.account is None
    signed = open_blob_store(backend.url + "/", account=CLIENT)
    assert signed.account is CLIENT and signed.base_url == backend.url
    assert HttpBlobStore(backend.url + "/blobs").base_url == backend.url
    with pytest.raises(BlobError, match="local folder or an http"):
        open_blob_store("ftp://example/blobs")
    with pytest.raises(ValueError):
        HttpBlobStore("127.0.0.1:8000")


def test_put_get_has_round_trip(backend: Backend) -> None:
    with HttpBlobStore(backend.url) as store:
        data = b"\x00\x01 some report \xff"
        h = store.put(data)
        assert h == keccak_hex(data) and store.put(data) == h  # idempotent
        assert store.get(h) == data and store.has(h)
        assert LocalBlobStore(backend.blobs).get(h) == data  # it is on the server
        doc = {"schema": "x", "n": 1}
        assert store.put_json(doc) == content_id(doc)
        assert store.get_json(content_id(doc)) == doc
        missing = keccak_hex(b"never stored")
        assert not store.has(missing)
        with pytest.raises(BlobNotFound):
            store.get(missing)
        with pytest.raises(BlobTooLarge):
            store.put(b"x" * (MAX_BLOB_BYTES + 1))
        with pytest.raises(TypeError):
            store.put("text")  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            store.get("0x1234")


def test_a_result_needs_the_clients_or_an_auditors_signature(backend: Backend) -> None:
    doc = JobResult(
        job_id=5,
        spec_hash="0x" + "51" * 32,
        provider="0x" + "b0" * 20,
        method_id="0x" + "4d" * 32,
        outputs=[{"text": "ok", "token_ids": [3]}],
    ).to_document()
    with HttpBlobStore(backend.url, account=STRANGER) as uploader:
        h = uploader.put_json(doc)
    with session_scope(backend.database_url) as s:
        event = ChainEvent(
            chain_id=1,
            block_number=1,
            block_hash="0x" + "01" * 32,
            tx_hash="0x" + "02" * 32,
            log_index=0,
            contract="JobMarket",
            name="JobCreated",
            args={},
        )
        s.add(event)
        s.flush()
        s.add(
            JobRow(
                event_id=event.id,
                chain_id=1,
                job_id=5,
                client=CLIENT.address,
                spec_hash=doc["spec_hash"],
                model_id="0x" + "00" * 32,
                workload_id="0x" + "00" * 32,
                escrow_wei=1,
                deadline=1,
                result_hash=h,
            )
        )
    for account in (None, STRANGER):
        with HttpBlobStore(backend.url, account=account) as store:
            with pytest.raises(BlobAccessDenied):
                store.get(h)
            with pytest.raises(BlobAccessDenied):
                store.has(h)
    for account in (CLIENT, AUDITOR):
        with HttpBlobStore(backend.url, account=account) as store:
            assert store.get_json(h) == doc and store.has(h)
            assert store.get_json(h) == doc  # each request signed anew: no replay


class _Liar(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = b"not what you asked for"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_downloads_are_verified_against_their_hash() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Liar)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        store = HttpBlobStore(f"http://127.0.0.1:{server.server_address[1]}")
        with pytest.raises(BlobCorrupt):
            store.get(keccak_hex(b"the real bytes"))
    finally:
        server.shutdown()


def test_an_unreachable_server_is_a_blob_error() -> None:
    store = HttpBlobStore(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(BlobServerError):
        store.get(keccak_hex(b"x"))
