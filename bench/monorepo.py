#!/usr/bin/env python3
"""Monorepo benchmark for the `release` binary (`[packages]`).

Writes (once, cached under target/bench/) a synthetic monorepo with bench/synth-monorepo
(5 packages, a tag per package every 20 of its commits: 100,000 commits give about 1,000 tags
per package), then times against the same repository:

    git log --format=%H --name-only            the baseline: every commit's changed paths
    release plan --json                        every package's next version and commits
    release changelog --all --package p0       one package's whole history

each cold (without the package sets remembered under .git/release-agent/packages) and warm.

Goal: no slower than the baseline (ratio <= 1.0). Goal misses are reported as FAIL but do not
change the exit status; only an error (a command failing) does.

    python3 bench/monorepo.py                         # 100,000 commits
    python3 bench/monorepo.py --commits 20000 --runs 1
    python3 bench/monorepo.py --scale                 # 100k, 300k and 1M: time per commit
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (the history benchmark's binary, timing and table helpers)

SYNTH = os.path.join(run.ROOT, "bench", "synth-monorepo")
GOAL_RATIO = 1.0


def ensure_repo(commits, packages, tag_every):
    name = f"mono-{commits}-p{packages}-t{tag_every}"
    path = os.path.join(run.BENCH_DIR, name)
    if os.path.isdir(os.path.join(path, ".git")):
        return path
    os.makedirs(run.BENCH_DIR, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=name + ".tmp-", dir=run.BENCH_DIR)
    run.log(f"writing synthetic monorepo: {commits:,} commits, {packages} packages -> {path}")
    started = time.perf_counter()
    try:
        r = subprocess.run(
            [sys.executable, SYNTH, tmp, str(commits), "--packages", str(packages),
             "--tag-every", str(tag_every)],
            stdin=subprocess.DEVNULL,
        )
        if r.returncode != 0:
            raise run.BenchError(f"synth-monorepo failed (exit {r.returncode})")
        os.rename(tmp, path)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    run.log(f"  done in {time.perf_counter() - started:.1f}s")
    return path


def measure(repo, runs):
    """[(label, median s, min s, peak MB)] for every command, the baseline first."""
    with tempfile.TemporaryDirectory(prefix="release-bench-") as out_dir:
        changelog = [run.RELEASE_BIN, "-C", repo, "changelog", "--all", "--package", "p0",
                     "-o", os.path.join(out_dir, "CHANGELOG.md")]
        plan = [run.RELEASE_BIN, "-C", repo, "plan", "--json"]
        # (label, command, cold): a cold run starts without the remembered package sets.
        cmds = [
            ("git log --name-only", ["git", "-C", repo, "log", "--format=%H", "--name-only"],
             False),
            ("plan --json (cold)", plan, True),
            ("plan --json", plan, False),
            ("changelog --package (cold)", changelog, True),
            ("changelog --package", changelog, False),
        ]
        cache = os.path.join(repo, ".git", "release-agent", "packages")
        run.run_once(cmds[0][1], cmds[0][0])  # warm the page cache
        results = []
        for label, argv, cold in cmds:
            times, peaks = [], []
            for _ in range(runs):
                if cold:
                    shutil.rmtree(cache, ignore_errors=True)
                wall, peak = run.run_once(argv, label)
                times.append(wall)
                peaks.append(peak)
            results.append((label, statistics.median(times), min(times), max(peaks)))
    return results


def bench(commits, packages, tag_every, runs):
    """Time one size; returns its results and the number of goals missed."""
    repo = ensure_repo(commits, packages, tag_every)
    tags = len(subprocess.run(["git", "-C", repo, "tag"], capture_output=True, text=True,
                              check=True).stdout.split())
    results = measure(repo, runs)
    print(f"monorepo: {packages} packages")
    run.print_table(commits, tags, results)
    base = results[0][1]
    fails = 0
    print()
    for label, med, _, _ in results[1:]:
        ok = med / base <= GOAL_RATIO
        fails += not ok
        print(f"{'PASS' if ok else 'FAIL'}  {label}: {med / base:.2f}x git log --name-only "
              f"(goal <= {GOAL_RATIO:.1f}x)")
    return results, fails


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--commits", type=int, default=100_000)
    p.add_argument("--packages", type=int, default=5)
    p.add_argument("--tag-every", type=int, default=20, help="a package tag every N of its commits")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--scale", action="store_true",
                   help="run at 100k, 300k and 1M commits and print the time per commit")
    a = p.parse_args()
    try:
        run.ensure_binary()
        sizes = run.SCALE_SIZES if a.scale else (a.commits,)
        per_size, fails = [], 0
        for n in sizes:
            results, f = bench(n, a.packages, a.tag_every, a.runs)
            per_size.append((n, results))
            fails += f
        if a.scale:
            print("\ntime per commit (microseconds): flat across sizes means linear")
            print(f"{'command':<26}" + "".join(f"{n:>12,}" for n, _ in per_size)
                  + f"{'1M / 100k':>11}")
            print("-" * (26 + 12 * len(per_size) + 11))
            for i, (label, *_) in enumerate(per_size[0][1]):
                us = [results[i][1] / n * 1e6 for n, results in per_size]
                print(f"{label:<26}" + "".join(f"{u:>12.2f}" for u in us)
                      + f"{us[-1] / us[0]:>11.2f}")
        print(f"\n{'all goals met' if not fails else f'{fails} goal(s) missed'} (informational)")
        return 0
    except run.BenchError as e:
        run.log(f"bench: error: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
