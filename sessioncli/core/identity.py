"""Identity use-cases: create, restore, load, export; the secret never leaves except on request."""

from __future__ import annotations

from dataclasses import dataclass

from sessioncli import keystore
from sessioncli.errors import UsageError
from sessioncli.protocol.crypto import random_bytes
from sessioncli.protocol.ids import Identity


@dataclass(frozen=True)
class IdentityInfo:
    session_id: str
    profile: str
    stored_in: str  # "keyring" | "file" | "env"
    location: str

    def to_json(self) -> dict[str, str]:
        return {"session_id": self.session_id, "profile": self.profile, "stored_in": self.stored_in}


def configured_identity_file() -> str | None:
    """identity_file from config.toml (a broken config file is exit 78, as everywhere)."""
    from sessioncli.core import settings

    return settings.load_config().identity_file


def _load_secret(profile: str, identity_file: str | None) -> keystore.StoredSecret:
    """The stored seed: from the flag's (or environment's) file, config.toml's, or the keyring."""
    configured = None if identity_file else configured_identity_file()
    return keystore.load_secret(profile, identity_file, configured_file=configured)


def load(profile: str, identity_file: str | None) -> tuple[Identity, IdentityInfo]:
    secret = _load_secret(profile, identity_file)
    ident = Identity.from_seed(secret.seed)
    return ident, IdentityInfo(ident.session_id, profile, secret.source, secret.location)


def parse_phrase(phrase: str) -> bytes:
    from sessioncli.protocol import mnemonic  # the word list only where a phrase is used

    try:
        return mnemonic.decode(phrase)
    except mnemonic.MnemonicError as exc:
        raise UsageError(f"invalid recovery phrase: {exc}") from None


def store(profile: str, identity_file: str | None, seed: bytes, *, force: bool) -> IdentityInfo:
    """Store a seed in the identity file (when given) or the keyring; refuse to replace unasked."""
    ident = Identity.from_seed(seed)
    identity_file = identity_file or configured_identity_file()
    if identity_file:
        path = keystore.write_identity_file(identity_file, seed, force=force)
        return IdentityInfo(ident.session_id, profile, "file", str(path))
    existing = keystore.keyring_read(profile)
    if existing is not None and not force:
        old = Identity.from_seed(existing.seed).session_id
        raise UsageError(
            f"profile {profile!r} already has an identity in the keyring ({old})",
            hints=("use --force to replace it (the old identity is lost without its phrase)",),
        )
    where = keystore.keyring_write(profile, seed)
    return IdentityInfo(ident.session_id, profile, "keyring", where)


def create(profile: str, identity_file: str | None, *, force: bool) -> IdentityInfo:
    return store(profile, identity_file, random_bytes(16), force=force)


def export_phrase(profile: str, identity_file: str | None) -> str:
    from sessioncli.protocol import mnemonic

    secret = _load_secret(profile, identity_file)
    return mnemonic.encode(secret.seed)
