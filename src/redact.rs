//! Secrets never reach output: every token the process learns is registered here, and every
//! text bound for stdout, stderr or a log passes through [`redact`].
//!
//! A secret is matched as written, URL-encoded (as it sits in a remote URL) and URL-decoded.

use std::borrow::Cow;
use std::io::Write;
use std::sync::RwLock;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// What replaces a secret.
pub const MASK: &str = "***";

/// Remember `secret` so that it is masked from now on. Very short values are ignored: masking
/// every `a` would make output unreadable and protects nothing.
pub fn register(secret: &str) {
    if secret.len() < 4 {
        return;
    }
    let mut forms = vec![secret.to_string(), percent_encode(secret)];
    if let Some(decoded) = percent_decode(secret) {
        forms.push(decoded);
    }
    let mut secrets = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    for form in forms {
        if form.len() >= 4 && !secrets.contains(&form) {
            secrets.push(form);
        }
    }
    // Longest first, so that a secret containing another is masked whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
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

/// `text` with every registered secret replaced by `***`.
pub fn redact(text: &str) -> Cow<'_, str> {
    let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    if !secrets.iter().any(|s| text.contains(s.as_str())) {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for s in secrets.iter() {
        out = out.replace(s.as_str(), MASK);
    }
    Cow::Owned(out)
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

fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return None;
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
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
}
