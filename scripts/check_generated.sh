#!/usr/bin/env bash
# Fail if completions/, man/sessioncli.1 or docs/cli.md differ from what scripts/regen.sh makes now.
#
# Regenerates into a temporary folder and compares it with the working tree, so it never touches
# the checkout. On drift: run scripts/regen.sh and commit the result.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

"$REPO/scripts/regen.sh" "$TMP" 2>/dev/null
status=0
for f in completions/sessioncli.bash completions/_sessioncli completions/sessioncli.fish \
    man/sessioncli.1 docs/cli.md; do
    if [ ! -f "$REPO/$f" ]; then
        echo "check_generated: $f is missing" >&2
        status=1
    elif ! cmp -s "$TMP/$f" "$REPO/$f"; then
        echo "check_generated: $f is out of date:" >&2
        diff -u "$REPO/$f" "$TMP/$f" | head -40 >&2 || true
        status=1
    fi
done
if [ "$status" -ne 0 ]; then
    echo "check_generated: run scripts/regen.sh and commit the result" >&2
    exit 1
fi
echo "check_generated: completions, man page and docs/cli.md are up to date" >&2
