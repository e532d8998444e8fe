"""receive --exec's retry policy and the handler's environment (pure parts)."""

from __future__ import annotations

from sessioncli.cli._exec import MAX_ENV_VALUE, RetryPolicy, message_env


def test_backoff_doubles_up_to_the_cap_then_gives_up() -> None:
    policy = RetryPolicy(max_attempts=5, first_delay_s=1.0, max_delay_s=3.0)
    assert [policy.delay_before(n) for n in range(1, 7)] == [0.0, 1.0, 2.0, 3.0, 3.0, None]
    assert RetryPolicy(max_attempts=1).delay_before(2) is None


def test_message_env_has_the_main_fields_and_never_the_seed() -> None:
    record = {
        "hash": "h",
        "kind": "text",
        "from": "05ab",
        "from_name": None,
        "contact": "ops",
        "timestamp_ms": 12,
        "outgoing": False,
        "body": "x" * (MAX_ENV_VALUE + 1),
    }
    base = {"PATH": "/bin", "SESSIONCLI_IDENTITY": "secret", "SESSIONCLI_FROM_NAME": "stale"}
    env = message_env(record, base)
    assert env["SESSIONCLI_HASH"] == "h" and env["SESSIONCLI_TIMESTAMP_MS"] == "12"
    assert env["SESSIONCLI_CONTACT"] == "ops" and env["PATH"] == "/bin"
    assert "SESSIONCLI_IDENTITY" not in env
    assert "SESSIONCLI_FROM_NAME" not in env  # null: unset, not left from our own environment
    assert "SESSIONCLI_BODY" not in env  # too long for the environment: stdin has it
    assert "\x00" not in "".join(message_env({"body": "a\x00b"}, {}).values())
