"""Hostile input: forged messages in our swarm, replays, faulty nodes and a hostile seed never crash receive."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sessioncli.core.receive import Receiver
from sessioncli.protocol import crypto
from sessioncli.protocol import message as m
from sessioncli.protocol.ids import Identity
from sessioncli.protocol.proto import session_pb2 as pb
from tests.conftest import cli_env, run_cli
from tests.devnet.wire import post
from tests.hostile.fakenet import FakeNet, node, stored

DROP_LINE = re.compile(
    r"sessioncli: (\d+) message\(s\) failed verification and were dropped(?: \(([^)]*)\))?"
    r"; (\d+) duplicate\(s\) skipped"
)


def clean(res: Any) -> None:
    """No traceback, no 'internal error', every stderr line one of ours."""
    assert "Traceback" not in res.stderr, res.stderr
    assert "internal error" not in res.stderr, res.stderr


def drop_counts(stderr: str) -> tuple[int, Counter[str], int]:
    match = DROP_LINE.search(stderr)
    assert match, stderr
    reasons: Counter[str] = Counter()
    for part in (match.group(2) or "").split(", "):
        if part:
            name, count = part.rsplit(" ", 1)
            reasons[name] = int(count)
    return int(match.group(1)), reasons, int(match.group(3))


# --- forged messages built with the protocol helpers -----------------------------------------

MALLORY = Identity.from_seed(hashlib.blake2b(b"mallory", digest_size=16).digest())
DAVE = Identity.from_seed(hashlib.blake2b(b"dave", digest_size=16).digest())
CAROL = Identity.from_seed(hashlib.blake2b(b"carol", digest_size=16).digest())


def now_ms() -> int:
    return int(time.time() * 1000)


def valid(sender: Identity, to: str, body: str, ts: int | None = None) -> str:
    ts = ts or now_ms()
    return m.encode_dm(sender, to, m.build_text_content(body, ts), ts)


def bad_signature(to_x25519: bytes, ts: int) -> str:
    """Sealed to the victim, signed by Mallory's key over something else."""
    plaintext = m.pad(m.build_text_content("forged: bad signature", ts))
    sig = crypto.sign(MALLORY.ed25519_secret, b"not what was sealed")
    box = crypto.box_seal(plaintext + MALLORY.ed25519_public + sig, to_x25519)
    return base64.b64encode(m.wrap_envelope(box, ts)).decode()


def timestamp_mismatch(to_x25519: bytes, ts: int) -> str:
    """Authentic and signed, but the envelope's timestamp differs from the signed sigTimestamp."""
    box = m.sign_and_seal(MALLORY, to_x25519, m.pad(m.build_text_content("forged: ts", ts)))
    return base64.b64encode(m.wrap_envelope(box, ts + 1)).decode()


def v2_message() -> str:
    return base64.b64encode(b"\x00\x02" + hashlib.sha256(b"v2").digest() * 8).decode()


def random_bytes() -> str:
    junk = b"\x5a" + hashlib.shake_256(b"random bytes").digest(400)
    return base64.b64encode(junk).decode()


def legacy_no_websocket(to_x25519: bytes, ts: int) -> str:
    """A bare Envelope without the WebSocketMessage wrapper."""
    box = m.sign_and_seal(MALLORY, to_x25519, m.pad(m.build_text_content("bare", ts)))
    env = pb.Envelope(type=pb.Envelope.SESSION_MESSAGE, timestamp=ts, sourceDevice=1, content=box)
    return base64.b64encode(b"\x0a" + env.SerializeToString()).decode()


# --- driving the devnet directly -------------------------------------------------------------


def store(devnet: Any, session_id: str, data_b64: str, *, member: int = 0) -> str:
    """Store `data_b64` for `session_id` on its swarm (following one 421); returns the hash."""
    target = devnet.nodes_cache[0]
    for _ in range(2):
        params = {
            "pubkey": session_id,
            "namespace": 0,
            "timestamp": now_ms(),
            "ttl": 3_600_000,
            "data": data_b64,
        }
        status, raw = post(
            target, "/storage_rpc/v1", json.dumps({"method": "store", "params": params}).encode()
        )
        body = json.loads(raw)
        if status == 421:
            snodes = body["snodes"]
            s = snodes[member % len(snodes)]
            target = {"ip": s["ip"], "port": int(s["port_https"])}
            continue
        assert status == 200, (status, body)
        return str(body["hash"])
    raise AssertionError("store kept answering 421")


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.devnet_support import DevnetProcess

    folder = tmp_path_factory.mktemp("hostile-devnet")
    with DevnetProcess(folder, nodes=12, swarm_size=4, seed=f"hostile-{folder.name}") as dn:
        dn.nodes_cache = [n for n in dn.nodes() if n["kind"] == "storage"]
        yield dn


class Victim:
    def __init__(self, home: Path, name: str, network_file: Path) -> None:
        self.home = home / name
        self.home.mkdir(parents=True, exist_ok=True)
        self.identity_file = self.home / "identity"
        self.env = cli_env(
            self.home,
            SESSIONCLI_NETWORK=str(network_file),
            SESSIONCLI_IDENTITY_FILE=str(self.identity_file),
        )
        made = self.run(["keygen", "-q"])
        assert made.returncode == 0, made.stderr
        self.session_id = made.stdout.strip()
        self.identity = Identity.from_seed(bytes.fromhex(self.identity_file.read_text().strip()))
        assert self.identity.session_id == self.session_id

    def run(self, args: list[str], timeout: float = 120) -> Any:
        return run_cli(args, self.home, env=self.env, timeout=timeout)

    def receive(self) -> tuple[list[dict[str, Any]], Any]:
        res = self.run(["-v", "receive", "--json"])
        assert res.returncode == 0, res.stderr
        clean(res)
        return [json.loads(line) for line in res.stdout.splitlines()], res


@pytest.fixture
def victim(devnet: Any, private_dirs: Path) -> Victim:
    return Victim(private_dirs, "victim", devnet.network_file)


# --- tests -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_forged_messages_are_dropped_counted_and_never_printed(devnet: Any, victim: Victim) -> None:
    sender = Victim(victim.home.parent, "sender", devnet.network_file)
    x = victim.identity.x25519_public
    ts = now_ms()
    assert sender.run(["send", victim.session_id, "valid before"]).returncode == 0
    replayed = valid(DAVE, victim.session_id, "valid, stored twice")
    forged = {
        "bad_signature": bad_signature(x, ts),
        "sealed_box_failed": valid(MALLORY, CAROL.session_id, "sealed to carol"),
        "timestamp_mismatch": timestamp_mismatch(x, ts),
        "v2_unsupported": v2_message(),
        "random": random_bytes(),
        "bare_envelope": legacy_no_websocket(x, ts),
    }
    first = store(devnet, victim.session_id, replayed, member=0)
    for data in forged.values():
        store(devnet, victim.session_id, data)
    second = store(devnet, victim.session_id, replayed, member=1)  # the same data again
    assert first == second
    assert sender.run(["send", victim.session_id, "valid after"]).returncode == 0

    expected: Counter[str] = Counter()
    for data in forged.values():
        with pytest.raises(m.MessageDecodeError) as why:
            m.decode_dm(victim.identity, data)
        expected[why.value.reason] += 1
    assert {"bad_signature", "sealed_box_failed", "timestamp_mismatch", "v2_unsupported"} <= set(
        expected
    )

    got, res = victim.receive()
    bodies = [g["body"] for g in got]
    assert sorted(bodies) == sorted(["valid before", "valid, stored twice", "valid after"])
    assert not any(
        "forged" in line or "sealed to carol" in line for line in res.stdout.splitlines()
    )
    dropped, reasons, _dups = drop_counts(res.stderr)
    assert dropped == len(forged)
    assert reasons == expected
    for line in res.stderr.splitlines():
        assert line.startswith("sessioncli: ") or line.startswith("  "), line

    again, res2 = victim.receive()
    assert again == [] and res2.stdout == ""

    # The same messages served by swarm members with no cursor (as a member new to the swarm
    # answers): all skipped as seen. (receive polls every member, each from its own cursor.)
    state = next(victim.home.rglob("receive.json"))
    saved = json.loads(state.read_text())
    served_by = set(saved["cursors"])
    assert served_by
    state.write_text(json.dumps({**saved, "cursors": {}}))
    third, res3 = victim.receive()
    assert third == [] and res3.stdout == ""
    dropped3, _, dups3 = drop_counts(res3.stderr)
    assert dropped3 == 0
    # everything every member returns was seen before
    assert dups3 == len(served_by) * (len(forged) + 3)


@pytest.mark.slow
@pytest.mark.parametrize(
    "damage",
    [
        {"receive.json": "[" * 100_000},
        {"seen.journal": "h\t" + "9" * 5000 + "\n\x00\xff"},
        {"receive.json": '{"cursors": {"x": 1e999}, "seen": []}', "seen.journal": "\t\t\n"},
        {"conversations.json": '{"peers": []}'},
        {"receive.json": "", "seen.journal": "", "conversations.json": ""},
    ],
    ids=["deep", "journal", "wrong-types", "peers-list", "empty"],
)
def test_damaged_state_never_crashes_receive(
    devnet: Any, victim: Victim, damage: dict[str, str]
) -> None:
    """Damaged state files: receive exits 0 and shows nothing new or starts over, never twice."""
    for i in range(2):
        store(devnet, victim.session_id, valid(DAVE, victim.session_id, f"before {i}"))
    first, _ = victim.receive()
    assert [g["body"] for g in first] == ["before 0", "before 1"]
    folder = next(victim.home.rglob("receive.json")).parent
    for name, text in damage.items():
        (folder / name).write_bytes(text.encode("utf-8", "surrogateescape"))
    store(devnet, victim.session_id, valid(DAVE, victim.session_id, "after"))
    again, _ = victim.receive()
    bodies = [g["body"] for g in again]
    assert "after" in bodies and len(bodies) == len(set(bodies))
    assert set(bodies) <= {"before 0", "before 1", "after"}
    third, _ = victim.receive()
    assert third == []


def test_malformed_base64_and_replays_from_two_nodes_in_receiver(private_dirs: Path) -> None:
    """What a hostile node can return but a storage server never stores: non-canonical base64."""
    bob = Identity.from_seed(hashlib.blake2b(b"bob", digest_size=16).digest())
    good = [
        stored(f"good{i}", valid(DAVE, bob.session_id, f"ok {i}", now_ms() + i)) for i in range(3)
    ]
    hostile = [
        stored("b64-1", "!!!!"),
        stored("b64-2", "QUJD\nREVG"),
        stored("b64-3", "QUJDRA"),  # missing padding
        stored("b64-4", "QUJDRA==QUJD"),  # data after padding
        stored("b64-5", "é"),
        stored("ts", timestamp_mismatch(bob.x25519_public, now_ms())),
        stored("v2", v2_message()),
    ]
    messages = [good[0], *hostile[:4], good[1], *hostile[4:], good[2]]
    net = FakeNet(messages=messages, nodes=[node(1), node(2), node(3)], page=4)
    shown: list[str] = []
    receiver = Receiver(bob, net, private_dirs / "state")  # type: ignore[arg-type]
    try:
        for _ in range(4):  # each poll is served by the next node, which has no cursor yet
            receiver.poll(lambda r: shown.append(r.message.body or ""))
    finally:
        receiver.close()
    assert shown == ["ok 0", "ok 1", "ok 2"]
    assert receiver.stats.dropped == len(hostile)
    assert receiver.stats.drop_reasons == {
        "bad_base64": 5,
        "timestamp_mismatch": 1,
        "v2_unsupported": 1,
    }
    assert receiver.stats.duplicates >= len(messages)  # nodes 2 and 3 returned everything again


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["garbage", "oversize", "truncate"])
def test_faulty_nodes_fail_cleanly(devnet: Any, victim: Victim, fault: str) -> None:
    """Every node answering junk: receive exits 69/75 with one error line, in bounded time."""
    assert victim.run(["nodes", "--refresh"]).returncode == 0  # warm the pool first
    ids = [n["id"] for n in devnet.nodes_cache]
    for node_id in ids:
        devnet.ctl("fault", node_id, fault)
    try:
        start = time.monotonic()
        res = victim.run(["-v", "receive", "--timeout", "8"], timeout=90)
        elapsed = time.monotonic() - start
    finally:
        for node_id in ids:
            devnet.ctl("fault", node_id, "none")
    clean(res)
    assert res.returncode in (69, 75), res.stderr
    assert res.stdout == ""
    assert "sessioncli: error:" in res.stderr
    assert elapsed < 60
    ok, _ = victim.receive()  # and the client recovers once the nodes behave
    assert ok == []


# --- a hostile seed of our own ---------------------------------------------------------------


class HostileSeed:
    """A loopback HTTPS 'seed' that answers every request with `mode`'s pathological body."""

    def __init__(self, folder: Path) -> None:
        from sessioncli.devnet import tls

        cert, key = tls.ensure_certificate(folder, "hostile-seed", "127.0.0.1")
        self.cert_pem = cert.read_text()
        self.mode = "deep"
        self.stop = threading.Event()
        seed = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if seed.mode == "hang":
                    seed.stop.wait(30)
                    return
                if seed.mode == "oversize":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(40 * 1024 * 1024))
                    self.end_headers()
                    chunk = b"[" * 65536
                    try:
                        for _ in range(40 * 16):
                            self.wfile.write(chunk)
                    except OSError:
                        pass
                    return
                body = BODIES[seed.mode]
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = tls.server_context(cert, key).wrap_socket(
            self.server.socket, server_side=True
        )
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.network_file = folder / "hostile-network.json"
        self.network_file.write_text(
            json.dumps(
                {
                    "name": "hostile",
                    "seeds": [{"url": f"https://127.0.0.1:{self.port}", "cert_pem": self.cert_pem}],
                }
            )
        )

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


NODE = {
    "public_ip": "127.0.0.1",
    "storage_port": 1,
    "pubkey_ed25519": "aa" * 32,
    "pubkey_x25519": "bb" * 32,
}
BODIES = {
    "deep": b"[" * 200_000 + b"]" * 200_000,
    "deep-inside": b'{"result":{"service_node_states":' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
    "huge-number": b'{"result":{"service_node_states":[' + b"9" * 100_000 + b"]}}",
    "bad-port": json.dumps(
        {"result": {"service_node_states": [dict(NODE, storage_port="²")]}}
    ).encode(),
    "garbage": os.urandom(4096),
    "wrong-types": json.dumps({"result": {"service_node_states": {"a": 1}}}).encode(),
}


@pytest.fixture(scope="module")
def hostile_seed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileSeed]:
    seed = HostileSeed(tmp_path_factory.mktemp("hostile-seed"))
    yield seed
    seed.close()


@pytest.mark.slow
@pytest.mark.parametrize("mode", [*BODIES, "oversize", "hang"])
def test_hostile_seed_answers_are_refused(
    hostile_seed: HostileSeed, private_dirs: Path, mode: str
) -> None:
    """A seed answering with nesting, huge numbers, 40 MB or silence: an error, never a crash or hang."""
    hostile_seed.mode = mode
    env = cli_env(private_dirs, SESSIONCLI_NETWORK=str(hostile_seed.network_file))
    start = time.monotonic()
    res = run_cli(["-v", "nodes", "--refresh", "--timeout", "4"], private_dirs, env=env, timeout=60)
    elapsed = time.monotonic() - start
    clean(res)
    assert res.returncode in (1, 69, 75), res.stderr
    assert res.stdout == ""
    assert res.stderr.startswith("sessioncli: error:"), res.stderr
    assert f"127.0.0.1:{hostile_seed.port}" in res.stderr
    if mode == "oversize":
        assert "larger than" in res.stderr
    assert elapsed < 30
