"""The committed session_pb2.py/.pyi are exactly what scripts/gen_proto.sh makes from session.proto."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROTO_DIR = Path("sessioncli/protocol/proto")


def mypy_plugin() -> str:
    """protoc-gen-mypy from the test extras (mypy-protobuf): installed beside this interpreter,
    so it is found even when that environment's bin folder is not on PATH."""
    beside = Path(sys.executable).parent / "protoc-gen-mypy"
    plugin = str(beside) if beside.exists() else shutil.which("protoc-gen-mypy")
    assert plugin, "protoc-gen-mypy not found: install the test extras (pip install -e '.[test]')"
    return plugin


def regenerate(out: Path, *, with_mypy: bool) -> None:
    cmd = [sys.executable, "-m", "grpc_tools.protoc", "-I", ".", f"--python_out={out}"]
    if with_mypy:
        plugin = mypy_plugin()
        cmd += [f"--plugin=protoc-gen-mypy={plugin}", f"--mypy_out={out}"]
    cmd.append(str(PROTO_DIR / "session.proto"))
    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, timeout=120)


def test_generated_python_is_current(tmp_path: Path) -> None:
    regenerate(tmp_path, with_mypy=False)
    fresh = (tmp_path / PROTO_DIR / "session_pb2.py").read_text("utf-8")
    committed = (REPO / PROTO_DIR / "session_pb2.py").read_text("utf-8")
    assert fresh == committed, "session_pb2.py is stale: run scripts/gen_proto.sh and commit"


def test_generated_stub_is_current(tmp_path: Path) -> None:
    regenerate(tmp_path, with_mypy=True)
    fresh = (tmp_path / PROTO_DIR / "session_pb2.pyi").read_text("utf-8")
    committed = (REPO / PROTO_DIR / "session_pb2.pyi").read_text("utf-8")
    assert fresh == committed, "session_pb2.pyi is stale: run scripts/gen_proto.sh and commit"


def test_gen_script_matches(tmp_path: Path) -> None:
    """The script itself works and writes the same files."""
    env = {**os.environ, "PYTHON": sys.executable, "PROTOC_GEN_MYPY": mypy_plugin()}
    subprocess.run(
        ["bash", "scripts/gen_proto.sh", str(tmp_path)],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    for name in ("session_pb2.py", "session_pb2.pyi"):
        assert (tmp_path / PROTO_DIR / name).read_bytes() == (REPO / PROTO_DIR / name).read_bytes()


def test_generated_code_imports_with_installed_runtime() -> None:
    """The gencode's runtime-version check must pass against the installed protobuf."""
    from google.protobuf import __version__ as runtime

    from sessioncli.protocol.proto import session_pb2

    text = (REPO / PROTO_DIR / "session_pb2.py").read_text("utf-8")
    match = re.search(r"# Protobuf Python Version: (\d+)\.(\d+)\.(\d+)", text)
    assert match
    gencode = tuple(int(x) for x in match.groups())
    installed = tuple(int(x) for x in runtime.split(".")[:3])
    assert installed[0] == gencode[0] and installed >= gencode
    assert session_pb2.DESCRIPTOR.name == "sessioncli/protocol/proto/session.proto"
    assert session_pb2.DESCRIPTOR.package == "SessionProtos"
