//! The few HTML pieces the status page is made of. Every text goes through
//! [`escape`] by construction: a [`Cell`] holds text, never markup, so a
//! proposal description or node name cannot inject anything.

use std::borrow::Cow;
use std::fmt::Write as _;

pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// How a badge is coloured; the page's stylesheet has one class per tone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Good,
    Warn,
    Bad,
    Plain,
}

impl Tone {
    fn class(self) -> &'static str {
        match self {
            Tone::Good => "good",
            Tone::Warn => "warn",
            Tone::Bad => "bad",
            Tone::Plain => "plain",
        }
    }
}

pub enum Cell {
    Text(String),
    /// Monospaced text (addresses, hashes, URLs).
    Code(String),
    Badge(String, Tone),
    /// An error message, in small red text (too long for a badge).
    Problem(String),
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    /// `—` for a missing value.
    pub fn opt(s: Option<impl ToString>) -> Cell {
        Cell::Text(s.map(|v| v.to_string()).unwrap_or_else(|| "—".into()))
    }

    fn render(&self, out: &mut String) {
        // `write!` to a String cannot fail.
        let _ = match self {
            Cell::Text(t) => write!(out, "<td>{}</td>", escape(t)),
            Cell::Code(t) => write!(out, "<td><code>{}</code></td>", escape(t)),
            Cell::Problem(t) => write!(out, "<td class=\"err\">{}</td>", escape(t)),
            Cell::Badge(t, tone) => write!(
                out,
                "<td><span class=\"badge {}\">{}</span></td>",
                tone.class(),
                escape(t)
            ),
        };
    }
}

/// A section with a heading and a table, or `empty` when there are no rows.
pub fn section(out: &mut String, title: &str, headers: &[&str], rows: &[Vec<Cell>], empty: &str) {
    let _ = write!(out, "<section><h2>{}</h2>", escape(title));
    if rows.is_empty() {
        let _ = write!(out, "<p class=\"muted\">{}</p></section>", escape(empty));
        return;
    }
    out.push_str("<table><thead><tr>");
    for h in headers {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            cell.render(out);
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></section>");
}

/// A line of `label: value` facts under the title.
pub fn facts(out: &mut String, items: &[(&str, Cell)]) {
    out.push_str("<dl class=\"facts\">");
    for (label, value) in items {
        let _ = write!(out, "<div><dt>{}</dt>", escape(label));
        let mut cell = String::new();
        value.render(&mut cell);
        // Reuse the cell markup without the table element around it.
        let inner = cell
            .strip_prefix("<td>")
            .and_then(|c| c.strip_suffix("</td>"))
            .unwrap_or(&cell);
        let _ = write!(out, "<dd>{inner}</dd></div>");
    }
    out.push_str("</dl>");
}

/// `2026-01-02T03:04:05.678Z` → `2026-01-02 03:04:05 UTC`, for reading.
pub fn short_time(rfc3339: &str) -> String {
    match rfc3339.get(..19) {
        Some(head) if rfc3339.ends_with('Z') => format!("{} UTC", head.replacen('T', " ", 1)),
        _ => rfc3339.to_owned(),
    }
}

/// A decimal string cut (not rounded) to `places` decimals.
pub fn short_amount(formatted: &str, places: usize) -> String {
    match formatted.split_once('.') {
        Some((whole, frac)) if frac.len() > places => {
            let frac = frac[..places].trim_end_matches('0');
            if frac.is_empty() {
                whole.to_owned()
            } else {
                format!("{whole}.{frac}")
            }
        }
        _ => formatted.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn cells_escape_their_text() {
        let mut out = String::new();
        section(
            &mut out,
            "T",
            &["a"],
            &[vec![Cell::Badge("<b>".into(), Tone::Bad)]],
            "none",
        );
        assert!(out.contains("&lt;b&gt;"));
        assert!(!out.contains("<b>"));
    }

    #[test]
    fn shortens_for_display() {
        assert_eq!(
            short_time("2026-11-23T16:27:41.570944711Z"),
            "2026-11-23 16:27:41 UTC"
        );
        assert_eq!(short_time("soon"), "soon");
        assert_eq!(short_amount("29.999982912458892298", 4), "29.9999");
        assert_eq!(short_amount("10.00001", 4), "10");
        assert_eq!(short_amount("10", 4), "10");
        assert_eq!(short_amount("0.5", 4), "0.5");
    }
}
