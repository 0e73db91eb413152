#!/usr/bin/env python3
"""Self-check of bench/synth-history (`make bench-selftest`, or run this file).

Generates small repositories into temporary directories and checks that the same arguments
give the same commit and tag ids (also with a hostile user configuration and GIT_* variables),
the commit and tag counts, that the tags are annotated, that every tag's version follows from
the commits since the previous tag by `release`'s default rules (re-derived here from the
messages, independently of the generator), and that a non-empty DIR is refused without
--force. With RELEASE_BIN set, it also asks `release plan` for each tag's version.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SYNTH = os.path.join(HERE, "synth-history")

HEADER = re.compile(r"([A-Za-z]+)(\([^\s()]+\))?(!)?: \S")
GIT_REVERT = re.compile(r'Revert ".*"( \(#\d+\))*$')
BREAKING_FOOTER = re.compile(r"BREAKING[ -]CHANGE: \S", re.M)
REVERTED_ID = re.compile(r"^This reverts commit ([0-9a-f]{7,64})\.$", re.M)
LEVELS = {"feat": 2, "fix": 1, "perf": 1, "revert": 1}


def level(message):
    """The bump level `release` reads in a generated message: 3 major .. 0 none."""
    header = message.split("\n", 1)[0]
    m = HEADER.match(header)
    if m:
        if m.group(3) or BREAKING_FOOTER.search(message):
            return 3
        return LEVELS.get(m.group(1).lower(), 0)
    return 1 if GIT_REVERT.match(header) else 0


def bumped(version, lvl):
    if version is None:
        return (0, 1, 0)
    x, y, z = version
    return (x + 1, 0, 0) if lvl == 3 else (x, y + 1, 0) if lvl == 2 else (x, y, z + 1)


def git(repo, *args, env=None):
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True,
                          text=True, env=env).stdout


def synth(*args, env=None, check=True):
    return subprocess.run([sys.executable, SYNTH, *map(str, args)], capture_output=True,
                          text=True, env=env, check=check)


def fingerprint(repo):
    """Every ref with its id and object type, and HEAD."""
    return (git(repo, "rev-parse", "HEAD"),
            git(repo, "for-each-ref", "--format=%(refname) %(objectname) %(objecttype)"))


class SynthHistory(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="synth-history-test-")
        self.addCleanup(self.tmp.cleanup)

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def test_same_arguments_same_repository(self):
        a, b, c = self.path("a"), self.path("b"), self.path("c")
        synth(a, 500)
        # A user configuration and git variables that would change ids if they leaked in.
        home = self.path("home")
        os.makedirs(home)
        with open(os.path.join(home, ".gitconfig"), "w") as f:
            f.write("[init]\n\tdefaultBranch = trunk\n\tdefaultObjectFormat = sha256\n"
                    "[user]\n\tname = Someone Else\n\temail = else@example.org\n"
                    "[i18n]\n\tcommitEncoding = ISO-8859-1\n")
        env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=home, GIT_AUTHOR_NAME="Intruder",
                   GIT_COMMITTER_DATE="2000-01-01T00:00:00Z", GIT_DEFAULT_HASH="sha256",
                   GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0="init.defaultBranch",
                   GIT_CONFIG_VALUE_0="other", TZ="Asia/Tokyo")
        synth(b, 500, env=env)
        self.assertEqual(fingerprint(a), fingerprint(b))
        self.assertEqual(git(a, "tag"), git(b, "tag"))
        self.assertEqual(git(a, "symbolic-ref", "HEAD").strip(), "refs/heads/main")
        # Another seed, another history.
        synth(c, 500, "--seed", 7)
        self.assertNotEqual(fingerprint(a)[0], fingerprint(c)[0])

    def test_counts_annotated_tags_and_a_clean_tree(self):
        repo = self.path("r")
        out = synth(repo, 500).stdout
        self.assertIn("500 commits, 5 tags", out)
        self.assertEqual(git(repo, "rev-list", "--count", "HEAD").strip(), "500")
        tags = git(repo, "for-each-ref", "--format=%(refname:short) %(objecttype) %(*objectname)",
                   "refs/tags").split("\n")[:-1]
        self.assertEqual(len(tags), 5)
        for line in tags:
            name, kind, target = line.split()
            self.assertEqual(kind, "tag", f"{name} is not annotated")
            # Tags every 100 commits: on the 100th, 200th, ... commit.
            n = int(git(repo, "rev-list", "--count", target).strip())
            self.assertEqual(n % 100, 0, f"{name} is on commit {n}")
        self.assertEqual(git(repo, "status", "--porcelain"), "")
        self.assertGreater(len(git(repo, "ls-files").split()), 5)
        # No commit is empty: each one changes at least a file.
        changes = git(repo, "log", "--root", "--format=%x00", "--name-only").split("\0")[1:]
        self.assertEqual(len(changes), 500)
        self.assertTrue(all(c.strip() for c in changes))

    def test_prefix(self):
        repo = self.path("p")
        synth(repo, 300, "--prefix", "release-", "--tag-every", 50)
        self.assertTrue(all(t.startswith("release-") for t in git(repo, "tag").split()))

    def test_versions_follow_release_rules(self):
        """Every tag is what `release plan` computes from the commits since the previous one."""
        repo = self.path("v")
        # Small ranges, so that some have nothing to release (no tag) and breaking changes,
        # features and fixes each decide some releases.
        synth(repo, 20_000, "--tag-every", 4)
        tag_at = {}
        for line in git(repo, "for-each-ref", "--format=%(*objectname) %(refname:short)",
                        "refs/tags").split("\n")[:-1]:
            commit, name = line.split()
            tag_at[commit] = name
        log = git(repo, "log", "--reverse", "--format=%H%n%B%x00").split("\0")[:-1]
        ids = [entry.strip("\n").split("\n", 1)[0] for entry in log]
        self.assertEqual(len(ids), 20_000)
        version, lvl, seen, skipped = None, 0, set(), 0
        for n, entry in enumerate(log, start=1):
            commit, message = entry.strip("\n").split("\n", 1)
            lvl = max(lvl, level(message))
            for reverted in REVERTED_ID.findall(message):
                self.assertFalse(any(i.startswith(reverted) for i in ids), "a revert names a commit")
            if n % 4:
                self.assertNotIn(commit, tag_at)
                continue
            if lvl == 0:
                self.assertNotIn(commit, tag_at, f"commit {n}: a tag with nothing to release")
                skipped += 1
                continue
            expected = bumped(version, lvl)
            self.assertEqual(tag_at.get(commit), "v%d.%d.%d" % expected, f"commit {n}")
            seen.add(lvl if version else 0)
            version, lvl = expected, 0
        self.assertEqual(seen, {0, 1, 2, 3}, "first release, patch, minor and major all happen")
        self.assertGreater(skipped, 0)
        self.assertEqual(len(tag_at), 20_000 // 4 - skipped)

    def test_refuses_a_non_empty_directory(self):
        repo = self.path("full")
        os.makedirs(repo)
        with open(os.path.join(repo, "keep.txt"), "w") as f:
            f.write("mine\n")
        r = synth(repo, 10, check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("not empty", r.stderr)
        self.assertTrue(os.path.exists(os.path.join(repo, "keep.txt")))
        r = synth(repo, 10, "--force", check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(os.path.exists(os.path.join(repo, "keep.txt")))
        self.assertEqual(git(repo, "rev-list", "--count", "HEAD").strip(), "10")
        # An empty directory is fine without --force.
        empty = self.path("empty")
        os.makedirs(empty)
        synth(empty, 10)

    @unittest.skipUnless(os.environ.get("RELEASE_BIN"), "set RELEASE_BIN to ask `release plan`")
    def test_release_plan_agrees_with_every_tag(self):
        repo = self.path("plan")
        synth(repo, 3_000, "--tag-every", 25)
        tags = git(repo, "for-each-ref", "--sort=-creatordate", "--format=%(refname:short)",
                   "refs/tags").split()
        self.assertGreater(len(tags), 50)
        # Newest first: drop the tag, put HEAD on its commit, and ask for the next version.
        for tag in tags:
            git(repo, "checkout", "-q", "--detach", tag)
            git(repo, "tag", "-d", tag)
            out = subprocess.run([os.environ["RELEASE_BIN"], "-C", repo, "plan", "--json"],
                                 check=True, capture_output=True, text=True).stdout
            self.assertEqual(json.loads(out)["next_tag"], tag)


if __name__ == "__main__":
    unittest.main(verbosity=2)
