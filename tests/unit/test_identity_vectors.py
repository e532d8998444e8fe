"""Recovery-phrase and Session-ID vectors against protocol/mnemonic.py and protocol/ids.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sessioncli.protocol import mnemonic
from sessioncli.protocol.ids import Identity, parse_session_id

DATA = Path(__file__).resolve().parent.parent / "data"


def entries(name: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = json.loads((DATA / name).read_text("utf-8"))["entries"]
    return result


MNEMONICS = entries("libsession-util_test_mnemonics.json")
DERIVED = entries("derived_end_to_end.json")
ENCRYPT = entries("libsession-util_test_session_encrypt.json")


def with_phrase(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in items if "phrase" in e["expected"] and "seed_hex" in e["inputs"]]


@pytest.mark.parametrize(
    "entry", with_phrase(MNEMONICS), ids=lambda e: e["inputs"]["seed_hex"][:12]
)
def test_encode(entry: dict[str, Any]) -> None:
    seed = bytes.fromhex(entry["inputs"]["seed_hex"])
    expected = entry["expected"]["phrase"]
    if entry["inputs"]["checksum"]:
        assert mnemonic.encode(seed) == expected
        assert mnemonic.decode(expected) == seed
        idx = entry["expected"].get("checksum_word_index_in_seed_words")
        if idx is not None:
            words = expected.split()
            assert words[-1] == words[idx]
    else:
        assert " ".join(mnemonic.encode_words(seed)) == expected
        assert mnemonic.decode_words(expected.split()) == seed


def test_prefix_and_case_insensitive_decoding() -> None:
    (entry,) = [e for e in MNEMONICS if "prefix" in e["description"]]
    for phrase in entry["inputs"]["phrases"]:
        assert mnemonic.decode(phrase).hex() == entry["expected"]["seed_hex"]
        assert mnemonic.decode(phrase.upper()).hex() == entry["expected"]["seed_hex"]


@pytest.mark.parametrize(
    "entry",
    [e for e in MNEMONICS if "error" in e["expected"] and "phrases" in e["inputs"]],
    ids=lambda e: e["expected"]["error"],
)
def test_rejected_phrases(entry: dict[str, Any]) -> None:
    for phrase in entry["inputs"]["phrases"]:
        with pytest.raises(mnemonic.MnemonicError) as err:
            mnemonic.decode(phrase)
        if entry["expected"]["error"] == "checksum_error":
            assert "checksum" in str(err.value)
        else:
            assert "unknown word" in str(err.value)


def test_overflowing_triplet() -> None:
    (entry,) = [e for e in MNEMONICS if "Overflowing" in e["description"]]
    with pytest.raises(mnemonic.MnemonicError):
        mnemonic.decode_words(entry["inputs"]["words"])


def test_word_indices() -> None:
    (entry,) = [e for e in MNEMONICS if "word_indices" in e["expected"]]
    words = mnemonic.encode_words(bytes.fromhex(entry["inputs"]["seed_hex"]))
    assert words == entry["expected"]["words"]
    assert [mnemonic.wordlist().index(w) for w in words] == entry["expected"]["word_indices"]


@pytest.mark.parametrize(
    "entry", [e for e in DERIVED if "mnemonic" in e["inputs"]], ids=["sender", "recipient"]
)
def test_phrase_to_session_id(entry: dict[str, Any]) -> None:
    exp = entry["expected"]
    seed = mnemonic.decode(entry["inputs"]["mnemonic"])
    assert seed.hex() == exp["seed16_hex"]
    assert mnemonic.encode(seed) == entry["inputs"]["mnemonic"]
    ident = Identity.from_seed(seed)
    assert ident.ed25519_seed.hex() == exp["ed25519_seed_hex"]
    if "ed25519_pubkey_hex" in exp:
        assert ident.ed25519_public.hex() == exp["ed25519_pubkey_hex"]
    assert ident.session_id == exp["session_id"]
    assert parse_session_id(exp["session_id"].upper()) == exp["session_id"]


def test_session_ids_in_encrypt_vectors_parse() -> None:
    ids = {e["expected"]["session_id"] for e in ENCRYPT if "session_id" in e["expected"]}
    ids |= {
        e["inputs"]["recipient_session_id"]
        for e in ENCRYPT
        if "recipient_session_id" in e["inputs"]
    }
    assert len(ids) == 2
    for sid in ids:
        assert parse_session_id(sid) == sid
