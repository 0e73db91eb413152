//! Reading a long history on two threads. The walking thread inflates each commit (the part
//! libgit2 does) and copies out the few bytes a reader needs; a second thread decodes them and
//! runs the reader's `keep`. Neither waits for the other, so a whole-history read costs the
//! larger of the two halves instead of their sum: `git log` does both on one core.

use git2::Oid;
use std::sync::mpsc;

use super::history::{decode, CommitView, HistoryError, RawParts};

/// Commits per batch: large enough that the channel costs nothing per commit, small enough
/// that the decoder starts at once and the batches in flight stay a few hundred KB.
const BATCH: usize = 512;
/// Batches in flight before the walker waits for the decoder.
const IN_FLIGHT: usize = 4;

/// A run of commits as the walker copied them: their texts back to back in one buffer.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    commits: Vec<Packed>,
}

/// One commit of a [`Batch`]; its message, author name and email are `bytes[start..ends.0]`,
/// `bytes[ends.0..ends.1]` and `bytes[ends.1..ends.2]`.
struct Packed {
    id: Oid,
    time: i64,
    parents: usize,
    tree: Oid,
    first_parent: Option<Oid>,
    latin1: bool,
    ends: (usize, usize, usize),
}

impl Batch {
    fn push(&mut self, parts: RawParts<'_>) {
        self.bytes.extend_from_slice(parts.message);
        let message = self.bytes.len();
        self.bytes.extend_from_slice(parts.name);
        let name = self.bytes.len();
        self.bytes.extend_from_slice(parts.email);
        self.commits.push(Packed {
            id: parts.id,
            time: parts.time,
            parents: parts.parents,
            tree: parts.tree,
            first_parent: parts.first_parent,
            latin1: parts.latin1,
            ends: (message, name, self.bytes.len()),
        });
    }

    /// Show each commit, in order, to `f`.
    fn each(&self, mut f: impl FnMut(&CommitView<'_>)) {
        let mut start = 0;
        for p in &self.commits {
            let (message, name, email) = p.ends;
            decode(
                RawParts {
                    id: p.id,
                    message: &self.bytes[start..message],
                    latin1: p.latin1,
                    name: &self.bytes[message..name],
                    email: &self.bytes[name..email],
                    time: p.time,
                    parents: p.parents,
                    tree: p.tree,
                    first_parent: p.first_parent,
                },
                &mut f,
            );
            start = email;
        }
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.commits.clear();
    }
}

/// Run `walk`, which shows each commit it reads to its callback, while `keep` runs on another
/// thread over the same commits in the same order; returns what `walk` returned and what
/// `keep` kept of each commit. A walk that fails stops the decoder; a decoder that panics stops
/// the walk. With one core, everything runs on this thread.
pub(super) fn read_beside<W, T>(
    walk: impl FnOnce(&mut dyn FnMut(RawParts<'_>) -> bool) -> Result<W, HistoryError>,
    mut keep: impl FnMut(&CommitView<'_>) -> T + Send,
) -> Result<(W, Vec<T>), HistoryError>
where
    T: Send,
{
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 {
        let mut kept = Vec::new();
        let walked = walk(&mut |c| {
            kept.push(decode(c, &mut keep));
            true
        })?;
        return Ok((walked, kept));
    }
    std::thread::scope(|scope| {
        let (to_decoder, batches) = mpsc::sync_channel::<Batch>(IN_FLIGHT);
        // Emptied batches come back, so a long walk allocates only the first few.
        let (give_back, returned) = mpsc::channel::<Batch>();
        let decoder = scope.spawn(move || {
            let mut kept = Vec::new();
            for mut batch in batches {
                batch.each(|c| kept.push(keep(c)));
                batch.clear();
                // The walker may be gone already; then the batch is simply dropped.
                let _ = give_back.send(batch);
            }
            kept
        });
        let mut batch = Batch::default();
        let mut decoder_alive = true;
        let walked = walk(&mut |c| {
            batch.push(c);
            if batch.commits.len() >= BATCH {
                let next = returned.try_recv().unwrap_or_default();
                decoder_alive = to_decoder.send(std::mem::replace(&mut batch, next)).is_ok();
            }
            decoder_alive
        });
        if decoder_alive && !batch.commits.is_empty() {
            // A failed send means the decoder panicked, which the join below reports.
            let _ = to_decoder.send(batch);
        }
        drop(to_decoder);
        let kept = decoder.join().map_err(|_| {
            HistoryError::Git(git2::Error::from_str(
                "the thread reading commit messages panicked",
            ))
        })?;
        Ok((walked?, kept))
    })
}
