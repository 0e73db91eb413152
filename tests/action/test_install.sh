#!/usr/bin/env bash
# Tests action/install.sh (the composite action's installer) against a fake release served by
# `python3 -m http.server` on a loopback port. Needs bash, python3, curl, tar and sha256sum; no
# network, no Rust. Run by `make test-action` (and `make test`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
INSTALL="$ROOT/action/install.sh"
TARGET=x86_64-unknown-linux-musl
ARCHIVE="release-$TARGET.tar.gz"

T="$(mktemp -d "${TMPDIR:-/tmp}/test-action.XXXXXX")"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf -- "$T"
}
trap cleanup EXIT

PASSED=0
FAILED=0
ok() { PASSED=$((PASSED + 1)); printf 'ok   %s\n' "$1"; }
not_ok() {
    FAILED=$((FAILED + 1))
    printf 'FAIL %s\n' "$1"
    printf '  --- stdout\n'; sed 's/^/  | /' "$T/out" 2>/dev/null || true
    printf '  --- stderr\n'; sed 's/^/  | /' "$T/err" 2>/dev/null || true
}

# --- the fake release ---------------------------------------------------------------------------

SRV="$T/srv"
mkdir -p "$T/pkg"
# The fake binary prints each argument in brackets, and says it ran.
cat >"$T/pkg/release" <<'EOF'
#!/bin/sh
echo "fake release ran"
for a in "$@"; do printf '[%s]\n' "$a"; done
EOF
chmod 0755 "$T/pkg/release"

# publish TAG_DIR SUMS_MODE: the archive and SHA256SUMS under $SRV/TAG_DIR.
#   good: the archive's line, as sha256sum writes it, next to another target's line
#   wrong: a wrong digest for the archive
#   missing: only another target's line
publish() {
    local dir="$SRV/$1" mode="$2"
    mkdir -p "$dir"
    tar -czf "$dir/$ARCHIVE" -C "$T/pkg" release
    # Another target's line, as a real SHA256SUMS has.
    printf '%064d  release-aarch64-apple-darwin.tar.gz\n' 7 >"$dir/SHA256SUMS"
    case "$mode" in
        good) (cd "$dir" && sha256sum "$ARCHIVE") >>"$dir/SHA256SUMS" ;;
        wrong) printf '%064d  %s\n' 1 "$ARCHIVE" >>"$dir/SHA256SUMS" ;;
        missing) ;;
    esac
}
publish download/v1.2.3 good
publish latest/download good
publish download/v6.6.6 wrong
publish download/v7.7.7 missing
DIGEST="$(sha256sum "$SRV/download/v1.2.3/$ARCHIVE" | cut -d' ' -f1)"

# --- the server ---------------------------------------------------------------------------------

start_server() {
    : >"$T/server.log"
    python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$SRV" >"$T/server.out" 2>"$T/server.log" &
    SERVER_PID=$!
    local i port=""
    for i in $(seq 100); do
        port="$(sed -n 's/.* port \([0-9][0-9]*\).*/\1/p' "$T/server.out" | head -n1)"
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || { echo "the HTTP server did not start" >&2; cat "$T/server.log" >&2; exit 1; }
    BASE="http://127.0.0.1:$port"
}
stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}
requests() { grep -c '"GET ' "$T/server.log" || true; }

# --- running the installer ----------------------------------------------------------------------

CACHE="$T/toolcache"
# run VAR=VALUE...: install.sh in a clean environment (so a real Actions job's GITHUB_* does not
# leak in), as a Linux X64 runner with the test's cache and server; stdout/stderr in $T/out/err.
run() {
    RC=0
    env -i PATH="$PATH" HOME="$T" TMPDIR="$T" \
        RUNNER_OS=Linux RUNNER_ARCH=X64 RUNNER_TOOL_CACHE="$CACHE" \
        RELEASE_AGENT_DOWNLOAD_BASE="${BASE:-http://127.0.0.1:9}" \
        "$@" bash "$INSTALL" >"$T/out" 2>"$T/err" || RC=$?
}
ran() { grep -q '^fake release ran$' "$T/out"; }

start_server

# 1. Download, verify, run with the arguments, whitespace-split with no expansion.
# shellcheck disable=SC2016 # the $HOME and the glob are meant literally
ARGS_INPUT='ci  --note "two words"
*	$HOME \n'
run INPUT_ARGS="$ARGS_INPUT" INPUT_VERSION=v1.2.3
expected_out="$(printf '%s\n' 'fake release ran' '[ci]' '[--note]' '["two]' '[words"]' '[*]' '[$HOME]' '[\n]')"
if [ "$RC" -eq 0 ] && [ "$(cat "$T/out")" = "$expected_out" ]; then
    ok "runs release with the args split on whitespace, nothing expanded (quotes are literal)"
else
    not_ok "runs release with the args split on whitespace, nothing expanded (quotes are literal)"
fi
if [ "$(requests)" -eq 2 ] && grep -q "download/v1.2.3/SHA256SUMS" "$T/server.log" &&
    grep -q "download/v1.2.3/$ARCHIVE" "$T/server.log"; then
    ok "downloads SHA256SUMS and the archive of the version"
else
    not_ok "downloads SHA256SUMS and the archive of the version"; cat "$T/server.log"
fi
cached="$CACHE/release-agent/v1.2.3/$TARGET"
if [ -x "$cached/release" ] && [ "$(cat "$cached/archive.sha256")" = "$DIGEST" ] &&
    [ "$(cat "$cached/release.sha256")" = "$(sha256sum "$cached/release" | cut -d' ' -f1)" ]; then
    ok "caches the binary and its digests under RUNNER_TOOL_CACHE/release-agent/<version>/<target>"
else
    not_ok "caches the binary and its digests under RUNNER_TOOL_CACHE/release-agent/<version>/<target>"
fi

# 2. The second run uses the cache: no request, and it works with the server gone.
before="$(requests)"
run INPUT_ARGS=plan INPUT_VERSION=1.2.3 GITHUB_PATH="$T/github_path"
if [ "$RC" -eq 0 ] && ran && [ "$(requests)" -eq "$before" ] && grep -q 'using the cached' "$T/err"; then
    ok "a second run uses the cache (no request; X.Y.Z means vX.Y.Z)"
else
    not_ok "a second run uses the cache (no request; X.Y.Z means vX.Y.Z)"
fi
if [ "$(cat "$T/github_path")" = "$cached" ]; then
    ok "adds the binary's directory to GITHUB_PATH"
else
    not_ok "adds the binary's directory to GITHUB_PATH"
fi
stop_server
run INPUT_ARGS=plan INPUT_VERSION=v1.2.3
if [ "$RC" -eq 0 ] && ran; then
    ok "a cached version runs with the server stopped"
else
    not_ok "a cached version runs with the server stopped"
fi
start_server

# 3. A cached binary that no longer matches its recorded digest is downloaded again.
printf '#!/bin/sh\necho tampered\n' >"$cached/release"
run INPUT_ARGS=plan INPUT_VERSION=v1.2.3
if [ "$RC" -eq 0 ] && ran && ! grep -q tampered "$T/out" && grep -q 'does not match' "$T/err"; then
    ok "a cached binary that does not match its recorded digest is replaced"
else
    not_ok "a cached binary that does not match its recorded digest is replaced"
fi

# 4. A wrong checksum fails, naming both digests, and runs nothing.
run INPUT_ARGS=ci INPUT_VERSION=v6.6.6
wrong="$(printf '%064d' 1)"
if [ "$RC" -ne 0 ] && ! ran && grep -q 'checksum mismatch' "$T/err" && grep -q "$wrong" "$T/err" &&
    grep -q "$DIGEST" "$T/err" && [ ! -e "$CACHE/release-agent/v6.6.6" ]; then
    ok "a checksum mismatch fails naming both digests, runs and caches nothing"
else
    not_ok "a checksum mismatch fails naming both digests, runs and caches nothing"
fi

# 5. No line for the archive in SHA256SUMS fails.
run INPUT_ARGS=ci INPUT_VERSION=v7.7.7
if [ "$RC" -ne 0 ] && ! ran && grep -q "no line for $ARCHIVE" "$T/err"; then
    ok "a SHA256SUMS without the archive's line fails and runs nothing"
else
    not_ok "a SHA256SUMS without the archive's line fails and runs nothing"
fi

# 6. A release that does not exist fails (curl --fail).
run INPUT_ARGS=ci INPUT_VERSION=v5.5.5
if [ "$RC" -ne 0 ] && ! ran && grep -q 'could not download' "$T/err"; then
    ok "a missing release fails"
else
    not_ok "a missing release fails"
fi

# 7. Runners without a binary fail clearly.
for runner in "Linux ARM" "Windows X64" " "; do
    run INPUT_ARGS=ci INPUT_VERSION=v1.2.3 RUNNER_OS="${runner% *}" RUNNER_ARCH="${runner#* }"
    if [ "$RC" -ne 0 ] && ! ran && grep -q "no release-agent binary for runner OS '${runner% *}' and architecture '${runner#* }'" "$T/err"; then
        ok "unknown runner '$runner' fails"
    else
        not_ok "unknown runner '$runner' fails"
    fi
done

# 8. Empty args fail.
run INPUT_ARGS="  " INPUT_VERSION=v1.2.3
if [ "$RC" -ne 0 ] && ! ran && grep -q 'input is empty' "$T/err"; then
    ok "empty args fail"
else
    not_ok "empty args fail"
fi

# 9. The default version: the action's ref when it is a version tag, else latest.
: >"$T/server.log"
run INPUT_ARGS=ci ACTION_REF=main
if [ "$RC" -eq 0 ] && ran && grep -q "latest/download/$ARCHIVE" "$T/server.log"; then
    ok "at a branch, the default version is latest"
else
    not_ok "at a branch, the default version is latest"
fi
# latest moves: its SHA256SUMS is fetched again, the archive only when its digest changed.
: >"$T/server.log"
run INPUT_ARGS=ci ACTION_REF=main
if [ "$RC" -eq 0 ] && ran && [ "$(requests)" -eq 1 ] && grep -q "latest/download/SHA256SUMS" "$T/server.log"; then
    ok "latest is cached while its SHA256SUMS keeps the same digest"
else
    not_ok "latest is cached while its SHA256SUMS keeps the same digest"
fi
rm -rf "$CACHE"
: >"$T/server.log"
run INPUT_ARGS=ci ACTION_REF=v1.2.3
if [ "$RC" -eq 0 ] && ran && grep -q "download/v1.2.3/$ARCHIVE" "$T/server.log"; then
    ok "at @v1.2.3, the default version is v1.2.3"
else
    not_ok "at @v1.2.3, the default version is v1.2.3"
fi
# A moving major tag: the action's checkout (…/_actions/OWNER/NAME/v1) has the version.txt of the
# release commit it points at.
mkdir -p "$T/_actions/owner/release-agent/v1"
echo 1.2.3 >"$T/_actions/owner/release-agent/v1/version.txt"
rm -rf "$CACHE"
: >"$T/server.log"
run INPUT_ARGS=ci GITHUB_ACTION_PATH="$T/_actions/owner/release-agent/v1"
if [ "$RC" -eq 0 ] && ran && grep -q "download/v1.2.3/$ARCHIVE" "$T/server.log"; then
    ok "at @v1, the default version is the one in the action's version.txt"
else
    not_ok "at @v1, the default version is the one in the action's version.txt"
fi

# 10. Without the override, the URL is the action's repository on GITHUB_SERVER_URL.
stop_server
env -i PATH="$PATH" HOME="$T" TMPDIR="$T" RUNNER_OS=Linux RUNNER_ARCH=X64 RUNNER_TOOL_CACHE="$T/c2" \
    GITHUB_SERVER_URL=http://127.0.0.1:9 ACTION_REPOSITORY=owner/release-agent \
    INPUT_ARGS=ci INPUT_VERSION=v1.2.3 bash "$INSTALL" >"$T/out" 2>"$T/err" || true
if grep -q 'http://127.0.0.1:9/owner/release-agent/releases/download/v1.2.3/SHA256SUMS' "$T/err"; then
    ok "downloads from GITHUB_SERVER_URL/<action repository>/releases/download/<tag>"
else
    not_ok "downloads from GITHUB_SERVER_URL/<action repository>/releases/download/<tag>"
fi

printf '\n%d passed, %d failed\n' "$PASSED" "$FAILED"
[ "$FAILED" -eq 0 ]
