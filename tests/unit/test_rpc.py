"""RPC builders, signed strings and defensive parsers (desktop signature vectors, storage hash)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from sessioncli.errors import ProtocolError
from sessioncli.protocol import crypto, rpc, rpc_answers, rpc_reads, snode
from sessioncli.protocol.ids import Identity

DATA = Path(__file__).resolve().parent.parent / "data"
SIGS = json.loads((DATA / "session-desktop_SnodeSignatures_test.json").read_text())["entries"]
STORAGE = json.loads((DATA / "session-storage-server_unit_tests.json").read_text())["entries"]


def _secret(e):
    seed = e["inputs"].get("group_ed25519_seed_hex") or e["inputs"]["user_ed25519_seed_hex"]
    return crypto.ed25519_keypair_from_seed(bytes.fromhex(seed))[1]


@pytest.mark.parametrize("e", SIGS, ids=lambda e: e["inputs"]["signed_string"])
def test_signature_vectors(e):
    assert (
        rpc.sign_string(_secret(e), e["inputs"]["signed_string"])
        == e["expected"]["signature_b64_derived"]
    )


def test_signed_string_builders_match_vectors():
    strings = {e["inputs"]["signed_string"] for e in SIGS}
    assert rpc.retrieve_string(13, 1234) in strings
    assert rpc.retrieve_string(0, 1234) == "retrieve1234" in strings
    assert rpc.retrieve_string(2, 1234) in strings
    assert rpc.store_string(12, 1234) in strings
    assert rpc.store_string(2, 1234) in strings
    assert rpc.delete_string(["hash4321", "hash4221"]) in strings
    assert rpc.expire_string(1234, ["hash4321", "hash4221"]) in strings
    assert rpc.delete_all_string("all", 1234) in strings
    assert rpc.get_expiries_string(1234, ["hash4321", "hash4221"]) in strings


def test_build_retrieve_is_signed_and_verifies():
    ident = Identity.from_seed(bytes.fromhex("0123456789abcdef0123456789abcdef"))
    req = rpc.build_retrieve(
        ident, timestamp_ms=1700000000000, namespace=0, last_hash="h" * 43, max_count=5
    )
    p = req.params
    assert req.method == "retrieve"
    assert p["pubkey"] == ident.session_id
    assert p["pubkey_ed25519"] == ident.ed25519_public.hex()
    assert p["last_hash"] == "h" * 43 and p["max_count"] == 5
    sig = base64.b64decode(p["signature"])
    assert crypto.verify(ident.ed25519_public, b"retrieve1700000000000", sig)
    body = json.loads(req.to_json())
    assert body["method"] == "retrieve" and body["params"]["timestamp"] == 1700000000000


def test_build_store_and_batch():
    s = rpc.build_store("05" + "ab" * 32, "AAAA", ttl_ms=86400000, timestamp_ms=1, namespace=0)
    assert s.to_obj() == {
        "method": "store",
        "params": {
            "pubkey": "05" + "ab" * 32,
            "namespace": 0,
            "timestamp": 1,
            "ttl": 86400000,
            "data": "AAAA",
        },
    }
    b = rpc.build_batch([s, rpc.build_info()], sequence=True)
    assert b.method == "sequence" and len(b.params["requests"]) == 2
    with pytest.raises(ValueError):
        rpc.build_batch([])


def test_message_hash_vector():
    e = next(e for e in STORAGE if "hash" in e["expected"])
    data = base64.b64decode(e["inputs"]["data_b64"])
    assert rpc.message_hash(e["inputs"]["pubkey"], 0, data) == e["expected"]["hash"]


X = "aa" * 32
E = "bb" * 32


def test_parse_service_nodes():
    body = {
        "result": {
            "service_node_states": [
                {
                    "public_ip": "1.2.3.4",
                    "storage_port": 22021,
                    "pubkey_ed25519": E,
                    "pubkey_x25519": X,
                    "swarm_id": 7,
                },
                {
                    "public_ip": "0.0.0.0",
                    "storage_port": 1,
                    "pubkey_ed25519": E,
                    "pubkey_x25519": X,
                },
            ]
        }
    }
    (n,) = rpc_answers.parse_service_nodes(body)
    assert n == snode.Node("1.2.3.4", 22021, E, X, 7)
    assert snode.Node.from_json(n.to_json()) == n


@pytest.mark.parametrize(
    "bad",
    [
        [],
        {"result": []},
        {"result": {"service_node_states": {}}},
        {
            "service_node_states": [
                {
                    "public_ip": "1.2.3.4",
                    "storage_port": "x",
                    "pubkey_ed25519": E,
                    "pubkey_x25519": X,
                }
            ]
        },
        {
            "service_node_states": [
                {
                    "public_ip": "1.2.3.4",
                    "storage_port": 1,
                    "pubkey_ed25519": "zz",
                    "pubkey_x25519": X,
                }
            ]
        },
        {
            "service_node_states": [
                {"public_ip": "nope", "storage_port": 1, "pubkey_ed25519": E, "pubkey_x25519": X}
            ]
        },
        {
            "service_node_states": [
                {
                    "public_ip": "1.2.3.4",
                    "storage_port": True,
                    "pubkey_ed25519": E,
                    "pubkey_x25519": X,
                }
            ]
        },
    ],
)
def test_parse_service_nodes_rejects(bad):
    with pytest.raises(ProtocolError):
        rpc_answers.parse_service_nodes(bad)


def test_one_bad_entry_does_not_discard_the_list():
    good = {"public_ip": "1.2.3.4", "storage_port": 1, "pubkey_ed25519": E, "pubkey_x25519": X}
    bad = [
        {**good, "storage_port": 70000},
        {**good, "storage_port": "x"},
        {**good, "pubkey_ed25519": "zz"},
        {**good, "public_ip": ""},
        {**good, "public_ip": "0.0.0.0"},
        {**good, "public_ip": "::1"},
        "not an object",
    ]
    assert rpc_answers.parse_service_nodes({"service_node_states": [*bad, good]}) == [
        snode.Node("1.2.3.4", 1, E, X, None)
    ]
    assert rpc_answers.parse_service_nodes({"service_node_states": []}) == []
    with pytest.raises(ProtocolError):
        rpc_answers.parse_service_nodes({"service_node_states": bad})

    member = {"ip": "5.6.7.8", "port_https": 443, "pubkey_ed25519": E, "pubkey_x25519": X}
    members = [
        {**member, "port_https": 0},
        {**member, "pubkey_x25519": "00"},
        {**member, "ip": "0.0.0.0"},
        {**member, "ip": None},
        7,
    ]
    r = rpc_answers.parse_swarm({"snodes": [*members, member], "swarm": "a"})
    assert [(n.ip, n.port, n.swarm_id) for n in r.nodes] == [("5.6.7.8", 443, 10)]
    with pytest.raises(ProtocolError):
        rpc_answers.parse_swarm({"snodes": members})


def test_parse_swarm():
    body = {
        "snodes": [
            {
                "ip": "1.2.3.4",
                "port": "443",
                "port_https": 443,
                "pubkey_ed25519": E,
                "pubkey_x25519": X,
            },
            {"ip": "0.0.0.0", "port": "1", "pubkey_ed25519": E, "pubkey_x25519": X},
            {"ip": "5.6.7.8", "port": "8443", "pubkey_ed25519": E, "pubkey_x25519": X},
        ],
        "swarm": "ff01",
        "t": 123,
    }
    r = rpc_answers.parse_swarm(body)
    assert r.swarm_id == 0xFF01 and r.t == 123
    assert [(n.ip, n.port, n.swarm_id) for n in r.nodes] == [
        ("1.2.3.4", 443, 0xFF01),
        ("5.6.7.8", 8443, 0xFF01),
    ]
    for bad in ({}, {"snodes": "x"}, {"snodes": [1]}, {"snodes": [], "swarm": "xyz"}):
        with pytest.raises(ProtocolError):
            rpc_answers.parse_swarm(bad)


def test_parse_store_checks_node_signatures():
    pk, sk = crypto.ed25519_keypair_from_seed(b"\x01" * 32)
    pk2, _ = crypto.ed25519_keypair_from_seed(b"\x02" * 32)
    h = "A" * 43
    good = base64.b64encode(crypto.sign(sk, h.encode())).decode()
    body = {
        "swarm": {
            pk.hex(): {"hash": h, "signature": good, "expiry": 99},
            pk2.hex(): {"hash": h, "signature": good, "expiry": 99},
            "cc" * 32: {"failed": True, "code": 500},
        },
        "t": 5,
    }
    r = rpc_answers.parse_store(body)
    assert r.hash == h and r.t == 5
    assert r.acknowledged_by == [pk.hex()]
    with pytest.raises(ProtocolError):
        rpc_answers.parse_store({"swarm": []})


def test_parse_retrieve():
    msg = {"hash": "h", "timestamp": 1, "expiration": 2, "data": "AAAA"}
    r = rpc_reads.parse_retrieve({"messages": [msg], "more": True, "t": 9})
    assert r.messages == [rpc_reads.Message("h", 1, 2, "AAAA")] and r.more and r.t == 9
    for bad in (
        {},
        {"messages": [{"hash": "h", "timestamp": "1", "expiration": 2, "data": "AAAA"}]},
        {"messages": [{**msg, "data": "***"}]},
        {"messages": [3]},
    ):
        with pytest.raises(ProtocolError):
            rpc_reads.parse_retrieve(bad)


def test_parse_batch_and_info():
    (r,) = rpc_reads.parse_batch({"results": [{"code": 200, "body": {"t": 1}}]})
    assert r.code == 200
    with pytest.raises(ProtocolError):
        rpc_reads.parse_batch({"results": [{"code": "200"}]})
    info = rpc_reads.parse_info({"version": [2, 8, 0], "timestamp": 5, "t": 6})
    assert info.version == (2, 8, 0)
    assert rpc_answers.network_time({"t": True}) is None


_OCTET_TEXT = st.one_of(
    st.integers(0, 300).map(str),
    st.integers(0, 99).map(lambda n: f"0{n}"),  # leading zeros: refused
    st.text(alphabet="0123456789\u0661+- \n", min_size=0, max_size=4),
)


@given(st.lists(_OCTET_TEXT, min_size=1, max_size=6).map(".".join))
@example("1.2.3.4")
@example("255.255.255.255")
@example("1.2.3.\u0661")  # a digit, but not an ASCII one
@example("1.2.3.04")
@example("1.2.3.4\n")
def test_node_ip_check_agrees_with_ipaddress(text: str) -> None:
    """The node-IP check is a regex (fast: every command reads the whole pool); it takes exactly
    the canonical dotted quads ipaddress.IPv4Address takes."""
    import ipaddress

    try:
        canonical = str(ipaddress.IPv4Address(text)) == text
    except ValueError:
        canonical = False
    try:
        snode.make_node(text, 22021, "ab" * 32, "cd" * 32, None)
        taken = True
    except ProtocolError:
        taken = False
    assert taken == canonical
