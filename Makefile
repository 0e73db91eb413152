# release-agent: developer and release shortcuts.
#
#   make plan                 what the next release would be
#   make bump                 release at the level the commits ask for
#   make bump-minor           force a level (also bump-patch, bump-major)
#   make bump ARGS=--dry-run  pass extra flags to `release bump`
#   make changelog            unreleased changes, to stdout
#   make test                 the test suite (what CI runs, after fmt and clippy); installs
#                             the system packages it needs first (make deps)
#   make test-action          the GitHub Action's installer (bash, python3, curl, tar, sha256sum)
#   make bench                the benchmarks: history, monorepo, image promotion, rollback latency
#   make bench-selftest       check bench/synth-history, the benchmark's history generator
#   make fuzz                 run every fuzz target for FUZZ_SECONDS each
#
# RELEASE runs the CLI from this checkout, so nothing needs installing; set
# RELEASE=release to use an installed binary.

CARGO        ?= cargo
RELEASE      ?= $(CARGO) run --quiet --release --
ARGS         ?=
PYTHON       ?= python3
BENCH_ARGS   ?=
ROLLOUT_ARGS ?=
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= parse_commit plan_build config
# Commits that `lint-commits` checks: those on HEAD that are not on LINT_BASE.
LINT_BASE    ?= origin/main

.DEFAULT_GOAL := help

.PHONY: help plan bump bump-patch bump-minor bump-major changelog deps test test-action build release-build \
        bench bench-selftest install fuzz fuzz-build lint-commits fmt fmt-check clippy check

help:
	@sed -n '3,15s/^# \{0,1\}//p' $(firstword $(MAKEFILE_LIST))

## Releasing ---------------------------------------------------------------

plan:
	$(RELEASE) plan $(ARGS)

bump:
	$(RELEASE) bump $(ARGS)

bump-patch:
	$(RELEASE) bump patch $(ARGS)

bump-minor:
	$(RELEASE) bump minor $(ARGS)

bump-major:
	$(RELEASE) bump major $(ARGS)

changelog:
	$(RELEASE) changelog $(ARGS)

# Lint the messages of the commits on this branch. Skipped (not failed) when
# LINT_BASE does not exist, e.g. in a clone without that remote branch.
lint-commits:
	@if git rev-parse --verify --quiet '$(LINT_BASE)^{commit}' >/dev/null; then \
		echo '$(RELEASE) lint --range $(LINT_BASE)..HEAD'; \
		$(RELEASE) lint --range '$(LINT_BASE)..HEAD'; \
	else \
		echo "lint-commits: $(LINT_BASE) not found; skipping (set LINT_BASE=<ref>)"; \
	fi

## Development -------------------------------------------------------------

build:
	$(CARGO) build

release-build:
	$(CARGO) build --release

# The AWS adapters are tested against a real moto server (PyPI), kept in .venv.
MOTO_VERSION ?= 5.2.5
VENV         ?= .venv

# cbor2: CloudWatch's SDKs speak Smithy RPC v2 CBOR, which moto does not; the test launcher
# (tests/all/support/moto_launcher.py) translates it to the JSON protocol moto serves.
CBOR2_VERSION ?= 6.3.0
VENV_STAMP   := $(VENV)/.installed-moto-$(MOTO_VERSION)-cbor2-$(CBOR2_VERSION)

$(VENV_STAMP):
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check 'moto[server]==$(MOTO_VERSION)' 'cbor2==$(CBOR2_VERSION)'
	touch $@

$(VENV)/bin/moto_server: $(VENV_STAMP)

# Most integration tests wait (on moto's ECS deployments, on child processes), not compute: more
# test threads than cores halves the run on 2 cores. TEST_THREADS=1 runs them one at a time.
TEST_THREADS ?= 8

# The system packages the tests need (buildah, docker-registry, strace, ...): checked, and
# installed with apt-get when missing (root or password-less sudo; otherwise it says what to run).
deps:
	bash tests/deps.sh

test: deps $(VENV_STAMP)
	MOTO_SERVER=$(abspath $(VENV)/bin/moto_server) RUST_TEST_THREADS=$(TEST_THREADS) \
		$(CARGO) test --all-targets
	$(MAKE) test-action

# The composite action's installer (action/install.sh) against a fake release served on a
# loopback port: no Rust, no network.
test-action:
	bash tests/action/test_install.sh

fmt:
	$(CARGO) fmt --all

fmt-check:
	$(CARGO) fmt --all --check

clippy:
	$(CARGO) clippy --all-targets -- -D warnings

check: fmt-check clippy test

install:
	$(CARGO) install --path . --locked

# bench/run.py writes its repository with bench/synth-history (SYNTH_HISTORY overrides it);
# bench/monorepo.py its monorepo with bench/synth-monorepo.
bench: release-build $(VENV_STAMP)
	$(PYTHON) bench/run.py $(BENCH_ARGS)
	$(PYTHON) bench/monorepo.py $(MONOREPO_ARGS)
	$(PYTHON) bench/image.py
	$(VENV)/bin/python bench/rollout.py $(ROLLOUT_ARGS)

# The generator's own check (git and Python only, ~10 s): same arguments, same
# repository; commit and tag counts; tag versions by release's rules. Not part of `make test`.
bench-selftest:
	$(PYTHON) bench/test_synth_history.py

# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP lets the stable toolchain accept them.
# The fuzz crate has its own workspace and target dir (fuzz/target).
fuzz-build:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	RUSTC_BOOTSTRAP=1 $(CARGO) fuzz build

fuzz: fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "== fuzz $$t ($(FUZZ_SECONDS)s)"; \
		RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $$t -- -max_total_time=$(FUZZ_SECONDS); \
	done
