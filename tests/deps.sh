#!/usr/bin/env bash
# The system packages the test suite needs, checked and, where missing, installed with apt-get
# (as root, or through a non-interactive sudo). `make test` runs it first; `.ci/run` too.
#
#   bash tests/deps.sh           check, install what is missing
#   bash tests/deps.sh --check   check only: list what is missing, exit 1 if anything is
#
# A command is checked rather than its package, so a tool from elsewhere (a git in /usr/local)
# counts; only a file on PATH does (`type -P`): bash's builtin `kill` is not the one tests run.
# Without root and without a password-less sudo it prints the one apt-get command to run and
# exits 1: it never prompts.
set -euo pipefail

CHECK_ONLY=0
[ "${1:-}" = "--check" ] && CHECK_ONLY=1

# command  package  why
NEEDS=(
    "git        git             the tests make real repositories"
    "make       make            make test, make .venv/bin/moto_server"
    "cc         gcc             libgit2 (vendored by git2) and aws-lc are built with cc"
    "script     bsdutils        tests run release in a pseudo-terminal"
    "strace     strace          tests/all/kill.rs kills release bump at each rename"
    "kill       procps          tests/all/kill.rs and rollout.rs signal release with /usr/bin/kill"
    "ssh-keygen openssh-client  tests/all/signing.rs signs with a throwaway SSH key"
    "gpg        gnupg           tests/all/signing.rs signs with a throwaway GPG key"
    "gpg-agent  gpg-agent       gpg's agent, which gpg starts to sign"
    "curl       curl            tests/action: the action's installer downloads with curl"
    "sha256sum  coreutils       tests/action and the release assets: SHA256SUMS"
    "python3    python3         moto (the AWS emulator) and the fake release server"
    "buildah    buildah         release image builds with buildah (no Docker engine)"
    "docker-registry docker-registry the image tests push to a local registry"
)

missing_pkgs=()
for line in "${NEEDS[@]}"; do
    read -r cmd pkg why <<<"$line"
    if ! type -P "$cmd" >/dev/null 2>&1; then
        echo "missing: $cmd (Debian package $pkg): $why" >&2
        missing_pkgs+=("$pkg")
    fi
done
# moto runs in a venv: the venv module (and ensurepip) must exist.
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "missing: python3's venv module (Debian package python3-venv): moto runs in .venv" >&2
    missing_pkgs+=(python3-venv)
fi
# cargo fetches crates over https.
if [ ! -e /etc/ssl/certs/ca-certificates.crt ] && command -v dpkg >/dev/null 2>&1; then
    echo "missing: CA certificates (Debian package ca-certificates): cargo fetches over https" >&2
    missing_pkgs+=(ca-certificates)
fi
# Debian's python3 comes without venv: a missing python3 needs both.
if ! command -v python3 >/dev/null 2>&1; then
    missing_pkgs+=(python3-venv)
fi

if [ "${#missing_pkgs[@]}" -eq 0 ]; then
    echo "tests/deps.sh: every system package the tests need is here"
    exit 0
fi
# Unique, in order.
mapfile -t missing_pkgs < <(printf '%s\n' "${missing_pkgs[@]}" | awk '!seen[$0]++')
install=(apt-get install -y -qq --no-install-recommends "${missing_pkgs[@]}")
if [ "$CHECK_ONLY" -eq 1 ]; then
    echo "to install them: sudo apt-get update && sudo ${install[*]}" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "tests/deps.sh: no apt-get here; install the packages above by other means" >&2
    exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "tests/deps.sh: installing these needs root; run:" >&2
    echo "    sudo apt-get update && sudo ${install[*]}" >&2
    echo "then run the tests again." >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "tests/deps.sh: apt-get install ${missing_pkgs[*]}"
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" "${install[@]}" </dev/null
for line in "${NEEDS[@]}"; do
    read -r cmd pkg _ <<<"$line"
    type -P "$cmd" >/dev/null 2>&1 || { echo "tests/deps.sh: $cmd still missing after installing $pkg" >&2; exit 1; }
done
echo "tests/deps.sh: installed ${missing_pkgs[*]}"
