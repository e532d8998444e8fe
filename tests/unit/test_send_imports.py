"""A one-to-one send does not import the protobuf runtime or the decoding modules (start-up time).

The send runs in a fresh interpreter (core.send.send_messages against a stand-in network that
keeps what it is asked to store), so sys.modules shows what a `sessioncli send` loads for the
messages themselves: text, approval, sync copy, and the Contents of a quoted expiring reply and
of a file with an avatar. The stored data is then decoded here, to show each is a message.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sessioncli.protocol import message as m
from sessioncli.protocol.ids import Identity

ROOT = Path(__file__).resolve().parents[2]
ALICE = Identity.from_seed(bytes(range(16)))
BOB = Identity.from_seed(bytes(range(1, 17)))
NOT_ON_A_SEND = (
    "google.protobuf",
    "sessioncli.protocol.proto.session_pb2",
    "sessioncli.protocol.message_decode",
    "sessioncli.protocol.message_models",
)

SEND = """
import json, sys
from pathlib import Path
from sessioncli.core.conversations import Conversation, ConversationStore
from sessioncli.core.send import Recipient, send_messages
from sessioncli.net.results import StoreOutcome
from sessioncli.protocol import attachment_message, message_build
from sessioncli.protocol.ids import Identity

alice, bob = Identity.from_seed(bytes(range(16))), Identity.from_seed(bytes(range(1, 17)))
folder = Path(sys.argv[1])
# bob wrote first: our reply approves his request (a MessageRequestResponse goes before it)
ConversationStore(folder).update(
    lambda convs: convs.update({bob.session_id: Conversation(bob.session_id, pending_request=True)})
)
stored = []

class Net:
    max_in_flight = 4
    timeout = 10.0

    def now_ms(self, *, timeout=None):
        return 1_800_000_000_000 + len(stored)

    def store(self, session_id, data_b64, *, ttl_ms, timestamp_ms, reencode=None, timeout=None):
        stored.append([session_id, data_b64])
        return StoreOutcome(f"h{len(stored)}", ["n"], timestamp_ms + ttl_ms, timestamp_ms)

results = send_messages(
    alice, Net(), [Recipient(bob.session_id)], "hello", ttl_ms=3_600_000,
    display_name="Alice", state_folder=folder,
)
assert [r.ok for r in results] == [True], results
# a reply that disappears: the text Content through attachment_message, as core.outgoing builds it
quote = message_build.QuotedMessage(1_799_999_999_999, bob.session_id, "question")
expiring = message_build.Expiration("delete_after_send", 3600)
content = attachment_message.build_content(
    "answer", 1_800_000_000_009, quote=quote, expiration=expiring, display_name="Alice"
)
from sessioncli.protocol import message
stored.append([bob.session_id, message.encode_dm(alice, bob.session_id, content, 1_800_000_000_009)])
# a file, and the avatar every send carries once config.toml names one
pointer = attachment_message.Pointer("http://fs/file/9", bytes(64), 5, bytes(32), "text/plain", "a.txt")
picture = attachment_message.ProfilePicture("http://fs/file/8", bytes(32), 1_700_000_000)
content = attachment_message.build_content(
    "", 1_800_000_000_010, attachments=[pointer], profile=picture, display_name="Alice"
)
stored.append([bob.session_id, message.encode_dm(alice, bob.session_id, content, 1_800_000_000_010)])
print(json.dumps({"modules": sorted(sys.modules), "stored": stored}))
"""


def test_a_dm_send_imports_no_protobuf_and_its_messages_decode(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", SEND, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout)
    loaded = [
        name
        for name in seen["modules"]
        if any(name == bad or name.startswith(bad + ".") for bad in NOT_ON_A_SEND)
    ]
    assert loaded == []
    to = [sid for sid, _ in seen["stored"]]
    assert to == [BOB.session_id, BOB.session_id, ALICE.session_id] + [BOB.session_id] * 2
    approval, text, sync_copy, reply, files = (
        m.decode_dm(BOB if sid == BOB.session_id else ALICE, data) for sid, data in seen["stored"]
    )
    assert (approval.kind, approval.approved, approval.display_name) == (
        "message_request_response",
        True,
        "Alice",
    )
    assert (text.kind, text.body, text.display_name, text.sync_target) == (
        "text",
        "hello",
        "Alice",
        None,
    )
    assert (sync_copy.body, sync_copy.sync_target, sync_copy.timestamp_ms) == (
        "hello",
        BOB.session_id,
        text.timestamp_ms,
    )
    assert reply.quote == m.Quote(1_799_999_999_999, BOB.session_id, "question")
    assert (reply.body, reply.expiration_type, reply.expiration_timer_s) == (
        "answer",
        "delete_after_send",
        3600,
    )
    assert (files.body, files.profile_picture, files.display_name) == (
        None,
        "http://fs/file/8",
        "Alice",
    )
    assert [(a.url, a.file_name, a.size) for a in files.attachments] == [
        ("http://fs/file/9", "a.txt", 5)
    ]


def test_the_facade_still_offers_every_name() -> None:
    """message.py loads its decoding names on first use; all of them are still there."""
    code = (
        "import sys\n"
        "from sessioncli.protocol import message\n"
        "before = 'sessioncli.protocol.message_decode' in sys.modules\n"
        "listed = set(message.__all__) <= set(dir(message))\n"
        "values = [getattr(message, name) for name in message.__all__]\n"
        "from sessioncli.protocol.message import DecodedMessage, decode_dm\n"
        "print(before, listed, 'sessioncli.protocol.message_decode' in sys.modules, len(values))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.split() == ["False", "True", "True", str(len(m.__all__))]
    assert m.decode_dm.__module__ == "sessioncli.protocol.message_decode"
    assert m.MessageTooLarge.__module__ == "sessioncli.protocol.message"
    try:
        m.no_such_name  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("an unknown name must raise AttributeError")
