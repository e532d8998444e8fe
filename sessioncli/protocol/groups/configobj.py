"""A group config object (Info or Members): edit, push, confirm, merge what the swarm holds (ConfigBase)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sessioncli.protocol import crypto
from sessioncli.protocol.groups import bencode
from sessioncli.protocol.groups.bencode import BencodeError
from sessioncli.protocol.groups.configdata import ConfigDict, ConfigParseError
from sessioncli.protocol.groups.configmsg import (
    ConfigMessage,
    Signer,
    empty_message,
    merge,
    parse_message,
)
from sessioncli.protocol.groups.configpush import (
    ConfigDecryptError,
    MultipartCollector,
    build_push,
    open_push,
)


@dataclass(frozen=True)
class Push:
    """What to store: `data` at `seqno`; `obsolete` are hashes of messages it supersedes."""

    seqno: int
    data: bytes
    obsolete: list[str]


@dataclass
class GroupConfig:
    """One config of one group. Admins (with `group_sk`) edit and push; members only read."""

    domain: str
    group_pk: bytes
    group_sk: bytes | None = field(default=None, repr=False)
    message: ConfigMessage = field(default_factory=empty_message)
    dirty: bool = False
    current_hashes: list[str] = field(default_factory=list)
    old_hashes: set[str] = field(default_factory=set)
    multipart: MultipartCollector = field(default_factory=MultipartCollector, repr=False)

    @property
    def data(self) -> ConfigDict:
        return self.message.data

    def _signer(self) -> Signer | None:
        sk = self.group_sk
        if sk is None:
            return None
        return lambda b: crypto.sign(sk, b)

    def edit(self) -> ConfigDict:
        """The data to change in place; the first edit after a push starts the next seqno."""
        if self.group_sk is None:
            raise ConfigParseError("only a group admin can change the group's config")
        if not self.dirty:
            self.old_hashes.update(self.current_hashes)
            self.current_hashes = []
            self.message = self.message.increment(self._signer())
            self.dirty = True
        return self.message.data

    def push(self, enc_key: bytes, *, compress: bool = True) -> Push:
        """Sign, compress, pad and encrypt the current message (admins only)."""
        sign = self._signer()
        if sign is None:
            raise ConfigParseError("only a group admin can push the group's config")
        data = build_push(self.message.serialize(sign), enc_key, self.domain, compress=compress)
        obsolete = sorted(self.old_hashes)
        self.old_hashes.clear()
        return Push(self.message.seqno, data, obsolete)

    def confirm_pushed(self, seqno: int, msg_hash: str) -> None:
        """The swarm stored our push under `msg_hash`: the message is clean again."""
        if seqno == self.message.seqno:
            self.dirty = False
            self.current_hashes = [msg_hash]
            self.message = parse_message(self.message.serialize(self._signer()))

    def merge(self, stored: Sequence[tuple[str, bytes]], keys: Sequence[bytes]) -> list[str]:
        """Fold in config messages read from the swarm ((hash, data) pairs); returns the good hashes.

        Unsigned or wrongly signed messages, and ones no key decrypts, are dropped. A merge of
        several heads leaves us dirty: an admin must push the result (ConfigBase::_merge).
        """
        candidates: list[tuple[list[str], bytes]] = []
        if self.message.seqno != 0 or self.dirty:
            candidates.append((list(self.current_hashes), self.message.serialize(self._signer())))
        good: list[str] = []
        for msg_hash, data in stored:
            try:
                opened = open_push(data, keys, self.domain)
                if opened.part is not None:
                    good.append(msg_hash)
                    done = self.multipart.add(opened.part, msg_hash)
                    if done is not None:
                        candidates.append((done[1], done[0]))
                    continue
                assert opened.config is not None
            except ConfigDecryptError:
                continue
            good.append(msg_hash)
            candidates.append(([msg_hash], opened.config))
        mine = 1 if self.message.seqno != 0 or self.dirty else 0
        if len(candidates) == mine:
            return good
        bad: set[int] = set()
        try:
            result = merge(
                [c for _, c in candidates],
                verify_key=self.group_pk,
                can_sign=self.group_sk is not None,
                lag=self.message.lag,
                on_error=lambda i, _exc: bad.add(i),
            )
        except ConfigParseError:  # nothing parsed (or verified): keep what we had
            bad_hashes = {h for hashes, _raw in candidates for h in hashes}
            return [h for h in good if h not in bad_hashes]
        for i, (hashes, _) in enumerate(candidates):
            if i != result.used and i not in bad:
                self.old_hashes.update(h for h in hashes if h)
        bad_hashes = {h for i in bad for h in candidates[i][0]}
        if result.merged:
            self.message = result.message.editable()
            self.dirty = True
            self.current_hashes = []
        elif result.used is not None and result.used >= mine:
            self.message = result.message
            self.dirty = False
            self.current_hashes = candidates[result.used][0]
            self.old_hashes.difference_update(self.current_hashes)
        return [h for h in good if h not in bad_hashes]

    # --- local state (a secret: it is only stored encrypted) ------------------------------

    def dump(self) -> bytes:
        return bencode.encode(
            {
                b"!": 1 if self.dirty else 0,
                b"$": self.message.serialize(),  # unsigned while dirty, as libsession dumps
                b"(": [h.encode() for h in self.current_hashes],
                b")": [h.encode() for h in sorted(self.old_hashes)],
            }
        )

    @classmethod
    def load(
        cls, dump: bytes, *, domain: str, group_pk: bytes, group_sk: bytes | None
    ) -> GroupConfig:
        try:
            state = bencode.decode(dump)
        except BencodeError as exc:
            raise ConfigParseError("invalid config dump") from exc
        if not isinstance(state, dict) or not isinstance(state.get(b"$"), bytes):
            raise ConfigParseError("invalid config dump")
        raw = state[b"$"]
        assert isinstance(raw, bytes)
        message = parse_message(raw)
        obj = cls(domain, group_pk, group_sk, message)
        if state.get(b"!") == 1:
            # as libsession: a dirty dump reloads as the next seqno, spending one, so that the
            # unpushed changes stay in the lagged diffs where a merge can see them
            obj.message = message.increment()
            obj.dirty = True
        obj.current_hashes = [h.decode() for h in _blist(state.get(b"("))]
        obj.old_hashes = {h.decode() for h in _blist(state.get(b")"))}
        return obj


def _blist(value: object) -> list[bytes]:
    return [v for v in value if isinstance(v, bytes)] if isinstance(value, list) else []
