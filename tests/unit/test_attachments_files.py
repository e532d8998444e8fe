"""File URLs, image header sizes, hostile file names, atomic never-overwriting writes, pointer Content."""

from __future__ import annotations

import os
import stat
import struct
import zlib
from pathlib import Path

import pytest

from sessioncli.core import attachment_files as af
from sessioncli.core import attachments as ca
from sessioncli.errors import UsageError
from sessioncli.protocol import attachments as pa
from sessioncli.protocol.attachment_message import Pointer, ProfilePicture, build_content
from sessioncli.protocol.image_size import image_size
from sessioncli.protocol.proto import session_pb2 as pb

# --- URLs ----------------------------------------------------------------------------------------


def test_file_urls() -> None:
    url = pa.build_file_url(
        "http://127.0.0.9:8080", "123", server_ed25519="ab" * 32, deterministic=True
    )
    assert url == f"http://127.0.0.9:8080/file/123#p={'ab' * 32}&d="
    got = pa.parse_file_url(url)
    assert (got.base, got.file_id, got.deterministic, got.server_ed25519) == (
        "http://127.0.0.9:8080",
        "123",
        True,
        "ab" * 32,
    )
    plain = pa.parse_file_url("http://FILEV2.getsession.org/file/" + "A-_b" * 11)
    assert plain.base == "http://filev2.getsession.org" and not plain.deterministic
    assert pa.parse_file_url("http://x/file/1#d").deterministic
    assert (
        pa.parse_file_url("http://filev2.getsession.org:80/file/1").base
        == "http://filev2.getsession.org"
    )
    for bad in [
        "ftp://x/file/1",
        "http://x/files/1",
        "http://x/file/../1",
        "http://x/file/a%2fb",
        "not a url",
        "http://x/file/1/2",
        "http://[::1/file/1",
    ]:
        with pytest.raises(pa.AttachmentError):
            pa.parse_file_url(bad)


# --- image sizes -----------------------------------------------------------------------------------


def png(w: int, h: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", 13)
        + b"IHDR"
        + ihdr
        + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    )


def test_image_sizes() -> None:
    assert image_size(png(640, 480)) == (640, 480)
    assert image_size(b"GIF89a" + struct.pack("<HH", 32, 16) + b"\x00" * 8) == (32, 16)
    jpeg = (
        b"\xff\xd8"
        + b"\xff\xe0"
        + struct.pack(">H", 16)
        + b"JFIF\x00"
        + b"\x00" * 9
        + b"\xff\xc0"
        + struct.pack(">HBHHB", 17, 8, 200, 300, 3)
        + b"\x00" * 9
    )
    assert image_size(jpeg) == (300, 200)
    vp8 = (
        b"RIFF"
        + b"\x00" * 4
        + b"WEBPVP8 "
        + b"\x00" * 4
        + b"\x00\x00\x00\x9d\x01\x2a"
        + struct.pack("<HH", 100, 50)
    )
    assert image_size(vp8) == (100, 50)
    bits = (99) | (49 << 14)
    vp8l = (
        b"RIFF"
        + b"\x00" * 4
        + b"WEBPVP8L"
        + b"\x00" * 4
        + b"\x2f"
        + struct.pack("<I", bits)
        + b"\x00" * 5
    )
    assert image_size(vp8l) == (100, 50)
    vp8x = (
        b"RIFF"
        + b"\x00" * 4
        + b"WEBPVP8X"
        + b"\x00" * 4
        + b"\x00" * 4
        + (799).to_bytes(3, "little")
        + (599).to_bytes(3, "little")
    )
    assert image_size(vp8x) == (800, 600)
    for junk in [
        b"",
        b"\x89PNG",
        b"\xff\xd8\xff",
        b"\xff\xd8\xff\xda\x00\x02",
        b"hello world" * 10,
        png(0, 5),
    ]:
        assert image_size(junk) is None


# --- reading files to send -----------------------------------------------------------------------------


def test_read_files_refusals(tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "big").write_bytes(b"\x00" * (10_000_001))
    (tmp_path / "ok.png").write_bytes(png(3, 2))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for name, why in [
        ("missing", "no such file"),
        ("empty", "empty"),
        ("big", "too large"),
        (".", "folder"),
    ]:
        with pytest.raises(UsageError, match=why) as exc:
            ca.read_files([str(tmp_path / name)])
        assert str(tmp_path / name) in exc.value.message
    pid = os.fork()
    if pid == 0:  # a writer that closes at once: the FIFO ends empty
        os.close(os.open(fifo, os.O_WRONLY))
        os._exit(0)
    with pytest.raises(UsageError, match="empty"):
        ca.read_files([str(fifo)])
    os.waitpid(pid, 0)
    [f] = ca.read_files([str(tmp_path / "ok.png")])
    assert (f.file_name, f.content_type, f.width, f.height) == ("ok.png", "image/png", 3, 2)
    [s] = ca.read_files(["-"], b"log line\n")
    assert s.file_name == "stdin" and s.data == b"log line\n"


# --- names and writes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", ("passwd", "")),
        ("a/b", ("b", "")),
        ("..\\..\\win.ini", ("win", ".ini")),
        ("..", ("fileid", ".txt")),
        ("", ("fileid", ".txt")),
        (None, ("fileid", ".txt")),
        ("\x00\x01\x1b[31m", ("[31m", "")),
        ("re\x00port.pdf", ("report", ".pdf")),
        (".bashrc", ("bashrc", "")),
        ("/", ("fileid", ".txt")),
    ],
)
def test_safe_names(name: str | None, expected: tuple[str, str]) -> None:
    assert af.safe_name(name, "fileid", "text/plain") == expected


def test_long_name_is_cut_keeping_extension() -> None:
    stem, ext = af.safe_name("é" * 300 + ".log", "x", None)
    assert ext == ".log" and len((stem + ext).encode()) <= af.MAX_NAME_BYTES


def test_save_never_overwrites_and_is_private(tmp_path: Path) -> None:
    out = tmp_path / "in"
    paths = [af.save(out, bytes([i]), "report", ".pdf") for i in range(3)]
    assert [p.name for p in paths] == ["report.pdf", "report (2).pdf", "report (3).pdf"]
    assert [p.read_bytes() for p in paths] == [b"\x00", b"\x01", b"\x02"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in paths)
    assert sorted(os.listdir(out)) == sorted(p.name for p in paths)  # no temporary left behind


def test_pointer_store_round_trip(tmp_path: Path) -> None:
    from sessioncli.protocol.message import Attachment

    a = Attachment(
        url="http://x/file/1",
        content_type="text/plain",
        file_name="a.txt",
        size=3,
        key=b"k" * 64,
        digest=b"d" * 32,
    )
    store = af.PointerStore(tmp_path)
    store.keep("hash1", (a,), 1_000)
    assert store.get("hash1") == [a]
    assert store.get("nope") is None
    store.keep("hash2", (a,), 1_000 + af.KEEP_POINTERS_MS)  # hash1 is now past its time
    assert store.get("hash1") is None and store.get("hash2") == [a]
    assert stat.S_IMODE((tmp_path / af.POINTERS_FILE).stat().st_mode) == 0o600


# --- Content ----------------------------------------------------------------------------------------


def test_content_with_pointers_and_picture() -> None:
    p = Pointer(
        url="http://x/file/7",
        key=b"k" * 64,
        size=5,
        digest=b"d" * 32,
        content_type="image/png",
        file_name="a.png",
        width=3,
        height=2,
        file_id=7,
    )
    raw = build_content(
        "",
        1_700_000_000_000,
        attachments=[p],
        profile=ProfilePicture("http://x/file/8", b"p" * 32, 1_700_000_000),
        display_name="Bot",
        sync_target="05" + "ab" * 32,
    )
    c = pb.Content.FromString(raw)
    dm = c.dataMessage
    assert not dm.HasField("body") and c.sigTimestamp == 1_700_000_000_000
    [ptr] = dm.attachments
    assert (ptr.deprecated_id, ptr.url, ptr.size, ptr.fileName, ptr.width, ptr.height) == (
        7,
        "http://x/file/7",
        5,
        "a.png",
        3,
        2,
    )
    assert ptr.key == b"k" * 64 and ptr.digest == b"d" * 32 and ptr.contentType == "image/png"
    assert dm.profile.profilePicture == "http://x/file/8" and dm.profileKey == b"p" * 32
    assert dm.profile.displayName == "Bot" and dm.syncTarget == "05" + "ab" * 32
    with pytest.raises(ValueError):
        build_content("", 1, attachments=[])


def test_avatar_reuse_rule() -> None:
    from sessioncli.core import avatar

    saved = {"sha256": "ab", "url": "http://x/file/1", "expires_s": 1_000_000.0}
    assert avatar._reusable(saved, "ab", 1_000_000 - avatar.REFRESH_BEFORE_S - 1)
    assert not avatar._reusable(saved, "ab", 1_000_000 - avatar.REFRESH_BEFORE_S + 1)  # re-upload
    assert not avatar._reusable(saved, "cd", 0)  # another picture
    assert not avatar._reusable({}, "ab", 0)
