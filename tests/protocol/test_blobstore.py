from __future__ import annotations

import pytest

from protocol.blobstore import BlobCorrupt, BlobNotFound, LocalBlobStore
from protocol.canonical import content_id


def test_put_get_roundtrip_and_layout(tmp_path):
    store = LocalBlobStore(tmp_path)
    h = store.put(b"hello")
    assert h == "0x1c8aff950685c2ed4bc3174f3472287b56d9517b9c948127319a09a7a36deac8"
    assert store.get(h) == b"hello" and store.has(h)
    assert store.path(h).relative_to(tmp_path).parts[:2] == (h[2:4], h[4:6])
    assert store.put(b"hello") == h  # idempotent


def test_json_blobs_are_content_ids(tmp_path):
    store = LocalBlobStore(tmp_path)
    doc = {"b": [1, 2.5], "a": "x"}
    assert store.put_json(doc) == content_id(doc)
    assert store.get_json(content_id(doc)) == doc


def test_get_verifies_hash(tmp_path):
    store = LocalBlobStore(tmp_path)
    h = store.put(b"original")
    store.path(h).write_bytes(b"tampered")
    with pytest.raises(BlobCorrupt):
        store.get(h)
    with pytest.raises(BlobNotFound):
        store.get("0x" + "00" * 32)
    with pytest.raises(ValueError):
        store.get("abc")
