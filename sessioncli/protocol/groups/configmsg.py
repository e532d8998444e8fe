"""One libsession config message (seqno, data, lagged diffs, diff, signature) and the merge of several."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from sessioncli.protocol import crypto
from sessioncli.protocol.groups import bencode
from sessioncli.protocol.groups.bencode import BencodeError, BtValue
from sessioncli.protocol.groups.configdata import (
    ConfigDict,
    ConfigParseError,
    Diff,
    apply_diff,
    data_to_bt,
    deep_copy,
    diff,
    parse_data,
    parse_diff,
    prune,
)

DEFAULT_LAG: Final = 5
Signer = Callable[[bytes], bytes]
SeqnoHash = tuple[int, bytes]


class ConfigSignatureError(ConfigParseError):
    """A config message is unsigned, or its signature does not verify, where one is required."""


@dataclass
class ConfigMessage:
    """A config message. `base` is set while it is being edited: its diff is then base -> data.

    Parsed and merged messages carry the diff they were given (`given_diff`); editing one starts
    from `editable()` or `increment()`, as libsession's MutableConfigMessage does.
    """

    seqno: int
    data: ConfigDict = field(default_factory=dict)
    lagged: dict[SeqnoHash, Diff] = field(default_factory=dict)
    given_diff: Diff = field(default_factory=dict)
    unknown: dict[bytes, BtValue] = field(default_factory=dict)
    signature: bytes | None = None  # a verified signature of the unchanged parsed message
    base: ConfigDict | None = None
    lag: int = DEFAULT_LAG
    raw_hash: bytes | None = None  # hash of the exact bytes this message was parsed from

    def current_diff(self) -> Diff:
        if self.base is None:
            return self.given_diff
        prune(self.data)
        return diff(self.base, self.data) or {}

    def serialize(self, sign: Signer | None = None) -> bytes:
        """The message's bytes; signed with `sign`, or carrying its parsed signature if unedited."""
        lags: list[BtValue] = [
            [s, h, d]
            for (s, h), d in sorted(self.lagged.items())
            if self.seqno - self.lag < s < self.seqno
        ]
        body: dict[bytes, BtValue] = dict(self.unknown)
        body[b"#"] = self.seqno
        body[b"&"] = data_to_bt(self.data)
        body[b"<"] = lags
        body[b"="] = self.current_diff()
        unsigned = bencode.encode(body)
        if self.base is None and self.signature is not None:
            return bencode.append_signature(unsigned, self.signature)
        if sign is None:
            return unsigned
        signature = sign(bencode.signing_bytes(unsigned))
        if len(signature) != 64:
            raise ValueError("signer did not return 64 bytes")
        return bencode.append_signature(unsigned, signature)

    def hash(self, sign: Signer | None = None) -> bytes:
        if self.base is None and self.raw_hash is not None:
            return self.raw_hash
        return message_hash(self.serialize(sign))

    def seqno_hash(self, sign: Signer | None = None) -> SeqnoHash:
        return (self.seqno, self.hash(sign))

    def increment(self, sign: Signer | None = None) -> ConfigMessage:
        """The next message (seqno + 1) to edit: this one's diff joins the lagged diffs."""
        lagged = {
            sh: d for sh, d in self.lagged.items() if self.seqno - self.lag < sh[0] < self.seqno
        }
        lagged[self.seqno_hash(sign)] = self.current_diff()
        return ConfigMessage(
            seqno=self.seqno + 1,
            data=deep_copy(self.data),
            lagged=lagged,
            unknown=dict(self.unknown),
            base=deep_copy(self.data),
            lag=self.lag,
        )

    def editable(self) -> ConfigMessage:
        """This message (same seqno) in edit mode: a merged message's changes go into its diff."""
        self.signature = None
        self.raw_hash = None
        if self.base is None:
            self.base = deep_copy(self.data)
        return self


def message_hash(serialized: bytes) -> bytes:
    """BLAKE2b-32 of the full serialized (signed, uncompressed) message (libsession hash_msg)."""
    return crypto.blake2b(serialized, 32)


def empty_message(lag: int = DEFAULT_LAG) -> ConfigMessage:
    """The implicit seqno-0 message every config starts from (d1:#i0e1:&de1:<le1:=dee).

    Its hash is of those unsigned bytes even for a signing admin: libsession hashes the default
    message when it is constructed, before any signer is attached.
    """
    msg = ConfigMessage(seqno=0, lag=lag)
    msg.raw_hash = message_hash(msg.serialize())
    return msg


_KNOWN: Final = (b"#", b"&", b"<", b"=")


def _parse_lagged(raw: BtValue, seqno: int, lag: int) -> dict[SeqnoHash, Diff]:
    if not isinstance(raw, list):
        raise ConfigParseError("lagged diffs must be a list")
    out: dict[SeqnoHash, Diff] = {}
    last: SeqnoHash | None = None
    for row in raw:
        if not isinstance(row, list) or not row or not isinstance(row[0], int):
            raise ConfigParseError("lagged diff row must be [seqno, hash, diff]")
        s = row[0]
        if s >= seqno:
            raise ConfigParseError("lagged seqno >= current seqno")
        if s <= seqno - lag:
            continue  # too old for this message: dropped, as libsession does
        if len(row) != 3 or not isinstance(row[1], bytes) or len(row[1]) != 32:
            raise ConfigParseError("lagged diff row must be [seqno, 32-byte hash, diff]")
        key = (s, row[1])
        if last is not None and key <= last:
            raise ConfigParseError("lagged diffs unsorted or duplicated")
        last = key
        out[key] = parse_diff(row[2])
    return out


def parse_message(
    raw: bytes, *, verify_key: bytes | None = None, lag: int = DEFAULT_LAG
) -> ConfigMessage:
    """Parse (and, given the signer's Ed25519 key, verify) one serialized config message."""
    try:
        signed = bencode.decode_signed_dict(raw)
    except BencodeError as exc:
        raise ConfigParseError(f"config message is not valid bencode: {exc}") from exc
    fields = signed.fields
    keys = list(fields)
    if not keys or keys[0] != b"#" or not isinstance(fields[b"#"], int):
        raise ConfigParseError('config message must start with the "#" seqno')
    seqno = fields[b"#"]
    assert isinstance(seqno, int)
    if b"&" not in fields:
        raise ConfigParseError('config message has no "&" data dict')
    data = parse_data(fields[b"&"])
    lagged = _parse_lagged(fields[b"<"], seqno, lag) if b"<" in fields else {}
    given = parse_diff(fields[b"="]) if b"=" in fields else {}
    if signed.signature is not None and len(signed.signature) != 64:
        raise ConfigSignatureError("config signature is not 64 bytes")
    if verify_key is not None:
        if signed.signature is None:
            raise ConfigSignatureError("config signature is missing")
        if not crypto.verify(verify_key, signed.signed_bytes, signed.signature):
            raise ConfigSignatureError("config signature does not verify")
    unknown = {k: v for k, v in fields.items() if k not in _KNOWN}
    return ConfigMessage(
        seqno, data, lagged, given, unknown, signed.signature, lag=lag, raw_hash=message_hash(raw)
    )


@dataclass(frozen=True)
class MergeResult:
    """The outcome of reading several messages: `message`, and whether it must be pushed."""

    message: ConfigMessage
    merged: bool  # a new message combining several: sign and push it
    used: int | None  # index of the single message taken as-is (when not merged)


def _is_redundant(
    i: int, parsed: list[tuple[ConfigMessage, SeqnoHash]], max_seqno: int, lag: int
) -> bool:
    msg, sh = parsed[i]
    if msg.seqno + lag <= max_seqno:
        return True
    for j, (other, other_sh) in enumerate(parsed):
        if j == i:
            continue
        if sh in other.lagged or (j < i and other_sh == sh):
            return True
    return False


def merge(
    raws: Sequence[bytes],
    *,
    verify_key: bytes | None = None,
    can_sign: bool = True,
    lag: int = DEFAULT_LAG,
    on_error: Callable[[int, ConfigParseError], None] | None = None,
) -> MergeResult:
    """Combine config messages as libsession does (GROUPS-V2.md §2.2); bad ones are skipped."""
    parsed: list[tuple[ConfigMessage, SeqnoHash]] = []
    index: list[int] = []
    for i, raw in enumerate(raws):
        try:
            m = parse_message(raw, verify_key=verify_key, lag=lag)
        except ConfigParseError as exc:
            if on_error is not None:
                on_error(i, exc)
            continue
        parsed.append((m, (m.seqno, message_hash(raw))))
        index.append(i)
    if not parsed:
        raise ConfigParseError("no valid config messages given")
    max_seqno = max(m.seqno for m, _ in parsed)
    keep = [not _is_redundant(i, parsed, max_seqno, lag) for i in range(len(parsed))]
    survivors = [p for p, k in zip(parsed, keep, strict=True) if k]
    if len(survivors) == 1:
        return MergeResult(survivors[0][0], False, index[keep.index(True)])
    if verify_key is not None and not can_sign:
        # a reader that cannot sign keeps the highest (seqno, hash) and waits for an admin's merge
        ranked = [(k, sh, i) for i, ((_, sh), k) in enumerate(zip(parsed, keep, strict=True))]
        best = max(ranked)[2]
        return MergeResult(parsed[best][0], False, index[best])
    survivors.sort(key=lambda p: p[1], reverse=True)
    data = deep_copy(survivors[0][0].data)
    replay: dict[SeqnoHash, tuple[ConfigDict, Diff]] = {}
    for m, sh in survivors:  # descending, so the higher message's copy of a shared diff wins
        replay.setdefault(sh, (m.data, m.given_diff))
        for lag_sh, d in m.lagged.items():
            replay.setdefault(lag_sh, (m.data, d))
    lagged: dict[SeqnoHash, Diff] = {}
    for sh in sorted(replay):
        source, changes = replay[sh]
        apply_diff(data, changes, source)
        lagged[sh] = changes
    prune(data)
    merged = ConfigMessage(seqno=max_seqno + 1, data=data, lagged=lagged, lag=lag)
    return MergeResult(merged, True, None)
