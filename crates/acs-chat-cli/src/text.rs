//! Text that reaches a terminal: escaping what could spoof it, bounding what could flood it,
//! and redacting secrets in URLs.

use std::borrow::Cow;

use unicode_width::UnicodeWidthChar as _;

/// Whether `c` can change how a terminal shows the text around it: C0 and C1 controls and DEL
/// (`char::is_control`), the Unicode bidirectional controls (which can reorder what follows,
/// e.g. U+202E), and the line and paragraph separators.
pub(crate) fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// Escapes every unsafe character: `\n`, `\t`, `\u{1b}`, `\u{202e}`, ...
pub(crate) fn sanitize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else if is_unsafe(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Replaces every unsafe character but `\n` with `\uXXXX`. In JSON text they can only be inside
/// strings (JSON writers escape C0 themselves), so the result is the same JSON.
pub(crate) fn escape_unicode_except_newline(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && is_unsafe(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c != '\n' && is_unsafe(c) {
            // Every unsafe character is in the Basic Multilingual Plane.
            out.push_str(&format!("\\u{:04X}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The display width of `text` in a terminal (East Asian wide characters count 2).
pub(crate) fn width(text: &str) -> usize {
    text.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// `text` cut to at most `max` columns, ending with `…` when cut (never inside a character).
pub(crate) fn truncate(text: &str, max: usize) -> Cow<'_, str> {
    if width(text) <= max {
        return Cow::Borrowed(text);
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > max {
            break;
        }
        used += w;
        out.push(c);
    }
    if max > 0 {
        out.push('…');
    }
    Cow::Owned(out)
}

/// At most `max` bytes of `text` (cut on a character boundary), then `… (N bytes in all)`.
pub(crate) fn bounded(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}… ({} bytes in all)", &text[..end], text.len()))
}

/// Characters that end a URL inside a message (quotes, brackets, whitespace).
fn ends_url(c: char) -> bool {
    c.is_whitespace() || matches!(c, '`' | '\'' | '"' | '<' | '>' | '(' | ')' | ',' | ';')
}

/// Redacts the user info and the query values of every URL in `text`
/// (`https://***@host/path?sig=***`), and the value of every `accesskey=`.
pub(crate) fn redact(text: &str) -> Cow<'_, str> {
    if !text.contains("://") && !contains_ignore_case(text, "accesskey=") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        out.push_str(&rest[..i + 3]);
        rest = &rest[i + 3..];
        let end = rest.find(ends_url).unwrap_or(rest.len());
        let (url, tail) = rest.split_at(end);
        // In running text, the authority ends at the first `/`, `?` or `#`.
        let authority_end = url.find(['/', '?', '#']).unwrap_or(url.len());
        out.push_str(&redact_after_scheme(url, authority_end));
        rest = tail;
    }
    out.push_str(rest);
    Cow::Owned(redact_access_keys(&out))
}

/// Redacts one URL given whole (a flag's value): user info is everything up to the last `@`
/// before the query, so a password containing `/` is hidden too.
pub(crate) fn redact_url(url: &str) -> String {
    let Some(i) = url.find("://") else {
        return redact(url).into_owned();
    };
    let after = &url[i + 3..];
    let query = after.find(['?', '#']).unwrap_or(after.len());
    let authority_end = after[..query].rfind('@').map_or_else(
        || after.find(['/', '?', '#']).unwrap_or(after.len()),
        |at| at + 1,
    );
    format!(
        "{}{}",
        &url[..i + 3],
        redact_after_scheme(after, authority_end)
    )
}

/// `after` is a URL without its `scheme://`; `authority_end` is where its authority ends.
fn redact_after_scheme(after: &str, authority_end: usize) -> String {
    let (authority, path) = after.split_at(authority_end);
    let mut out = String::new();
    match authority.rfind('@') {
        Some(at) => {
            out.push_str("***@");
            out.push_str(&authority[at + 1..]);
        }
        None => out.push_str(authority),
    }
    let (path, fragment) = path.split_at(path.find('#').unwrap_or(path.len()));
    match path.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) => format!("{k}=***"),
                    None if pair.is_empty() => String::new(),
                    None => "***".to_owned(),
                })
                .collect();
            out.push_str(&pairs.join("&"));
        }
        None => out.push_str(path),
    }
    out.push_str(fragment);
    out
}

fn contains_ignore_case(text: &str, needle: &str) -> bool {
    text.to_ascii_lowercase().contains(needle)
}

fn redact_access_keys(text: &str) -> String {
    const KEY: &str = "accesskey=";
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut from = 0;
    while let Some(i) = lower[from..].find(KEY) {
        let start = from + i + KEY.len();
        let end = text[start..]
            .find(|c: char| ends_url(c) || c == ';')
            .map_or(text.len(), |e| start + e);
        out.push_str(&text[copied..start]);
        if end > start {
            out.push_str("***");
        }
        copied = end;
        from = end;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_characters_are_escaped() {
        assert_eq!(sanitize("plain"), "plain");
        assert_eq!(
            sanitize("a\nb\u{1b}[31m\u{9b}c\u{202e}d\u{2066}"),
            "a\\nb\\u{1b}[31m\\u{9b}c\\u{202e}d\\u{2066}"
        );
        for c in [
            '\u{061C}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202E}', '\u{2066}', '\u{2069}',
            '\u{80}', '\u{9F}', '\u{7F}',
        ] {
            assert!(is_unsafe(c), "{c:?}");
        }
        assert!(!is_unsafe('\u{200D}'), "the zero-width joiner builds emoji");
        assert_eq!(
            escape_unicode_except_newline("{\n  \"a\": \"x\u{202e}y\u{9b}\"\n}"),
            "{\n  \"a\": \"x\\u202Ey\\u009B\"\n}"
        );
    }

    #[test]
    fn truncation_counts_display_width_and_keeps_characters_whole() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("abcdefghij", 5), "abcd…");
        // Wide characters count 2: 2 + 2 + ellipsis.
        assert_eq!(truncate("日本語テキスト", 5), "日本…");
        assert_eq!(width("日本"), 4);
        assert_eq!(truncate("éééééé", 3), "éé…");
        assert_eq!(bounded("abc", 10), "abc");
        assert_eq!(bounded("ééé", 3), "é… (6 bytes in all)");
    }

    #[test]
    fn urls_lose_their_user_info_and_query_values() {
        assert_eq!(
            redact("endpoint `https://user:pw@host.example/x?sig=abc&se=1#f` is bad"),
            "endpoint `https://***@host.example/x?sig=***&se=***#f` is bad"
        );
        assert_eq!(redact("no url here"), "no url here");
        assert_eq!(
            redact("endpoint=https://h/;accesskey=c2VjcmV0;x=1"),
            "endpoint=https://h/;accesskey=***;x=1"
        );
        assert_eq!(redact("AccessKey=abc def"), "AccessKey=*** def");
        assert_eq!(
            redact_url("https://us/er:p/w@host:1/p?a=b"),
            "https://***@host:1/p?a=***"
        );
        assert_eq!(redact_url("https://host/p"), "https://host/p");
        assert_eq!(redact_url("not a url"), "not a url");
    }
}
