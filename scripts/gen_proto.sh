#!/usr/bin/env bash
# Regenerate sessioncli/protocol/proto/session_pb2.py and session_pb2.pyi from session.proto.
#
# Usage: scripts/gen_proto.sh [OUT_DIR]   (default: the repository root, i.e. in place)
# Needs grpcio-tools (python -m grpc_tools.protoc) and mypy-protobuf (protoc-gen-mypy).
# tests/unit/test_proto_generated.py runs this into a temporary folder and compares.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root}"
python="${PYTHON:-python3}"
plugin="${PROTOC_GEN_MYPY:-$(command -v protoc-gen-mypy || true)}"
if [[ -z "$plugin" ]]; then
    echo "gen_proto.sh: protoc-gen-mypy not found (pip install mypy-protobuf)" >&2
    exit 1
fi

mkdir -p "$out"
cd "$root"
# The path given to protoc is relative to the repository root, so the descriptor is registered
# as "sessioncli/protocol/proto/session.proto" and cannot clash with another "session.proto".
"$python" -m grpc_tools.protoc \
    -I . \
    --plugin=protoc-gen-mypy="$plugin" \
    --python_out="$out" \
    --mypy_out="$out" \
    sessioncli/protocol/proto/session.proto
