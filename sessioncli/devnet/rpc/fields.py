"""Reading request parameters the way the storage server's parser does, with its error texts.

Mirrors the behaviour of `parse_field`, `require*`, `load_pk`, `load_pk_signature` and
`load_subaccount` in session-storage-server `oxenss/rpc/client_rpc_endpoints.cpp`: a field that
is absent or null is "not given"; a field of the wrong type is a 400 naming it; the texts are the
server's, behind "invalid request: " (added by `bad`)."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from sessioncli.devnet.rpc.framing import bad

NAMESPACE_MIN = -32768
NAMESPACE_MAX = 32767
SUBACCOUNT_TOKEN_LENGTH = 36
MAX_SUBACCOUNT_TOKENS = 50
ALL = "all"  # the namespace value meaning every namespace (delete_all, delete_before, expire_all)

# oxenc::is_base64: either alphabet, optional padding, never a length of 4n+1.
_BASE64 = re.compile(r"[A-Za-z0-9+/\-_]*={0,2}")
_HEX = re.compile(r"[0-9a-fA-F]*")


def is_base64(text: str) -> bool:
    if not _BASE64.fullmatch(text) or len(text) % 4 == 1:
        return False
    body = text.rstrip("=")
    return len(text) == len(body) or len(text) % 4 == 0


def from_base64(text: str) -> bytes:
    body = text.rstrip("=").replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise bad("invalid base64") from None


def is_hex(text: str) -> bool:
    return len(text) % 2 == 0 and bool(_HEX.fullmatch(text))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _type_error(name: str, desc: str) -> Exception:
    return bad(f"Invalid value given for '{name}': expected {desc}")


def string(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _type_error(name, "string")
    return value


def boolean(params: dict[str, Any], name: str) -> bool | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise _type_error(name, "boolean")
    return value


def integer(params: dict[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if not _is_int(value):
        raise _type_error(name, "integer")
    return int(value)


def timestamp(params: dict[str, Any], name: str) -> int | None:
    """A unix-epoch millisecond value: a non-negative integer, and not plausibly in seconds."""
    value = params.get(name)
    if value is None:
        return None
    if not _is_int(value) or value < 0:
        raise _type_error(name, "integer timestamp (in milliseconds)")
    if value < 1_000_000_000:
        raise bad(f"Invalid timestamp for '{name}': timestamp must be in milliseconds")
    return int(value)


def stringified(params: dict[str, Any], name: str, *, unsigned: bool) -> int | None:
    """`timestamp` and `ttl` of store: an integer, or (for old clients) a decimal string of one."""
    value = params.get(name)
    if isinstance(value, str):
        if re.fullmatch(r"-?[0-9]+", value) and (not unsigned or not value.startswith("-")):
            return int(value)
        raise bad(f"Invalid value given for '{name}': \"{value}\"")
    if value is None:
        return None
    if not _is_int(value) or (unsigned and value < 0):
        raise _type_error(name, "positive integer" if unsigned else "integer")
    return int(value)


def timestamps(params: dict[str, Any], name: str) -> list[int] | None:
    """One millisecond timestamp or a list of them (expire's `expiry`)."""
    value = params.get(name)
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    if not all(_is_int(v) and v >= 0 for v in items):
        raise _type_error(name, "timestamp array")
    return [int(v) for v in items]


def integers(params: dict[str, Any], name: str) -> list[int] | None:
    value = params.get(name)
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    if not all(_is_int(v) for v in items):
        raise _type_error(name, "integer array")
    return [int(v) for v in items]


def strings(params: dict[str, Any], name: str) -> list[str] | None:
    value = params.get(name)
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) for v in items):
        raise _type_error(name, "string array")
    return list(items)


def namespace(params: dict[str, Any], *, allow_all: bool = False) -> int | str:
    """The `namespace` field: 0 when absent; `ALL` only where the method accepts "all"."""
    value = params.get("namespace")
    if value is None:
        return 0
    if _is_int(value):
        if not NAMESPACE_MIN <= value <= NAMESPACE_MAX:
            raise bad("Invalid value given for 'namespace': value out of range")
        return int(value)
    if allow_all:
        if value == ALL:
            return ALL
        raise bad("Invalid value given for 'namespace': expected integer or \"all\"")
    raise _type_error("namespace", "16-bit integer")


def require(name: str, value: Any) -> Any:
    if value is None:
        raise bad(f"Required field '{name}' missing")
    return value


def pubkey(params: dict[str, Any], *, aliased: bool = False, get_swarm: bool = False) -> str:
    """The account: 66 hex digits (`pubKey` accepted as an old spelling where `aliased`)."""
    value = string(params, "pubkey")
    if aliased:
        old = string(params, "pubKey")
        if value is not None and old is not None:
            raise bad("Cannot specify both 'pubkey' and 'pubKey'")
        value = value if value is not None else old
    require("pubkey", value)
    assert value is not None
    if len(value) != 66 or not is_hex(value):
        if get_swarm:
            raise bad("Pubkey must be 66 hex digits/33 bytes long")
        raise bad("Pubkey must be 66 hex digits (33 bytes) long")
    return value.lower()


@dataclass(frozen=True)
class Auth:
    """The authentication fields of a signed request, decoded but not yet verified."""

    signature: bytes
    pubkey_ed25519: bytes | None = None
    subaccount: bytes | None = None  # the 36-byte token
    subaccount_sig: bytes | None = None


def signature_fields(params: dict[str, Any], account: str, *, subaccount: bool = True) -> Auth:
    """`signature` (required), `pubkey_ed25519` (05 accounts only) and, where the method takes
    them, `subaccount` + `subaccount_sig`."""
    sig_text = require("signature", string(params, "signature"))
    ed_text = string(params, "pubkey_ed25519")
    ed_pk: bytes | None = None
    if ed_text is not None:
        if not account.startswith("05"):
            raise bad("pubkey_ed25519 is only permitted for 05[...] pubkeys")
        if len(ed_text) == 64:
            if not is_hex(ed_text):
                raise bad("invalid pubkey_ed25519: value is not hex")
            ed_pk = bytes.fromhex(ed_text)
        elif len(ed_text.encode("utf-8", "surrogateescape")) == 32:
            ed_pk = ed_text.encode("utf-8", "surrogateescape")
        else:
            raise bad("Invalid pubkey_ed25519: expected 64 hex char or 32 byte pubkey")
    signature = _signature(sig_text, "invalid signature: expected base64 encoded Ed25519 signature")
    token = sub_sig = None
    if subaccount:
        token, sub_sig = _subaccount(params)
    return Auth(signature, ed_pk, token, sub_sig)


def _signature(text: str, error: str) -> bytes:
    if not is_base64(text) or not (len(text) == 86 or (len(text) == 88 and text[86:] == "==")):
        raise bad(error)
    return from_base64(text)


def _subaccount(params: dict[str, Any]) -> tuple[bytes | None, bytes | None]:
    token_text = string(params, "subaccount")
    sig_text = string(params, "subaccount_sig")
    if not token_text:
        return None, None
    if sig_text is None:
        raise bad("invalid subaccount: subaccount_sig is required when using subaccount")
    token = token_bytes(token_text)
    if token is None:
        raise bad("invalid subaccount: expected base64 or hex-encoded subaccount token")
    sig = _signature(
        sig_text, "invalid subaccount signature: expected base64 encoded Ed25519 signature"
    )
    return token, sig


def token_bytes(text: str) -> bytes | None:
    """A 36-byte subaccount token given as base64 (48 characters) or hex (72)."""
    if is_base64(text) and len(text) == SUBACCOUNT_TOKEN_LENGTH * 4 // 3:
        return from_base64(text)
    if is_hex(text) and len(text) == SUBACCOUNT_TOKEN_LENGTH * 2:
        return bytes.fromhex(text)
    return None


def message_hashes(params: dict[str, Any], *, check: bool = True) -> list[str]:
    """`messages`: one hash or a list, not empty; each 43 base64 characters where `check`."""
    hashes = require("messages", strings(params, "messages"))
    if not hashes:
        raise bad("messages does not contain any message hashes")
    if check:
        for h in hashes:
            if len(h) != 43 or not is_base64(h):
                raise bad(f"invalid message hash: {h}")
    return list(hashes)
