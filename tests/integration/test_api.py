"""The Python API against a devnet: send, receive (with its commit rule), errors with exit codes."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture
def as_user(monkeypatch: pytest.MonkeyPatch):
    """Point this process's environment at one test user, as the CLI would see it."""

    def use(user) -> None:
        for key in (
            "SESSIONCLI_CONFIG_DIR",
            "SESSIONCLI_STATE_DIR",
            "SESSIONCLI_CACHE_DIR",
            "SESSIONCLI_NETWORK",
            "SESSIONCLI_IDENTITY_FILE",
        ):
            monkeypatch.setenv(key, user.env[key])

    return use


def test_send_and_receive_through_the_api(users, as_user) -> None:
    from sessioncli.api import Client

    alice, bob = users("alice"), users("bob")
    as_user(alice)
    with Client() as client:
        assert client.session_id == alice.session_id
        results = client.send([bob.session_id], "from the API", ttl="1h")
        again = client.send(bob.session_id, "second, same warm client")
    assert [r.ok for r in results + again] == [True, True]
    assert results[0].data["source"] == "dm" and len(results[0].data["hash"]) == 43
    as_user(bob)
    with Client() as client:
        got = list(client.receive())
        assert [m["body"] for m in got] == ["from the API", "second, same warm client"]
        assert list(client.receive()) == []  # each was marked received when the loop moved on


def test_leaving_the_loop_early_keeps_the_last_message(users, as_user) -> None:
    from sessioncli.api import Client

    alice, bob = users("alice"), users("bob")
    as_user(alice)
    with Client() as client:
        for i in range(3):
            assert client.send(bob.session_id, f"m{i}")[0].ok
    as_user(bob)
    with Client() as client:
        first = []
        for message in client.receive():
            first.append(message["body"])
            break  # the consumer died while handling it: it must come back
        rest = [m["body"] for m in client.receive()]
    assert len(first) == 1
    assert first[0] in rest and len(rest) == 3


def test_errors_carry_exit_codes(users, as_user) -> None:
    from sessioncli.api import Client, UsageError

    alice = users("alice")
    as_user(alice)
    with Client() as client:
        with pytest.raises(UsageError) as info:
            client.send("nobody-we-know", "x")
        assert info.value.exit_code == 2
        with pytest.raises(UsageError):
            client.send(alice.session_id, "   ")


def test_status_reports_pool_paths_and_clock(users, as_user) -> None:
    from sessioncli.api import Client

    as_user(users("alice"))
    with Client() as client:
        status = client.status()
    assert status["pool_size"] >= 10
    assert len(status["paths"]) == 2 and all(len(p) == 3 for p in status["paths"])
    assert isinstance(status["clock_offset_ms"], int)
