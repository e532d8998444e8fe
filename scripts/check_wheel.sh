#!/usr/bin/env bash
# Build the wheel, install it into a clean venv, and check what a user gets: the command, the man
# page, bash completion, and a message round trip over a local devnet.
#
#   scripts/check_wheel.sh           all checks
#   KEEP=1 scripts/check_wheel.sh    keep the temporary folder (printed) for a look afterwards
#
# Needs: python3 (with `build`; hatchling too, or network access to an index for an isolated
# build), man-db. Runs offline apart from installing the wheel's dependencies from the index.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
TMP=$(mktemp -d)
DEVNET_PID=
cleanup() {
    if [ -n "$DEVNET_PID" ]; then
        kill "$DEVNET_PID" 2>/dev/null || true
        wait "$DEVNET_PID" 2>/dev/null || true
    fi
    if [ -n "${KEEP:-}" ]; then echo "check_wheel: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

step() { echo "== check_wheel: $*" >&2; }
fail() {
    echo "check_wheel: FAILED: $*" >&2
    exit 1
}

step "build the wheel"
build_args=(--wheel --outdir "$TMP/dist")
# Without network access an isolated build cannot fetch hatchling; use the installed one if any.
if "$PYTHON" -c "import hatchling" 2>/dev/null; then build_args+=(--no-isolation); fi
(cd "$REPO" && "$PYTHON" -m build "${build_args[@]}" >"$TMP/build.log" 2>&1) ||
    { cat "$TMP/build.log" >&2; fail "python -m build"; }
WHEEL=$(ls "$TMP"/dist/*.whl)
members=$("$PYTHON" -c 'import sys, zipfile; print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))' "$WHEEL")
for member in share/man/man1/sessioncli.1 share/bash-completion/completions/sessioncli \
    share/zsh/site-functions/_sessioncli share/fish/vendor_completions.d/sessioncli.fish; do
    grep -q "\.data/data/$member\$" <<<"$members" || fail "$member not in $WHEEL"
done

step "install it into a clean venv"
"$PYTHON" -m venv "$TMP/venv"
V=$TMP/venv
"$V/bin/python" -m pip install -q --disable-pip-version-check "$WHEEL" >"$TMP/pip.log" 2>&1 ||
    { cat "$TMP/pip.log" >&2; fail "pip install $WHEEL"; }

# A cron-like environment: nothing from the caller's shell, only the venv on PATH, own folders.
H=$TMP/home
mkdir -p "$H"
CRON_ENV=("PATH=$V/bin:/usr/bin:/bin" "HOME=$H" "LANG=C.UTF-8" "MANWIDTH=80" "MANPAGER=cat"
    "SESSIONCLI_CONFIG_DIR=$H/config" "SESSIONCLI_STATE_DIR=$H/state" "SESSIONCLI_CACHE_DIR=$H/cache")
run() { env -i "${CRON_ENV[@]}" "$@"; }
# In the background as `(run_exec ...) &`: the subshell becomes the command itself, so $! is its
# pid and the cleanup's kill reaches it (a backgrounded `run` left the devnet running, orphaned).
run_exec() { exec env -i "${CRON_ENV[@]}" "$@"; }

step "sessioncli --version"
out=$(cd "$TMP" && run sessioncli --version) || fail "sessioncli --version exited $?"
[[ $out == "sessioncli "* ]] || fail "unexpected --version output: $out"
echo "$out" >&2

step "man -l share/man/man1/sessioncli.1"
page=$(run man -l "$V/share/man/man1/sessioncli.1" 2>"$TMP/man.err") || fail "man -l exited $?"
for heading in NAME SYNOPSIS COMMANDS "IDENTITY STORAGE" ENVIRONMENT "EXIT STATUS" EXAMPLES; do
    grep -q "^$heading" <<<"$page" || fail "man page has no $heading section"
done
[ ! -s "$TMP/man.err" ] || { cat "$TMP/man.err" >&2; fail "man printed warnings"; }

step "bash completion: sessioncli se<Tab>, sessioncli send al<Tab>"
complete_bash() {
    # shellcheck disable=SC2016  # expanded by the inner bash
    run bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
        _sessioncli_completion sessioncli; printf "%s\n" "${COMPREPLY[@]}"' \
        _ "$V/share/bash-completion/completions/sessioncli" "$@"
}
got=$(complete_bash sessioncli se)
grep -qx send <<<"$got" || fail "completion of 'sessioncli se' gave: $got"
run sessioncli contacts add alice "05$(printf 'a%.0s' {1..64})" ||
    fail "contacts add exited $?"
got=$(complete_bash sessioncli send al)
grep -qx alice <<<"$got" || fail "completion of 'sessioncli send al' gave: $got"

step "devnet round trip with the installed command"
if ! run sessioncli devnet --help >/dev/null 2>&1; then
    fail "this build has no 'sessioncli devnet' command"
fi
D=$TMP/devnet
(run_exec sessioncli devnet up --dir "$D" --nodes 6 --swarm-size 3) >"$TMP/devnet.out" 2>"$TMP/devnet.err" &
DEVNET_PID=$!
for _ in $(seq 1 300); do
    [ -s "$D/network.json" ] && grep -q "devnet ready" "$TMP/devnet.out" && break
    kill -0 "$DEVNET_PID" 2>/dev/null || { cat "$TMP/devnet.err" >&2; fail "devnet up exited"; }
    sleep 0.2
done
[ -s "$D/network.json" ] || { cat "$TMP/devnet.err" >&2; fail "no $D/network.json after 60 s"; }

NET=(--network "$D/network.json")
run sessioncli keygen --identity-file "$H/alice.id" >/dev/null 2>"$TMP/keygen.err" ||
    { cat "$TMP/keygen.err" >&2; fail "keygen (alice) exited $?"; }
run sessioncli keygen --identity-file "$H/bob.id" >/dev/null 2>>"$TMP/keygen.err" ||
    { cat "$TMP/keygen.err" >&2; fail "keygen (bob) exited $?"; }
BOB=$(run sessioncli --identity-file "$H/bob.id" whoami) || fail "whoami exited $?"
BODY="hello from the installed wheel $$ $RANDOM"
run sessioncli -q "${NET[@]}" --identity-file "$H/alice.id" send "$BOB" "$BODY" ||
    fail "send exited $?"
got=$(run sessioncli "${NET[@]}" --identity-file "$H/bob.id" receive --json) ||
    fail "receive exited $?"
"$V/bin/python" - "$BODY" "$got" <<'PY' || fail "receive did not return the message: $got"
import json
import sys

body, out = sys.argv[1], sys.argv[2]
records = [json.loads(line) for line in out.splitlines() if line.strip()]
sys.exit(0 if any(r.get("body") == body for r in records) else 1)
PY

echo "check_wheel: OK ($(basename "$WHEEL"))" >&2
