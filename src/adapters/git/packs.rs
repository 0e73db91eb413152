//! Commit objects read straight from a repository's pack files, for whole-history walks.
//!
//! libgit2 reads an object by searching the pack index with a `memcmp` per probe, starting a
//! new zlib stream (and its window) per object and parsing the whole commit into allocated
//! fields: on a 100,000-commit history that is half the walk. Here the index is searched with
//! integer compares, and the object is inflated by libdeflate in one call, with one reused
//! decompressor, into a buffer of its known size. Only what this reader is sure of is read
//! here: a commit stored whole in a version-2 index and pack. Anything else (a loose object, a
//! delta, another index version, a damaged pack) is `None`, and the caller asks libgit2, which
//! gives the same bytes or the right error.

use git2::{Oid, Repository};
use libdeflater::Decompressor;
use std::cmp::Ordering;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Bytes read from a pack at a time. A walk reads commits roughly in pack order (backwards for
/// `git fast-import` packs, forwards for `git repack`'s), so a few blocks serve most reads.
/// Small in tests, so that their packs have commits running from one block into the next.
const BLOCK: u64 = if cfg!(test) { 4 << 10 } else { 1 << 20 };
/// Blocks kept per pack (8 MB): the walk's neighbourhood, not the pack.
const BLOCKS: usize = 8;
/// Commits larger than this are left to libgit2 rather than allocated here.
const MAX_COMMIT: u64 = 16 << 20;
/// A pack entry's type: a whole commit.
const OBJ_COMMIT: u8 = 1;

/// The pack files of a repository, opened for reading commits.
pub(super) struct Packs {
    packs: Vec<Pack>,
    /// The pack the last commit came from, tried first.
    last: usize,
    inflate: Decompressor,
    /// The last commit read.
    object: Vec<u8>,
}

impl Packs {
    /// The packs of `repo` whose index and pack this reader understands; `None` when there is
    /// none, or when libgit2 would rewrite what a commit says (grafts, a shallow clone's
    /// boundary), which only libgit2 should then read.
    pub(super) fn open(repo: &Repository) -> Option<Packs> {
        let git_dir = repo.commondir();
        if repo.is_shallow() || git_dir.join("info").join("grafts").exists() {
            return None;
        }
        let dir = git_dir.join("objects").join("pack");
        let mut packs = Vec::new();
        for entry in std::fs::read_dir(&dir).ok()?.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "idx") {
                // A pack this reader cannot use is simply left to libgit2.
                if let Some(pack) = Pack::open(&path) {
                    packs.push(pack);
                }
            }
        }
        (!packs.is_empty()).then(|| Packs {
            packs,
            last: 0,
            inflate: Decompressor::new(),
            object: Vec::new(),
        })
    }

    /// The raw bytes of commit `id` (its header lines, a blank line, its message), if it is
    /// stored whole in one of the packs and inflates to the size its entry gives.
    pub(super) fn commit(&mut self, id: &Oid) -> Option<&[u8]> {
        let key = id.as_bytes();
        let (last, n) = (self.last, self.packs.len());
        for i in std::iter::once(last).chain((0..n).filter(|&i| i != last)) {
            let Some(offset) = self.packs.get(i).and_then(|p| p.index.find(key)) else {
                continue;
            };
            self.last = i;
            let pack = &mut self.packs[i];
            return pack
                .read_commit(offset, &mut self.inflate, &mut self.object)
                .then_some(&self.object[..]);
        }
        None
    }
}

/// One pack: its index in memory, its data read in blocks.
struct Pack {
    index: Index,
    data: Blocks,
}

impl Pack {
    /// The pack of index `idx`, when both are version 2 and agree on the object count.
    fn open(idx: &Path) -> Option<Pack> {
        let index = Index::read(idx)?;
        let file = open_regular(&idx.with_extension("pack"))?;
        let len = file.metadata().ok()?.len();
        let mut header = [0u8; 12];
        file.read_exact_at(&mut header, 0).ok()?;
        let version = u32::from_be_bytes(header[4..8].try_into().ok()?);
        let count = u32::from_be_bytes(header[8..12].try_into().ok()?);
        if &header[..4] != b"PACK" || !(2..=3).contains(&version) || count != index.count() {
            return None;
        }
        Some(Pack {
            index,
            data: Blocks {
                file,
                len,
                blocks: Vec::new(),
                clock: 0,
            },
        })
    }

    /// Inflate the commit at `offset` into `out`; false when the entry is anything else (a
    /// delta, another type, damaged data).
    fn read_commit(&mut self, offset: u64, z: &mut Decompressor, out: &mut Vec<u8>) -> bool {
        // The entry header: type in bits 4-6 of the first byte, then the size, 7 bits a byte.
        let mut at = offset;
        let Some(first) = self.data.byte(at) else {
            return false;
        };
        at += 1;
        let kind = (first >> 4) & 7;
        let mut size = u64::from(first & 0x0f);
        let mut shift = 4;
        let mut more = first & 0x80 != 0;
        while more {
            let Some(b) = self.data.byte(at) else {
                return false;
            };
            at += 1;
            if shift > 56 {
                return false;
            }
            size |= u64::from(b & 0x7f) << shift;
            shift += 7;
            more = b & 0x80 != 0;
        }
        if kind != OBJ_COMMIT || size > MAX_COMMIT {
            return false;
        }
        let size = size as usize;
        out.clear();
        out.resize(size, 0);
        let Some(input) = self.data.from(at) else {
            return false;
        };
        // Most streams end within the block they start in; libdeflate stops at the stream's
        // end and ignores what follows.
        if let Ok(n) = z.zlib_decompress(input, out) {
            return n == size;
        }
        // One that goes on into the next blocks is read from one buffer holding them, up to
        // the longest a stream of `size` bytes can be (stored blocks: 5 bytes per 64 KB, plus
        // the zlib header and checksum).
        let longest = size + 5 * (size / 65_535 + 1) + 6;
        let mut joined = input.to_vec();
        while joined.len() < longest {
            let Some(next) = self.data.from(at + joined.len() as u64) else {
                return false;
            };
            joined.extend_from_slice(next);
            if let Ok(n) = z.zlib_decompress(&joined, out) {
                return n == size;
            }
        }
        false
    }
}

/// `path` opened for reading when it is a regular file. A repository handed to us may hold a
/// FIFO or a device under a pack's name: opening without blocking and checking what was
/// opened keeps such a file from hanging or flooding the walk (libgit2 then reports it).
fn open_regular(path: &Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(path)
        .ok()?;
    file.metadata().ok()?.is_file().then_some(file)
}

/// A version-2 pack index, its object ids and offsets read into memory (28 bytes an object):
/// searched a hundred thousand times in a walk, it must not go through a system call each time.
struct Index {
    fanout: [u32; 256],
    /// The sorted object ids, 20 bytes each.
    ids: Vec<u8>,
    /// Each object's 32-bit offset entry (the high bit says: look in `large`).
    offsets: Vec<u32>,
    large: Vec<u64>,
}

impl Index {
    fn read(path: &Path) -> Option<Index> {
        let file = open_regular(path)?;
        let len = file.metadata().ok()?.len();
        let mut head = vec![0u8; 8 + 256 * 4];
        file.read_exact_at(&mut head, 0).ok()?;
        if head[..8] != [0xff, b't', b'O', b'c', 0, 0, 0, 2] {
            return None;
        }
        let mut fanout = [0u32; 256];
        for (i, f) in fanout.iter_mut().enumerate() {
            let at = 8 + i * 4;
            *f = u32::from_be_bytes(head[at..at + 4].try_into().ok()?);
        }
        if fanout.windows(2).any(|w| w[0] > w[1]) {
            return None;
        }
        let n = u64::from(fanout[255]);
        let ids_at = 8 + 1024;
        let offsets_at = ids_at + n * 20 + n * 4;
        let large_at = offsets_at + n * 4;
        // Ids, CRCs, offsets and both trailing checksums at least.
        if len < large_at + 40 {
            return None;
        }
        let mut ids = vec![0u8; usize::try_from(n * 20).ok()?];
        file.read_exact_at(&mut ids, ids_at).ok()?;
        let mut raw = vec![0u8; usize::try_from(n * 4).ok()?];
        file.read_exact_at(&mut raw, offsets_at).ok()?;
        let offsets: Vec<u32> = raw
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        drop(raw);
        let large_len = usize::try_from((len - 40 - large_at) / 8).ok()?;
        let mut raw = vec![0u8; large_len * 8];
        file.read_exact_at(&mut raw, large_at).ok()?;
        let large = raw
            .chunks_exact(8)
            .map(|c| u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect();
        Some(Index {
            fanout,
            ids,
            offsets,
            large,
        })
    }

    fn count(&self) -> u32 {
        self.fanout[255]
    }

    /// Where object `key` starts in the pack.
    fn find(&self, key: &[u8]) -> Option<u64> {
        let want = Key::of(key)?;
        let first = usize::from(*key.first()?);
        let mut lo = if first == 0 {
            0
        } else {
            self.fanout[first - 1] as usize
        };
        let mut hi = self.fanout[first] as usize;
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match Key::of(self.ids.get(mid * 20..mid * 20 + 20)?)?.cmp(&want) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return self.offset(mid),
            }
        }
        None
    }

    /// The pack offset of the `i`th object.
    fn offset(&self, i: usize) -> Option<u64> {
        let o = *self.offsets.get(i)?;
        if o & 0x8000_0000 == 0 {
            Some(u64::from(o))
        } else {
            self.large.get((o & 0x7fff_ffff) as usize).copied()
        }
    }
}

/// An object id as integers, compared in the index's (byte) order without a `memcmp` call.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Key(u64, u64, u32);

impl Key {
    fn of(b: &[u8]) -> Option<Key> {
        Some(Key(
            u64::from_be_bytes(b.get(..8)?.try_into().ok()?),
            u64::from_be_bytes(b.get(8..16)?.try_into().ok()?),
            u32::from_be_bytes(b.get(16..20)?.try_into().ok()?),
        ))
    }
}

/// A pack's bytes, read a block at a time with the last [`BLOCKS`] blocks kept.
struct Blocks {
    file: File,
    len: u64,
    /// (first byte, bytes, when last used)
    blocks: Vec<(u64, Vec<u8>, u64)>,
    clock: u64,
}

impl Blocks {
    fn byte(&mut self, at: u64) -> Option<u8> {
        self.from(at)?.first().copied()
    }

    /// The bytes from `at` to the end of its block.
    fn from(&mut self, at: u64) -> Option<&[u8]> {
        if at >= self.len {
            return None;
        }
        let start = at - at % BLOCK;
        self.clock += 1;
        let slot = match self.blocks.iter().position(|b| b.0 == start) {
            Some(i) => i,
            None => {
                let mut bytes = vec![0u8; usize::try_from((self.len - start).min(BLOCK)).ok()?];
                self.file.read_exact_at(&mut bytes, start).ok()?;
                if self.blocks.len() < BLOCKS {
                    self.blocks.push((start, bytes, 0));
                    self.blocks.len() - 1
                } else {
                    let oldest = (0..self.blocks.len()).min_by_key(|&i| self.blocks[i].2)?;
                    self.blocks[oldest] = (start, bytes, 0);
                    oldest
                }
            }
        };
        let block = &mut self.blocks[slot];
        block.2 = self.clock;
        block.1.get(usize::try_from(at - start).ok()?..)
    }
}

#[cfg(test)]
mod tests {
    use super::super::commit_object;
    use super::super::history::RawParts;
    use super::*;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str], input: Option<&[u8]>) -> String {
        let mut cmd = Command::new("git");
        cmd.current_dir(dir)
            .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(input) = input {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(input).unwrap();
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "git {args:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// Commits as tools other than git write them: odd names and emails, extra headers, an
    /// encoding, leading blank lines, CRLF, no message, a merge; then long similar messages
    /// that `git repack -f` stores as deltas.
    fn odd_history(dir: &Path) -> Vec<String> {
        git(dir, &["init", "-q", "-b", "main"], None);
        let tree = git(dir, &["mktree"], Some(b""));
        let mut ids: Vec<String> = Vec::new();
        let bodies: Vec<Vec<u8>> = vec![
            b"author A U Thor <a@example.com> 1700000000 +0000\ncommitter C <c@example.com> 1700000001 +0100\n\nfeat: plain\n".to_vec(),
            b"author  \"Name, Jr.\"  <<odd@example.com>> 1700000002 -0500\ncommitter C <c@example.com> 1700000003 +0000\nencoding ISO-8859-1\n\nfix: caf\xe9\n".to_vec(),
            b"author A <a@example.com> 1700000004 +0000\ncommitter C <c@example.com> 1700000005 +0000\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n abc\n -----END PGP SIGNATURE-----\nmergetag object 0\n type commit\n\n\n\nfeat: after blank lines\r\n\r\nbody\r\n".to_vec(),
            b"author A <a@example.com> 1700000006 +0000\ncommitter C <c@example.com> 1700000007 +0000\n".to_vec(),
            b"author A <a@example.com> 1700000008 +0000\ncommitter C <c@example.com> 1700000009 +0000\n\n".to_vec(),
            b"author <> 1700000010 +0000\ncommitter C <c@example.com> 1700000011\n\nchore: empty author\n".to_vec(),
            b"author A <a@example.com> 1700000012 +0000\nauthor B <b@example.com> 1700000012 +0000\ncommitter C <c@example.com> 1700000013 +0000\n\nfix: two authors\n".to_vec(),
            b"author A <a@example.com> 1700000014 +0000\ncommitter C <c@example.com> 1700000015 +0000\n\nfix: a NUL \0 inside\n".to_vec(),
        ];
        for body in bodies {
            let mut raw = format!("tree {tree}\n").into_bytes();
            if let Some(p) = ids.last() {
                raw.extend_from_slice(format!("parent {p}\n").as_bytes());
            }
            raw.extend_from_slice(&body);
            let id = git(
                dir,
                &[
                    "hash-object",
                    "-t",
                    "commit",
                    "-w",
                    "--literally",
                    "--stdin",
                ],
                Some(&raw),
            );
            ids.push(id);
        }
        git(
            dir,
            &["update-ref", "refs/heads/main", ids.last().unwrap()],
            None,
        );
        // A merge, then messages alike enough to be stored as deltas of each other.
        let long = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(40);
        let commit = |message: &str| {
            git(dir, &["commit", "-q", "--allow-empty", "-m", message], None);
        };
        git(dir, &["checkout", "-q", "-b", "side"], None);
        commit(&format!("feat: side\n\n{long}"));
        git(dir, &["checkout", "-q", "main"], None);
        git(dir, &["merge", "-q", "--no-ff", "--no-edit", "side"], None);
        for n in 0..30 {
            commit(&format!("fix: {n}\n\n{long}{n}"));
        }
        // Messages unlike each other, stored whole: with the tests' 4 KB blocks, some run from
        // one block into the next.
        let mut seed: u64 = 7;
        for n in 0..60 {
            let words: Vec<String> = (0..40)
                .map(|_| {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    format!("{:x}", seed >> 40)
                })
                .collect();
            commit(&format!("docs: {n}\n\n{}", words.join(" ")));
        }
        git(
            dir,
            &["repack", "-q", "-a", "-d", "-f", "--window=50"],
            None,
        );
        // One more pack, and a commit left loose.
        commit("feat: second pack");
        git(dir, &["repack", "-q", "-d"], None);
        commit("feat: loose");
        git(dir, &["rev-list", "--all"], None)
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn summary(c: &git2::Commit<'_>) -> String {
        let text = String::from_utf8_lossy(c.message_bytes());
        text.lines().next().unwrap_or_default().to_string()
    }

    /// What the walk keeps of a commit, comparable.
    fn fields(p: &RawParts<'_>) -> String {
        format!(
            "{:?} {} {:?} {:?} {} {} {} {:?}",
            p.message, p.latin1, p.name, p.email, p.time, p.parents, p.tree, p.first_parent
        )
    }

    #[test]
    fn packed_commits_read_as_libgit2_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let ids = odd_history(dir.path());
        let repo = Repository::open(dir.path()).unwrap();
        let mut packs = Packs::open(&repo).expect("two packs");
        assert_eq!(packs.packs.len(), 2);
        let (mut here, mut left) = (Vec::new(), Vec::new());
        let mut parents = Vec::new();
        for hex in &ids {
            let id = Oid::from_str(hex).unwrap();
            let commit = repo.find_commit(id).unwrap();
            let want = RawParts::with(&commit, |p| fields(&p));
            let want_parents: Vec<Oid> = commit.parent_ids().collect();
            let Some(raw) = packs.commit(&id) else {
                left.push(summary(&commit));
                continue;
            };
            match commit_object::parse(raw, &mut parents) {
                Some(f) => {
                    let got = RawParts::from_fields(id, &f, &parents);
                    assert_eq!(fields(&got), want, "{hex}");
                    assert_eq!(parents, want_parents, "{hex}");
                    here.push(summary(&commit));
                }
                None => left.push(summary(&commit)),
            }
        }
        // Left to libgit2: the loose commit, the deltas, and what commit_object does not read
        // (two authors, a NUL).
        for s in ["feat: loose", "fix: two authors", "fix: a NUL ", "fix: 0"] {
            assert!(left.iter().any(|l| l == s), "{s}: {left:?}");
        }
        for s in [
            "feat: plain",
            "fix: caf\u{fffd}",
            "feat: after blank lines",
            "chore: empty author",
            "feat: second pack",
        ] {
            assert!(here.iter().any(|h| h == s), "{s}: read here {here:?}");
        }
        let docs = here.iter().filter(|h| h.starts_with("docs: ")).count();
        assert!(docs >= 50, "{docs} of the 60 whole commits read here");
    }

    #[test]
    fn a_fifo_or_a_link_under_a_pack_name_is_not_opened() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pack-f.idx");
        let path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
        assert!(Pack::open(&fifo).is_none(), "a FIFO would block");
        let link = dir.path().join("pack-l.idx");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        assert!(Pack::open(&link).is_none());
    }

    #[test]
    fn what_is_not_a_version_2_pack_is_left_to_libgit2() {
        let dir = tempfile::tempdir().unwrap();
        let idx = dir.path().join("pack-x.idx");
        std::fs::write(&idx, b"\xfftOc\0\0\0\x03rest").unwrap();
        assert!(Index::read(&idx).is_none());
        std::fs::write(&idx, b"short").unwrap();
        assert!(Pack::open(&idx).is_none());
        // A valid-looking index whose tables are cut short.
        let mut head = vec![0xff, b't', b'O', b'c', 0, 0, 0, 2];
        head.extend(std::iter::repeat_n(0u8, 255 * 4));
        head.extend(5u32.to_be_bytes());
        std::fs::write(&idx, &head).unwrap();
        assert!(Index::read(&idx).is_none());
    }
}
