"""The profile picture: uploaded once per content, re-uploaded before the file server forgets it.

avatar.json in the identity's state folder (0600) remembers the picture's SHA-256, its URL,
its 32-byte profile key and when the upload expires. A send reuses them while the upload has
more than REFRESH_BEFORE_S left; a picture with other content gets a new profile key (so a
contact holding the old key cannot read the new one), the same picture keeps its key.
Re-uploading is used rather than `/extend`, which only works for the 44-character ids of
deterministic uploads (SPEC §7), and legacy uploads get numeric ids.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sessioncli import state
from sessioncli.core import attachments as core_attachments

if TYPE_CHECKING:
    from sessioncli.net.client import NetworkClient
    from sessioncli.net.policy import Deadline
    from sessioncli.protocol.attachment_message import ProfilePicture

AVATAR_FILE = "avatar.json"
DEFAULT_EXPIRY_S = 14 * 86_400  # when the server does not say (it keeps files ~3 weeks)
REFRESH_BEFORE_S = 3 * 86_400


def read_avatar(path: str | None) -> core_attachments.LocalFile | None:
    """The picture named by --avatar or config.toml's `avatar` (UsageError naming it if unusable)."""
    if not path:
        return None
    return core_attachments.read_file(path)


def _saved(folder: Path) -> dict[str, Any]:
    raw = state.read_json(folder / AVATAR_FILE, {})
    return raw if isinstance(raw, dict) else {}


def _reusable(saved: dict[str, Any], digest: str, now_s: float) -> bool:
    expires = saved.get("expires_s")
    return (
        saved.get("sha256") == digest
        and isinstance(saved.get("url"), str)
        and isinstance(expires, int | float)
        and expires - now_s > REFRESH_BEFORE_S
    )


def profile_picture(
    net: NetworkClient,
    image: core_attachments.LocalFile,
    folder: Path,
    deadline: float | Deadline | None = None,
) -> ProfilePicture:
    """The picture's URL and key, uploading it (AES-GCM with the profile key) when needed."""
    from sessioncli.protocol import attachments as pa
    from sessioncli.protocol import crypto
    from sessioncli.protocol import crypto_attach as ca
    from sessioncli.protocol.attachment_message import ProfilePicture

    digest = ca.sha256(image.data).hex()
    now_s = time.time()
    saved = _saved(folder)
    key_b64 = saved.get("key")
    key = base64.b64decode(key_b64) if isinstance(key_b64, str) else b""
    if _reusable(saved, digest, now_s) and len(key) == pa.PROFILE_KEY_BYTES:
        return ProfilePicture(url=saved["url"], key=key, updated_s=saved.get("updated_s"))
    if saved.get("sha256") != digest or len(key) != pa.PROFILE_KEY_BYTES:
        key = crypto.random_bytes(pa.PROFILE_KEY_BYTES)  # new picture, new key
    fs = core_attachments.file_server_of(net)
    up = core_attachments.upload_blob(
        net, fs, pa.profile_encrypt(image.data, key), f"{image.label} (profile picture)", deadline
    )
    url = core_attachments.file_url(fs, up.file_id)
    updated = int(now_s) if saved.get("sha256") != digest else saved.get("updated_s", int(now_s))
    state.atomic_write_json(
        folder / AVATAR_FILE,
        {
            "sha256": digest,
            "url": url,
            "key": base64.b64encode(key).decode(),
            "expires_s": up.expires_s if up.expires_s is not None else now_s + DEFAULT_EXPIRY_S,
            "updated_s": updated,
        },
    )
    return ProfilePicture(url=url, key=key, updated_s=updated)
