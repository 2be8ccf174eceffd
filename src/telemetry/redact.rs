//! Keeps secrets out of logs, errors and API responses. RPC providers put API
//! keys in URLs (user-info, query strings, path segments), and HTTP client
//! errors repeat the URL, so every URL or error text that may reach an
//! operator passes through here first.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

const MASK: &str = "***";

/// True for a URL path segment that is probably an API key: long, made of
/// token characters, and containing a digit (`v3`, `mainnet`, `rpc` are not).
pub fn looks_like_key(segment: &str) -> bool {
    segment.len() >= 16
        && segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && segment.chars().any(|c| c.is_ascii_digit())
}

/// `https://user:pw@host/v3/<key>?apikey=x` → `https://***@host/v3/***?***`.
/// Unparseable input is masked whole rather than risked.
pub fn redact_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        return MASK.to_owned();
    };
    let had_userinfo = !url.username().is_empty() || url.password().is_some();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let had_query = url.query().is_some();
    url.set_query(None);
    url.set_fragment(None);
    let segments: Option<Vec<String>> = url.path_segments().map(|segs| {
        segs.map(|s| {
            if looks_like_key(s) {
                MASK.to_owned()
            } else {
                s.to_owned()
            }
        })
        .collect()
    });
    if let Some(segs) = segments {
        url.set_path(&segs.join("/"));
    }
    let mut out = url.to_string();
    if had_userinfo {
        out = out.replacen("://", &format!("://{MASK}@"), 1);
    }
    if had_query {
        out.push('?');
        out.push_str(MASK);
    }
    out.replace("%2A%2A%2A", MASK)
}

static URL_IN_TEXT: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#"(?i)\b(?:https?|wss?)://[^\s"'<>)\]]+"#).ok());

/// Redacts every URL inside free text (error chains from HTTP clients), and
/// every occurrence of the given known secret values.
pub fn redact_text<'a>(text: &'a str, known_secrets: &[&str]) -> Cow<'a, str> {
    let mut out: Cow<'a, str> = match URL_IN_TEXT.as_ref() {
        Some(re) if re.is_match(text) => Cow::Owned(
            re.replace_all(text, |caps: &regex::Captures<'_>| redact_url(&caps[0]))
                .into_owned(),
        ),
        _ => Cow::Borrowed(text),
    };
    for secret in known_secrets.iter().filter(|s| s.len() >= 4) {
        if out.contains(secret) {
            out = Cow::Owned(out.replace(secret, MASK));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_userinfo_query_and_key_segments() {
        let r =
            redact_url("https://alice:s3cret@rpc.example.com/v3/0123456789abcdef0123?apikey=zzz");
        assert!(!r.contains("alice"));
        assert!(!r.contains("s3cret"));
        assert!(!r.contains("0123456789abcdef0123"));
        assert!(!r.contains("zzz"));
        assert!(r.starts_with("https://***@rpc.example.com/v3/***"), "{r}");
    }

    #[test]
    fn keeps_plain_urls_readable() {
        assert_eq!(
            redact_url("http://127.0.0.1:8545"),
            "http://127.0.0.1:8545/"
        );
        assert_eq!(redact_url("not a url"), "***");
    }

    #[test]
    fn redacts_urls_and_known_secrets_in_text() {
        let t = "error sending request for url (https://h.example/key/abcdef0123456789abcd): timeout; token tok-XYZ-123";
        let r = redact_text(t, &["tok-XYZ-123"]);
        assert!(!r.contains("abcdef0123456789abcd"), "{r}");
        assert!(!r.contains("tok-XYZ-123"), "{r}");
        assert!(r.contains("timeout"));
    }
}
