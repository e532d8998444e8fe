"""Users for the core/groups tests: each with its own config/state folders over one FakeSwarm."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sessioncli.core import groups
from sessioncli.core.groups import GroupContext
from sessioncli.protocol import message
from sessioncli.protocol.ids import Identity
from tests.unit.groups_fakeswarm import FakeSwarm

T = TypeVar("T")


class User:
    def __init__(self, name: str, root: Path, swarm: FakeSwarm) -> None:
        self.name = name
        self.identity = Identity.from_seed(name.encode().ljust(16, b"."))
        self.home = root / name
        self.ctx = GroupContext(
            self.identity, swarm, self.home / "state" / "net" / self.identity.session_id, name
        )

    def __call__(self, fn: Callable[..., T], *args: object, **kw: object) -> T:
        """Run fn(ctx, ...) with this user's config/state folders."""
        saved = {k: os.environ.get(k) for k in ("SESSIONCLI_CONFIG_DIR", "SESSIONCLI_STATE_DIR")}
        os.environ["SESSIONCLI_CONFIG_DIR"] = str(self.home / "config")
        os.environ["SESSIONCLI_STATE_DIR"] = str(self.home / "state")
        try:
            return fn(self.ctx, *args, **kw)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def make_world(tmp_path: Path) -> tuple[FakeSwarm, User, User, User]:
    swarm = FakeSwarm()
    return (
        swarm,
        User("alice", tmp_path, swarm),
        User("bob", tmp_path, swarm),
        User("carol", tmp_path, swarm),
    )


def take_invite(user: User, swarm: FakeSwarm) -> groups.GroupView:
    data = swarm.inbox[user.identity.session_id].pop(0)
    dm = message.decode_dm(user.identity, data)
    invite = groups.control_of(dm.raw_content)
    assert invite is not None and invite.kind == "invite"
    return user(groups.record_invite, invite, dm.sender, dm.timestamp_ms)
