#!/usr/bin/env bash
# Installs a checksum-verified `release` binary from a release-agent GitHub release, then runs
# `release <args>`. Called by the composite action (action.yml at the repository root); it reads
# only its environment, so it also runs outside Actions (tests/action/test_install.sh).
#
# Environment:
#   INPUT_ARGS      the arguments of `release`, split on whitespace (spaces, tabs, newlines).
#                   No shell expansion: no quotes, globs, $VARS or backslash escapes, so an
#                   argument cannot contain whitespace. Required.
#   INPUT_VERSION   the release to install: vX.Y.Z (or X.Y.Z), `latest`, or empty for the
#                   action's own version (ACTION_REF when it is a version tag, else `latest`).
#   ACTION_REF, ACTION_REPOSITORY   the action's ref and owner/name (github.action_ref and
#                   github.action_repository); when empty, read from GITHUB_ACTION_PATH
#                   (.../_actions/OWNER/NAME/REF).
#   GITHUB_ACTION_PATH   the action's checkout: its version.txt resolves a moving major tag
#                   (v1) to the release it points at.
#   RUNNER_OS, RUNNER_ARCH   select the target (Linux/macOS, X64/ARM64).
#   RUNNER_TOOL_CACHE   the cache root (binaries go to release-agent/<version>/<target>/).
#   GITHUB_SERVER_URL   default https://github.com.
#   RELEASE_AGENT_DOWNLOAD_BASE   replaces ${GITHUB_SERVER_URL}/OWNER/NAME/releases (tests);
#                   files are fetched from $BASE/download/<tag>/<file> or
#                   $BASE/latest/download/<file>.
#   GITHUB_PATH     when set, the binary's directory is appended, so later steps find `release`.
set -euo pipefail

die() {
    printf 'release-agent action: error: %s\n' "$*" >&2
    exit 1
}
log() { printf 'release-agent action: %s\n' "$*" >&2; }

# --- arguments ----------------------------------------------------------------------------------

# Whitespace-split, nothing expanded: `read -a` does no globbing and no parameter expansion, and
# -r keeps backslashes. -d '' reads through newlines (read then returns 1 at the end of input).
ARGS=()
read -ra ARGS -d '' <<<"${INPUT_ARGS:-}" || true
[ "${#ARGS[@]}" -gt 0 ] || die "the \`args\` input is empty: give the arguments of release, e.g. \`args: ci\`"

# --- target -------------------------------------------------------------------------------------

os="${RUNNER_OS:-}"
arch="${RUNNER_ARCH:-}"
case "$os/$arch" in
    Linux/X64) target=x86_64-unknown-linux-musl ;;
    Linux/ARM64) target=aarch64-unknown-linux-musl ;;
    macOS/X64) target=x86_64-apple-darwin ;;
    macOS/ARM64) target=aarch64-apple-darwin ;;
    *) die "no release-agent binary for runner OS '${os}' and architecture '${arch}' (there are binaries for Linux and macOS, X64 and ARM64); install it with \`cargo install release-agent\` instead" ;;
esac

# --- version ------------------------------------------------------------------------------------

action_path="${GITHUB_ACTION_PATH:-}"
action_ref="${ACTION_REF:-}"
action_repository="${ACTION_REPOSITORY:-}"
# github.action_ref/action_repository can be empty in composite actions: the runner checks an
# action out at <runner>/_actions/OWNER/NAME/REF.
if [ -n "$action_path" ]; then
    [ -n "$action_ref" ] || action_ref="$(basename -- "$action_path")"
    [ -n "$action_repository" ] ||
        action_repository="$(basename -- "$(dirname -- "$(dirname -- "$action_path")")")/$(basename -- "$(dirname -- "$action_path")")"
fi

version_re='^v?[0-9]+(\.[0-9]+(\.[0-9]+([-+][0-9A-Za-z.+-]+)?)?)?$'
version="${INPUT_VERSION:-}"
if [ -z "$version" ]; then
    if [[ "$action_ref" =~ $version_re ]]; then
        version="$action_ref"
        # A moving tag (v1, v1.2) points at a release commit: its version.txt names the release.
        if ! [[ "$version" =~ ^v?[0-9]+\.[0-9]+\.[0-9]+ ]] && [ -f "$action_path/version.txt" ]; then
            version="v$(tr -d '[:space:]' <"$action_path/version.txt")"
        fi
    else
        version=latest
    fi
fi
if [ "$version" != latest ]; then
    [[ "$version" =~ $version_re ]] || die "\`version\` must be vX.Y.Z or latest, not '$version'"
    [[ "$version" == v* ]] || version="v$version"
    [[ "$version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+ ]] ||
        die "cannot tell which release '$version' is: give \`version: vX.Y.Z\` (or use the action at a release tag)"
fi

# --- download location --------------------------------------------------------------------------

if [ -n "${RELEASE_AGENT_DOWNLOAD_BASE:-}" ]; then
    base="${RELEASE_AGENT_DOWNLOAD_BASE%/}"
else
    [ -n "$action_repository" ] && [ "$action_repository" != "/" ] ||
        die "cannot tell which repository the action comes from; set RELEASE_AGENT_DOWNLOAD_BASE"
    base="${GITHUB_SERVER_URL:-https://github.com}/${action_repository}/releases"
fi
if [ "$version" = latest ]; then
    url_dir="$base/latest/download"
else
    url_dir="$base/download/$version"
fi
archive="release-${target}.tar.gz"

# --- helpers ------------------------------------------------------------------------------------

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum -- "$1" | cut -d' ' -f1
    else
        shasum -a 256 -- "$1" | cut -d' ' -f1 # macOS runners
    fi
}

fetch() { # URL FILE
    log "downloading $1"
    curl --fail --silent --show-error --location --retry 3 --output "$2" -- "$1" ||
        die "could not download $1"
}

cache_root="${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}}"
cache_dir="$cache_root/release-agent/$version/$target"
bin="$cache_dir/release"

work="$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/release-agent.XXXXXX")"
trap 'rm -rf -- "$work"' EXIT

# `latest` moves: its SHA256SUMS is fetched every time, and the cache is used only when it holds
# that very archive. A version tag does not move: a cached binary whose digest is still the one
# recorded when it was verified is used without any download.
expected=""
if [ "$version" = latest ]; then
    fetch "$url_dir/SHA256SUMS" "$work/SHA256SUMS"
fi

expected_digest() { # the digest of $archive in $work/SHA256SUMS, or fail
    local digests
    # `sha256sum` lines: "<digest>  <name>" (or "<digest> *<name>" in binary mode).
    digests="$(awk -v f="$archive" '{ n = $2; sub(/^\*/, "", n) } n == f { print tolower($1) }' \
        "$work/SHA256SUMS" | sort -u)"
    [ -n "$digests" ] || die "SHA256SUMS of release $version has no line for $archive: not running an unverified binary"
    [ "$(printf '%s\n' "$digests" | wc -l)" -eq 1 ] ||
        die "SHA256SUMS of release $version has conflicting lines for $archive"
    [[ "$digests" =~ ^[0-9a-f]{64}$ ]] ||
        die "SHA256SUMS of release $version has a malformed digest for $archive: '$digests'"
    printf '%s\n' "$digests"
}
if [ -f "$work/SHA256SUMS" ]; then
    expected="$(expected_digest)"
fi

cached=false
if [ -x "$bin" ] && [ -f "$cache_dir/release.sha256" ] && [ -f "$cache_dir/archive.sha256" ]; then
    if [ "$(sha256_of "$bin")" = "$(cat "$cache_dir/release.sha256")" ] &&
        { [ -z "$expected" ] || [ "$expected" = "$(cat "$cache_dir/archive.sha256")" ]; }; then
        cached=true
        log "using the cached $bin ($version, $target)"
    else
        log "the cached $bin does not match its recorded checksum: downloading it again"
    fi
fi

if [ "$cached" = false ]; then
    if [ -z "$expected" ]; then
        fetch "$url_dir/SHA256SUMS" "$work/SHA256SUMS"
        expected="$(expected_digest)"
    fi
    fetch "$url_dir/$archive" "$work/$archive"
    actual="$(sha256_of "$work/$archive")"
    [ "$actual" = "$expected" ] ||
        die "checksum mismatch for $archive of release $version: SHA256SUMS says $expected, the download is $actual; not running it"
    log "verified $archive: sha256 $actual"

    mkdir -p "$work/x"
    tar -xzf "$work/$archive" -C "$work/x" release ||
        die "$archive has no \`release\` binary at its root"
    [ -f "$work/x/release" ] && [ ! -L "$work/x/release" ] ||
        die "\`release\` in $archive is not a regular file"
    chmod 0755 "$work/x/release"

    # Into the cache through a rename, so a concurrent or interrupted run never sees half a file.
    mkdir -p "$cache_dir"
    tmp="$cache_dir/.release.$$"
    cp -- "$work/x/release" "$tmp"
    sha256_of "$tmp" >"$cache_dir/release.sha256"
    printf '%s\n' "$expected" >"$cache_dir/archive.sha256"
    mv -f -- "$tmp" "$bin"
    log "installed $bin ($version, $target)"
fi

if [ -n "${GITHUB_PATH:-}" ]; then
    printf '%s\n' "$cache_dir" >>"$GITHUB_PATH"
fi

rm -rf -- "$work"
trap - EXIT
log "release ${ARGS[*]}"
exec "$bin" "${ARGS[@]}"
