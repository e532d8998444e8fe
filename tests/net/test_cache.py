"""The network cache survives parallel writers (cron jobs) and damaged files."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

from sessioncli.net.cache import SWARMS, NetCache


def _writer(root: str, worker: int) -> None:
    cache = NetCache(Path(root), "devnet-test")
    for i in range(15):
        cache.merge_swarm(f"05{worker:02x}{i:062x}", {"at_ms": i, "nodes": []})
        cache.write("pool.json", {"worker": worker, "i": i, "nodes": [{"x": "y" * 500}] * 20})


def test_parallel_processes_keep_every_swarm_and_valid_json(tmp_path: Path):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), w)) for w in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    folder = tmp_path / "devnet-test"
    swarms = json.loads((folder / SWARMS).read_text())
    assert len(swarms) == 6 * 15
    assert json.loads((folder / "pool.json").read_text())["i"] == 14
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_damaged_cache_reads_as_missing(tmp_path: Path):
    cache = NetCache(tmp_path, "n")
    cache.dir.mkdir(parents=True)
    (cache.dir / "pool.json").write_bytes(b"\xff{")
    assert cache.read("pool.json") is None
