"""Loads tests/data/libsession-util_groups_v2.json (the groups-v2 vectors) for the test_groups_* files."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

PATH = Path(__file__).resolve().parents[1] / "data" / "libsession-util_groups_v2.json"


@cache
def entries() -> list[dict[str, Any]]:
    data = json.loads(PATH.read_text("utf-8"))
    assert data["count"] == len(data["entries"]) == 26
    return list(data["entries"])


def entry(file_path: str, description_start: str) -> dict[str, Any]:
    """The one entry from `file_path` whose description starts with `description_start`."""
    found = [
        e
        for e in entries()
        if e["file_path"] == file_path and e["description"].startswith(description_start)
    ]
    assert len(found) == 1, (file_path, description_start, len(found))
    return found[0]


def hx(value: str) -> bytes:
    return bytes.fromhex(value)
