//! Secrets never reach output: every token the process learns is registered here, and every
//! text bound for stdout, stderr or a log passes through [`redact`].
//!
//! A secret is matched as written, JSON-escaped, URL-decoded (a secret registered in its URL
//! form), in base64 (alone or inside a longer encoded text such as a `Basic` authorization,
//! standard and URL-safe alphabets), and in any percent-encoding of any of those: text holding a
//! `%` is also matched after decoding it (twice over, for double encoding), so that an encoding
//! of characters that need none (`%67%68%70%5f...`), in either case of hex digit, is caught
//! without listing every encoding.
//!
//! [`escape_controls`] makes the characters that drive a terminal visible, for text that comes
//! from commits and templates.

use std::borrow::Cow;
use std::io::Write;
use std::sync::RwLock;

/// The registered secrets and the matcher of every form they take.
struct Registry {
    /// Each secret as registered (and URL-decoded), to tell a new one from a known one.
    secrets: Vec<String>,
    /// Every literal form of every secret.
    forms: Vec<String>,
    /// One automaton over `forms`, longest first; `None` when there is no secret (or the
    /// automaton could not be built, when `forms` are searched one by one).
    matcher: Option<regex::bytes::Regex>,
}

static REGISTRY: RwLock<Registry> = RwLock::new(Registry {
    secrets: Vec::new(),
    forms: Vec::new(),
    matcher: None,
});

/// A byte range of the text being redacted.
type Span = (usize, usize);

/// What replaces a secret.
pub const MASK: &str = "***";

/// How many times text is percent-decoded while looking for a secret (`%2567` is `g` encoded
/// twice).
const DECODE_ROUNDS: usize = 2;

/// Remember `secret` so that it is masked from now on. Very short values are ignored: masking
/// every `a` would make output unreadable and protects nothing.
pub fn register(secret: &str) {
    if secret.len() < 4 {
        return;
    }
    let mut registry = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
    if registry.secrets.iter().any(|s| s == secret) {
        return;
    }
    let mut values = vec![secret.to_string()];
    if let Some(decoded) = percent_decode(secret).filter(|d| d.len() >= 4 && d != secret) {
        values.push(decoded);
    }
    let mut forms = std::mem::take(&mut registry.forms);
    for value in &values {
        for form in forms_of(value) {
            if form.len() >= 4 && !forms.contains(&form) {
                forms.push(form);
            }
        }
    }
    // Longest first, so that a secret containing another is masked whole.
    forms.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let pattern = forms
        .iter()
        .map(|f| regex::escape(f))
        .collect::<Vec<_>>()
        .join("|");
    registry.matcher = regex::bytes::RegexBuilder::new(&pattern)
        .size_limit(64 << 20)
        .build()
        .ok();
    registry.forms = forms;
    registry.secrets.extend(values);
}

/// The literal forms of one secret: as is, JSON-escaped, and the base64 characters that encode
/// it at each of the three alignments it may have inside a longer encoded text.
fn forms_of(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_string()];
    if let Ok(json) = serde_json::to_string(secret) {
        forms.push(json.trim_matches('"').to_string());
    }
    let engines = [
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    for engine in &engines {
        for offset in 0..3 {
            forms.push(base64_core(engine, secret.as_bytes(), offset));
        }
    }
    forms
}

/// The base64 characters that depend on `secret` alone when it starts `offset` bytes into a
/// 3-byte group: whatever precedes or follows it, its encoding holds these.
fn base64_core(engine: &impl base64::Engine, secret: &[u8], offset: usize) -> String {
    let mut data = vec![0u8; offset];
    data.extend_from_slice(secret);
    let encoded = engine.encode(&data);
    let (start_bit, end_bit) = (offset * 8, data.len() * 8);
    // Character i carries bits [6i, 6i + 6).
    let first = start_bit.div_ceil(6);
    let end = end_bit / 6;
    encoded.get(first..end).unwrap_or_default().to_string()
}

/// Register the password (and a token-like user) embedded in a URL such as
/// `https://x-access-token:TOKEN@github.com/o/r.git`.
pub fn register_url_credentials(url: &str) {
    let Some((_, rest)) = url.split_once("://") else {
        return;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let Some((userinfo, _)) = authority.rsplit_once('@') else {
        return;
    };
    match userinfo.split_once(':') {
        Some((_, password)) => register(password),
        // A lone user part is how some tokens are passed (`https://TOKEN@host/`).
        None if userinfo.len() >= 20 => register(userinfo),
        None => {}
    }
}

/// `text` with every registered secret, in every form, replaced by `***`.
pub fn redact(text: &str) -> Cow<'_, str> {
    let registry = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    if registry.forms.is_empty() {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    find(&registry, bytes, &mut |start, end| spans.push((start, end)));
    if text.contains('%') {
        // Decode, keeping for each decoded byte the span of `text` it came from.
        let mut layer = decode_mapped(bytes, &|i| (i, i + 1));
        for round in 1..=DECODE_ROUNDS {
            let Some((decoded, from)) = layer else {
                break;
            };
            find(&registry, &decoded, &mut |start, end| {
                spans.push((from[start].0, from[end - 1].1));
            });
            layer = (round < DECODE_ROUNDS)
                .then(|| decode_mapped(&decoded, &|i| from[i]))
                .flatten();
        }
    }
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    spans.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (mut start, mut end) in spans {
        // Whole characters only (a match is always whole ones; this keeps slicing safe).
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        while !text.is_char_boundary(end) {
            end += 1;
        }
        if end <= at {
            continue;
        }
        if start >= at {
            out.push_str(&text[at..start]);
            out.push_str(MASK);
        }
        at = end;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

/// Call `found` with the span of every match of a secret's form in `haystack`.
fn find(registry: &Registry, haystack: &[u8], found: &mut dyn FnMut(usize, usize)) {
    match &registry.matcher {
        Some(matcher) => {
            for m in matcher.find_iter(haystack) {
                found(m.start(), m.end());
            }
        }
        None => {
            for form in &registry.forms {
                let form = form.as_bytes();
                let mut at = 0;
                while let Some(i) = haystack[at..].windows(form.len()).position(|w| w == form) {
                    found(at + i, at + i + form.len());
                    at += i + 1;
                }
            }
        }
    }
}

/// One round of percent-decoding of `bytes` (any `%XX`, either case of hex digit; anything
/// else kept), with the span of the original text each decoded byte comes from. `None` when
/// nothing was decoded.
fn decode_mapped(bytes: &[u8], origin: &dyn Fn(usize) -> Span) -> Option<(Vec<u8>, Vec<Span>)> {
    // Most text with a `%` has no `%XX` at all: allocate nothing for it.
    let escape = |w: &[u8]| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit();
    if !bytes.windows(3).any(escape) {
        return None;
    }
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut from = Vec::with_capacity(bytes.len());
    let mut decoded = false;
    let mut i = 0;
    while i < bytes.len() {
        let pair = (bytes[i] == b'%')
            .then(|| Some((hex(*bytes.get(i + 1)?)?, hex(*bytes.get(i + 2)?)?)))
            .flatten();
        match pair {
            Some((high, low)) => {
                out.push((high * 16 + low) as u8);
                from.push((origin(i).0, origin(i + 2).1));
                decoded = true;
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                from.push(origin(i));
                i += 1;
            }
        }
    }
    decoded.then_some((out, from))
}

/// RFC 3986 percent-encoding of everything but unreserved characters (also how a tag goes
/// into a URL path segment).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `s` percent-decoded, when it holds a `%` and decodes to UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return None;
    }
    let (decoded, _) = decode_mapped(s.as_bytes(), &|i| (i, i + 1))?;
    String::from_utf8(decoded).ok()
}

/// `text` with every character that drives a terminal written out visibly: C0 controls but
/// newline, tab and the CR of a CRLF (`\x1b`), DEL (`\x7f`), the C1 controls (`\u{9b}`, the
/// 8-bit CSI) and Unicode's bidirectional controls (`\u{202e}`), which reorder what is shown.
/// Commit text and rendered templates pass through it before they reach a terminal or a file.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    match escaped_controls(text) {
        Some(escaped) => Cow::Owned(escaped),
        None => Cow::Borrowed(text),
    }
}

/// [`escape_controls`], `None` when nothing needs escaping.
pub fn escaped_controls(text: &str) -> Option<String> {
    escaped(text, true)
}

/// [`escaped_controls`] for a one-line value (a name, an email): newlines and tabs are escaped
/// too.
pub fn escaped_line(text: &str) -> Option<String> {
    escaped(text, false)
}

fn escaped(text: &str, multiline: bool) -> Option<String> {
    if text
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) || (multiline && (b == b'\n' || b == b'\t')))
    {
        return None;
    }
    let drives = |c: char, next: Option<char>| match c {
        '\n' | '\t' => !multiline,
        '\r' => !multiline || next != Some('\n'),
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => true,
        '\u{061c}'
        | '\u{200e}'
        | '\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    };
    let mut chars = text.chars().peekable();
    let mut out = String::with_capacity(text.len() + 8);
    let mut changed = false;
    while let Some(c) = chars.next() {
        if drives(c, chars.peek().copied()) {
            changed = true;
            if c.is_ascii() {
                out.push_str(&format!("\\x{:02x}", u32::from(c)));
            } else {
                out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            }
        } else {
            out.push(c);
        }
    }
    changed.then_some(out)
}

/// A writer that redacts whole writes before passing them on; used for logs on stderr.
pub struct RedactingWriter<W: Write>(pub W);

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_plain_encoded_and_url_forms() {
        register("ghp_Secret/Value+1=");
        assert_eq!(redact("token ghp_Secret/Value+1= here"), "token *** here");
        assert_eq!(
            redact("https://x:ghp_Secret%2FValue%2B1%3D@h/r"),
            "https://x:***@h/r"
        );
        assert_eq!(redact("nothing secret"), "nothing secret");
        register("ab");
        assert_eq!(redact("ab"), "ab");
    }

    #[test]
    fn url_credentials() {
        register_url_credentials("https://x-access-token:s3cr%40t-tok@github.com/o/r.git");
        assert_eq!(redact("s3cr@t-tok"), "***");
        assert_eq!(redact("s3cr%40t-tok"), "***");
        register_url_credentials("https://github.com/o/r.git");
    }

    #[test]
    fn over_encoded_forms_in_any_case_and_twice() {
        let secret = "ghp_Over3ncodedToken42";
        register(secret);
        let upper: String = secret.bytes().map(|b| format!("%{b:02X}")).collect();
        let lower: String = secret.bytes().map(|b| format!("%{b:02x}")).collect();
        for encoded in [
            "ghp%5FOver3ncodedToken42".to_string(),
            "ghp%5fOver3ncoded%54oken42".to_string(),
            upper.clone(),
            lower,
            upper.replace('%', "%25"),
        ] {
            assert_eq!(redact(&format!("a {encoded} b")), "a *** b", "{encoded}");
        }
        // Text around a masked span keeps its own encoding, and multibyte text survives.
        assert_eq!(
            redact(&format!("é%20{upper}%20ü")),
            "é%20***%20ü".to_string()
        );
        assert_eq!(redact("100% sure, 50%"), "100% sure, 50%");
    }

    #[test]
    fn base64_forms_at_every_alignment() {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE};
        use base64::Engine as _;
        let secret = "ghp_B4se64Secret?>>Value";
        register(secret);
        for engine in [STANDARD, URL_SAFE] {
            let alone = engine.encode(secret);
            assert!(!redact(&alone).contains(&alone[1..alone.len() - 4]));
            for user in ["a", "ab", "abc", "x-access-token", "user"] {
                let basic = engine.encode(format!("{user}:{secret}"));
                let out = redact(&format!("Authorization: Basic {basic}")).into_owned();
                assert!(out.contains("***"), "{user}: {out}");
                // At most 3 characters on each side of the mask carry a bit of the secret.
                let masked = out.trim_start_matches("Authorization: Basic ");
                let (before, after) = masked.split_once("***").unwrap();
                let prefix = (user.len() + 1) * 8 / 6;
                assert!(before.len() <= prefix + 1, "{user}: {out}");
                assert!(after.trim_end_matches('=').len() <= 1, "{user}: {out}");
            }
        }
    }

    #[test]
    fn json_escaped_form() {
        register("tok\"with\\quote-1234");
        assert_eq!(
            redact(r#"{"t": "tok\"with\\quote-1234"}"#),
            r#"{"t": "***"}"#
        );
    }

    #[test]
    fn controls_are_made_visible() {
        assert!(matches!(escape_controls("plain\ttext\n"), Cow::Borrowed(_)));
        assert!(matches!(escape_controls("café ✓"), Cow::Borrowed(_)));
        assert_eq!(
            escape_controls("a\u{1b}[31mred\u{7}\rover\r\nnext\u{7f}\u{9b}2J\u{202e}x"),
            "a\\x1b[31mred\\x07\\x0dover\r\nnext\\x7f\\u{9b}2J\\u{202e}x"
        );
        assert_eq!(
            escaped_line("Ann\tB\nfeat: x"),
            Some("Ann\\x09B\\x0afeat: x".into())
        );
        assert_eq!(escaped_line("Ann B"), None);
    }
}
