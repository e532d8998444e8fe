"""ReceivedNotes: a page of received messages ends as note_received one by one would leave it."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from sessioncli import state
from sessioncli.core.conversations import Conversation, ConversationStore, ReceivedNotes

PEERS = ["05" + c * 64 for c in "abc"]


def _seed(store: ConversationStore) -> None:
    def change(convs: dict[str, Conversation]) -> None:
        convs[PEERS[1]] = Conversation(PEERS[1], approved_by_us=True)

    store.update(change)


@pytest.mark.parametrize("seed", range(20))
def test_batched_notes_equal_one_write_per_message(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    batch = [(rng.choice(PEERS), rng.randrange(1, 10**6), rng.random() < 0.2) for _ in range(40)]
    one_by_one = ConversationStore(tmp_path / "a")
    batched = ConversationStore(tmp_path / "b")
    for store in (one_by_one, batched):
        _seed(store)
    notes = ReceivedNotes(batched)
    for peer, ts, approval in batch:
        one_by_one.note_received(peer, ts, approval=approval)
        notes.note(peer, ts, approval=approval)
    notes.flush()
    assert batched.all() == one_by_one.all()


def test_flags_are_written_at_once_and_the_rest_once_per_flush(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[Path] = []
    real = state.atomic_write_bytes
    monkeypatch.setattr(state, "atomic_write_bytes", lambda p, v: (writes.append(p), real(p, v)))
    store = ConversationStore(tmp_path)
    notes = ReceivedNotes(store)
    notes.note(PEERS[0], 1, approval=False)  # a new peer: approved_us and pending change
    assert len(writes) == 1 and store.get(PEERS[0]).pending_request
    for ts in range(2, 1000):
        notes.note(PEERS[0], ts, approval=False)
    assert len(writes) == 1
    notes.note(PEERS[0], 1000, approval=True)  # an approval clears pending: at once
    assert len(writes) == 2 and not store.get(PEERS[0]).pending_request
    notes.flush()
    notes.flush()
    assert len(writes) == 2  # nothing was left to write
    assert store.get(PEERS[0]).last_received_ms == 1000
