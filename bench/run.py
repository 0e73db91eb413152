#!/usr/bin/env python3
"""History benchmark for the `release` binary.

Writes (once, cached under target/bench/) a synthetic repository with a
conventional-commit history and release tags, then times, against the same
repository and in the same run:

    git log --format=%B                  the baseline: git reading every message
    release -C REPO plan --json          next version from the commits since the last tag
    release -C REPO changelog --all      every release's notes, from all of history

Each command runs --runs times (default 3) after one warm-up of the baseline;
the table shows the median wall time, its ratio to the baseline and the peak
RSS (ru_maxrss of that child, via GNU time). Goals: ratio <= 1.0 (no slower than git
reading the messages, which it does on one core), peak < 200 MB.
Goal misses are reported as FAIL but do not change the exit status; only an
error (a command failing) does.

    python3 bench/run.py                  # 100,000 commits, a tag every 100
    python3 bench/run.py --commits 20000 --tag-every 50
    python3 bench/run.py --scale          # 100k, 300k and 1M: time per commit

Environment: SYNTH_HISTORY (the generator, default bench/synth-history in this
repository), RELEASE_BIN (default target/release/release, built with
`cargo build --release` when missing).
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_DIR = os.path.join(ROOT, "target", "bench")
SYNTH = os.environ.get("SYNTH_HISTORY") or os.path.join(ROOT, "bench", "synth-history")
RELEASE_BIN = os.environ.get("RELEASE_BIN") or os.path.join(ROOT, "target", "release", "release")

GOAL_RATIO = 1.0
GOAL_PEAK_MB = 200.0
SCALE_SIZES = (100_000, 300_000, 1_000_000)


class BenchError(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def ensure_binary():
    if os.path.isfile(RELEASE_BIN) and os.access(RELEASE_BIN, os.X_OK):
        return
    if "RELEASE_BIN" in os.environ:
        raise BenchError(f"RELEASE_BIN={RELEASE_BIN} is not an executable file")
    log("building the release binary: cargo build --release")
    r = subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT)
    if r.returncode != 0 or not os.path.isfile(RELEASE_BIN):
        raise BenchError("cargo build --release failed")


def ensure_repo(commits, tag_every):
    """The cached synthetic repository for this size, generated when missing."""
    name = f"repo-{commits}" if tag_every == 100 else f"repo-{commits}-t{tag_every}"
    path = os.path.join(BENCH_DIR, name)
    if os.path.isdir(os.path.join(path, ".git")):
        return path
    if not os.path.isfile(SYNTH):
        raise BenchError(f"synth-history not found at {SYNTH} (set SYNTH_HISTORY)")
    os.makedirs(BENCH_DIR, exist_ok=True)
    # Generate beside the final path and rename, so an interrupted run is never reused.
    tmp = tempfile.mkdtemp(prefix=name + ".tmp-", dir=BENCH_DIR)
    log(f"writing synthetic history: {commits:,} commits, a tag every {tag_every} -> {path}")
    started = time.perf_counter()
    try:
        r = subprocess.run(
            [sys.executable, SYNTH, tmp, str(commits), "--tag-every", str(tag_every)],
            stdin=subprocess.DEVNULL,
        )
        if r.returncode != 0:
            raise BenchError(f"synth-history failed (exit {r.returncode})")
        os.rename(tmp, path)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    log(f"  done in {time.perf_counter() - started:.1f}s")
    return path


GNU_TIME = "/usr/bin/time"


def run_once(argv, label):
    """Run argv with stdout discarded; return (wall seconds, peak RSS in MB).

    The peak comes from GNU time (`-f %M`) when it is installed: a child forked from this
    Python process inherits Python's RSS high-water mark in its ru_maxrss, so wait4 alone
    reports at least Python's own size. Without GNU time, wait4 is used (a floor of ~15 MB).
    The wall time includes GNU time's own start-up (about a millisecond).
    """
    use_time = os.access(GNU_TIME, os.X_OK)
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as peak_file:
        full = [GNU_TIME, "-q", "-f", "%M", "-o", peak_file.name] + argv if use_time else argv
        started = time.perf_counter()
        proc = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace").strip()[-2000:]
            raise BenchError(f"{label} failed (exit {proc.returncode}): {' '.join(argv)}\n{tail}")
        # Both report KiB on Linux.
        peak_kib = usage.ru_maxrss
        if use_time:
            lines = [l for l in peak_file.read().split() if l.strip().isdigit()]
            if not lines:
                raise BenchError(f"{GNU_TIME} gave no peak RSS for {label}")
            peak_kib = int(lines[-1])
    return wall, peak_kib / 1024.0


def commands(repo, out_dir):
    changelog_out = os.path.join(out_dir, "CHANGELOG.md")
    return [
        ("git log --format=%B", ["git", "-C", repo, "log", "--format=%B"]),
        ("release plan --json", [RELEASE_BIN, "-C", repo, "plan", "--json"]),
        ("release changelog --all", [RELEASE_BIN, "-C", repo, "changelog", "--all", "-o", changelog_out]),
    ]


def measure(repo, runs, warmup):
    """[(label, median s, min s, peak MB)] for every command, baseline first."""
    results = []
    with tempfile.TemporaryDirectory(prefix="release-bench-") as out_dir:
        cmds = commands(repo, out_dir)
        for _ in range(warmup):  # warm the page cache for everyone
            run_once(cmds[0][1], cmds[0][0])
        for label, argv in cmds:
            times, peaks = [], []
            for _ in range(runs):
                wall, peak = run_once(argv, label)
                times.append(wall)
                peaks.append(peak)
            results.append((label, statistics.median(times), min(times), max(peaks)))
    return results


def print_table(commits, tags, results):
    base = results[0][1]
    print(f"\n{commits:,} commits, {tags:,} tags")
    print(f"{'command':<26} {'median s':>9} {'min s':>8} {'x git log':>10} {'peak MB':>8}")
    print("-" * 65)
    for label, med, low, peak in results:
        print(f"{label:<26} {med:>9.3f} {low:>8.3f} {med / base:>10.2f} {peak:>8.1f}")


def check_goals(results):
    """PASS/FAIL lines for the release commands; returns the number of FAILs."""
    base = results[0][1]
    fails = 0
    print()
    for label, med, _, peak in results[1:]:
        ratio = med / base
        for ok, text in (
            (ratio <= GOAL_RATIO, f"time {ratio:.2f}x git log (goal <= {GOAL_RATIO:.1f}x)"),
            (peak < GOAL_PEAK_MB, f"peak {peak:.1f} MB (goal < {GOAL_PEAK_MB:.0f} MB)"),
        ):
            fails += not ok
            print(f"{'PASS' if ok else 'FAIL'}  {label}: {text}")
    return fails


def bench(commits, tag_every, runs, warmup):
    repo = ensure_repo(commits, tag_every)
    results = measure(repo, runs, warmup)
    print_table(commits, commits // tag_every, results)
    return results, check_goals(results)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--commits", type=int, default=100_000, help="commits in the synthetic repository (default 100000)")
    p.add_argument("--tag-every", type=int, default=100, help="a release tag every N commits (default 100)")
    p.add_argument("--runs", type=int, default=3, help="timed runs per command; the median is reported (default 3)")
    p.add_argument("--warmup", type=int, default=1, help="untimed baseline runs first (default 1)")
    p.add_argument(
        "--scale",
        action="store_true",
        help="run at 100k, 300k and 1M commits and print the time per commit (linearity)",
    )
    a = p.parse_args()
    if a.commits < 1 or a.tag_every < 1 or a.runs < 1 or a.warmup < 0:
        p.error("--commits, --tag-every and --runs must be positive")

    try:
        ensure_binary()
        print(f"release: {RELEASE_BIN}")
        print(f"git: {subprocess.run(['git', '--version'], capture_output=True, text=True).stdout.strip()}")
        print(f"runs: {a.runs} per command (median), {a.warmup} warm-up")
        if not a.scale:
            _, fails = bench(a.commits, a.tag_every, a.runs, a.warmup)
            print(f"\n{'all goals met' if not fails else f'{fails} goal(s) missed'} (informational)")
            return 0

        per_size = []
        fails = 0
        for n in SCALE_SIZES:
            results, f = bench(n, a.tag_every, a.runs, a.warmup)
            per_size.append((n, results))
            fails += f
        print("\ntime per commit (microseconds): flat across sizes means linear")
        labels = [r[0] for r in per_size[0][1]]
        print(f"{'command':<26}" + "".join(f"{n:>12,}" for n, _ in per_size) + f"{'1M / 100k':>11}")
        print("-" * (26 + 12 * len(per_size) + 11))
        for i, label in enumerate(labels):
            us = [results[i][1] / n * 1e6 for n, results in per_size]
            print(f"{label:<26}" + "".join(f"{u:>12.2f}" for u in us) + f"{us[-1] / us[0]:>11.2f}")
        print(f"\n{'all goals met' if not fails else f'{fails} goal(s) missed'} (informational)")
        return 0
    except BenchError as e:
        log(f"bench: error: {e}")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
