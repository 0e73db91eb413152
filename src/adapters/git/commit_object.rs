//! A commit object's bytes read the way libgit2 reads them, without its allocations: for the
//! commits [`super::packs`] reads whole. Only the plain layout is read here (tree, parents,
//! one author, committer with a time, other headers, a blank line, the message); anything
//! libgit2 reads with a special rule (a NUL byte, repeated authors, a missing time) is `None`,
//! so libgit2 reads that commit and every field always means what libgit2 says it means.

use git2::Oid;

/// The fields of a commit a history walk needs, borrowed from its bytes.
pub(super) struct Fields<'a> {
    pub(super) tree: Oid,
    /// The message as `git2::Commit::message_bytes` gives it (leading newlines dropped).
    pub(super) message: &'a [u8],
    /// The label of the last `encoding` header, if any.
    pub(super) encoding: Option<&'a [u8]>,
    pub(super) name: &'a [u8],
    pub(super) email: &'a [u8],
    /// The committer time, in seconds.
    pub(super) time: i64,
}

/// Read `raw`, a commit object's bytes, putting its parents in `parents`.
pub(super) fn parse<'a>(raw: &'a [u8], parents: &mut Vec<Oid>) -> Option<Fields<'a>> {
    // libgit2 copies names and messages as C strings: a NUL would cut them short.
    if raw.contains(&0) {
        return None;
    }
    let mut rest = raw;
    let tree = oid_line(&mut rest, b"tree ")?;
    parents.clear();
    while rest.starts_with(b"parent ") {
        parents.push(oid_line(&mut rest, b"parent ")?);
    }
    let (name, email, _) = signature(&mut rest, b"author ")?;
    if rest.starts_with(b"author ") {
        return None;
    }
    let (_, _, time) = signature(&mut rest, b"committer ")?;
    let time = time?;
    // Further headers up to the first empty line, as libgit2's commit_parse walks them; the
    // last `encoding` wins there too.
    let mut encoding = None;
    let mut at = raw.len() - rest.len();
    while at < raw.len() {
        if raw[at - 1] == b'\n' && raw[at] == b'\n' {
            break;
        }
        let end = raw[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |n| at + n);
        if let Some(label) = raw[at..end].strip_prefix(b"encoding ") {
            encoding = Some(label);
        }
        at = (end + 1).min(raw.len());
    }
    let body = raw.get(at + 1..).unwrap_or_default();
    let skip = body.iter().take_while(|&&b| b == b'\n').count();
    Some(Fields {
        tree,
        message: &body[skip..],
        encoding,
        name,
        email,
        time,
    })
}

/// `<label><40 hex digits>\n`, advancing past it.
fn oid_line(rest: &mut &[u8], label: &[u8]) -> Option<Oid> {
    let line = rest.strip_prefix(label)?;
    let (hex, after) = (line.get(..40)?, line.get(40..)?);
    let after = after.strip_prefix(b"\n")?;
    let mut bytes = [0u8; 20];
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        bytes[i] = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
    }
    *rest = after;
    Oid::from_bytes(&bytes).ok()
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// A `<label>Name <email> <time> <zone>` line, advancing past it: the name and email trimmed as
/// libgit2 trims them (`git_signature__parse`), and the time when it is plain digits.
fn signature<'a>(rest: &mut &'a [u8], label: &[u8]) -> Option<(&'a [u8], &'a [u8], Option<i64>)> {
    let newline = rest.iter().position(|&b| b == b'\n')?;
    let line = rest[..newline].strip_prefix(label)?;
    if line.is_empty() {
        return None;
    }
    let open = line.iter().rposition(|&b| b == b'<')?;
    let close = line.iter().rposition(|&b| b == b'>')?;
    if close <= open {
        return None;
    }
    let name = trim_crud(&line[..open]);
    let email = trim_crud(&line[open + 1..close]);
    // ` 1700000000 +0000`: the digits up to a space or the end of the line.
    let time = line
        .get(close + 1..)
        .and_then(|t| t.strip_prefix(b" "))
        .and_then(|t| {
            let digits = t.split(|&b| b == b' ').next()?;
            if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            std::str::from_utf8(digits).ok()?.parse().ok()
        });
    *rest = &rest[newline + 1..];
    Some((name, email, time))
}

/// libgit2's `extract_trimmed`: what it calls crud goes from both ends.
fn trim_crud(mut s: &[u8]) -> &[u8] {
    let crud = |b: u8| b <= 32 || b",:;<>\"\\'".contains(&b);
    while let Some((&b, rest)) = s.split_first() {
        if !crud(b) {
            break;
        }
        s = rest;
    }
    while let Some((&b, rest)) = s.split_last() {
        if !crud(b) {
            break;
        }
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const TREE: &str = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n";

    fn read(rest: &str) -> Option<(String, String, String, i64, bool, usize)> {
        let raw = format!("{TREE}{rest}");
        let mut parents = Vec::new();
        parse(raw.as_bytes(), &mut parents).map(|f| {
            (
                String::from_utf8_lossy(f.message).into_owned(),
                String::from_utf8_lossy(f.name).into_owned(),
                String::from_utf8_lossy(f.email).into_owned(),
                f.time,
                f.encoding.is_some(),
                parents.len(),
            )
        })
    }

    #[test]
    fn messages_start_after_the_first_empty_line() {
        let sig = "author A <a@x> 1 +0000\ncommitter C <c@x> 7 +0000\n";
        let r = |s: &str| read(&format!("{sig}{s}")).unwrap().0;
        assert_eq!(r(""), "");
        assert_eq!(r("\n"), "");
        assert_eq!(r("\n\n\nfeat: x\n"), "feat: x\n");
        assert_eq!(r("encoding latin1\n\nfix: y"), "fix: y");
        assert_eq!(r("gpgsig a\n b\n \n c\n\nfix: z\n\nbody"), "fix: z\n\nbody");
        assert!(read(&format!("{sig}encoding latin1\n\nx")).unwrap().4);
    }

    #[test]
    fn signatures_are_trimmed_as_libgit2_trims_them() {
        let got = read("parent 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor  \"N, Jr.\"  <<e@x>> 5 +0100\ncommitter C <c@x> 1700000000 -0500\n\nm").unwrap();
        assert_eq!((got.1.as_str(), got.2.as_str()), ("N, Jr.", "e@x"));
        assert_eq!((got.3, got.5), (1_700_000_000, 1));
    }

    #[test]
    fn what_libgit2_reads_with_special_rules_is_left_to_it() {
        let ok = "author A <a@x> 1 +0000\ncommitter C <c@x> 7 +0000\n\nm";
        assert!(read(ok).is_some());
        for odd in [
            "author A <a@x> 1 +0000\nauthor B <b@x> 1 +0000\ncommitter C <c@x> 7 +0000\n\nm",
            "author A <a@x> 1 +0000\ncommitter C <c@x>\n\nm",
            "author A <a@x> 1 +0000\ncommitter C <c@x> -7 +0000\n\nm",
            "author A <a@x> 1 +0000\ncommitter C <c@x> 7x +0000\n\nm",
            "author A a@x 1 +0000\ncommitter C <c@x> 7 +0000\n\nm",
            "author A <a@x> 1 +0000\ncommitter C <c@x> 7 +0000\n\nm\0",
            "parent 4b825dc642cb6eb9a060e54bf8d69288fbee490\nauthor A <a@x> 1 +0000\ncommitter C <c@x> 7 +0000\n\nm",
            "parent 4b825dc642cb6eb9a060e54bf8d69288fbee49zz\nauthor A <a@x> 1 +0000\ncommitter C <c@x> 7 +0000\n\nm",
            "committer C <c@x> 7 +0000\n\nm",
        ] {
            assert!(read(odd).is_none(), "{odd:?}");
        }
        assert!(parse(b"tree 12\n", &mut Vec::new()).is_none());
    }
}
