"""`metainf backend bench`, and the fast paths its figures rest on.

* The indexer's event decoding (raw ``eth_getLogs`` read and decoded word by word, or
  with ``eth_abi``) gives exactly what web3's ``process_log`` gives, for every event kind
  a market emits (static and dynamic data, structs, indexed topics), on the in-process
  EVM and on a `hardhat node`.
* The bench command runs its three parts (indexing, matching, a real worker end to end)
  on a small scale and writes its JSON and markdown; the matching part checks that cached
  predictions rank every job's candidates exactly as a fresh inference does.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from eth_utils import event_abi_to_log_topic

from backend.events import EventSource, _json_safe, hex0x
from metainf_cli.backend_cmd import backend
from tests.backend.processes import SyntheticMarket


def _web3_decoded(source: EventSource, from_block: int, to_block: int) -> list[tuple]:
    """The reference: web3's own log formatting and ``process_log``."""
    clients = {c.address.lower(): c for c in source._clients.values()}
    logs = source.w3.eth.get_logs(
        {
            "address": [c.address for c in clients.values()],
            "fromBlock": from_block,
            "toBlock": to_block,
        }
    )
    out = []
    for log in logs:
        client = clients[log["address"].lower()]
        name = next(
            item["name"]
            for item in client.contract.abi
            if item.get("type") == "event"
            and bytes(event_abi_to_log_topic(item)) == bytes(log["topics"][0])
        )
        args = getattr(client.contract.events, name)().process_log(log)["args"]
        out.append(
            (
                log["blockNumber"],
                hex0x(log["blockHash"]),
                hex0x(log["transactionHash"]),
                log["logIndex"],
                client.contract_name,
                name,
                _json_safe(dict(args)),
            )
        )
    return out


@pytest.mark.parametrize("rpc", ["inprocess", pytest.param("hardhat", marks=pytest.mark.hardhat)])
def test_events_decode_exactly_as_web3_does(
    rpc: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = rpc if rpc == "inprocess" else request.getfixturevalue("hardhat_url")
    market = SyntheticMarket.create(url, tmp_path)
    first, second = market.providers
    market.post(first, 3)
    market.post(second, 5, batch_size=5)
    market.market.registry.as_(first.owner).set_metadata("metainf://renamed")  # a string
    job = market.create_job()
    market.market.jobs.as_(market.admin).assign_job(
        job, second.address, second.hardware_id, "0x" + "11" * 32, 10**12
    )
    market.create_job(seed=1, escrow_wei=10**15)
    source = EventSource(market.w3, market.market)
    head = market.w3.eth.block_number
    decoded = [
        (e.block_number, e.block_hash, e.tx_hash, e.log_index, e.contract, e.name, e.args)
        for e in source.fetch(market.deployment.block_number, head)
    ]
    assert decoded == _web3_decoded(source, market.deployment.block_number, head)
    kinds = {(contract, name) for *_, contract, name, _ in decoded}
    assert {
        ("ProviderRegistry", "ProviderRegistered"),
        ("ProviderRegistry", "MetadataChanged"),
        ("ProviderRegistry", "RoleGranted"),  # each contract's own, named after it
        ("JobMarket", "RoleGranted"),
        ("AttestationRegistry", "Attested"),
        ("AttestationRegistry", "BatchAttested"),
        ("JobMarket", "JobCreated"),
        ("JobMarket", "JobAssigned"),
    } <= kinds


@pytest.mark.slow
@pytest.mark.hardhat
def test_the_backend_bench_command_measures_all_three_parts(
    hardhat_url: str, tmp_path: Path
) -> None:
    out, md = tmp_path / "backend.json", tmp_path / "backend.md"
    args = ["bench", "--json", str(out), "--md", str(md), "--rpc", hardhat_url]
    args += ["--batched", "64", "--single", "4", "--repeats", "1"]
    args += ["--tasks", "40", "--match-jobs", "5", "--providers", "5", "--jobs", "2"]
    result = CliRunner().invoke(backend, args)
    assert result.exit_code == 0, result.output
    res = json.loads(out.read_text())
    for name, n in (("batched", 64), ("single", 4)):
        figures = res["indexing"][name]
        assert figures["attestations"] == n and figures["index_per_s"] > 0
        assert figures["verify_per_s"] > 0 and figures["together_per_s"] > 0
    matching = res["matching"]
    assert (matching["providers"], matching["methods"]) == (5, 10)
    assert matching["candidates_median"] == 50  # every provider x every method
    assert 0 < matching["p50_ms"] <= matching["p99_ms"]
    e2e = res["end_to_end"]
    assert e2e["jobs"] == 2 and 0 < e2e["delay_p50_s"] < 60
    assert set(res["goals"]) == {"index_attestations_per_s", "match_p99_ms"}
    table = md.read_text()
    assert "| index, batched (64 att. in 2 tx) |" in table and "| match p99" in table
