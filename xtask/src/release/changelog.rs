//! Pure rewriting of `CHANGELOG.md` ([Keep a Changelog](https://keepachangelog.com/en/1.1.0/) form).

use anyhow::{Result, bail};
use semver::Version;

/// Moves the entries under `## Unreleased` to a new `## <version> - <date>` section right below it,
/// leaving `## Unreleased` empty. Refuses when there is no Unreleased section, when it has no entries
/// (only blank lines and `###` subsection headings), or when `version` already has a section.
pub(crate) fn rewrite_changelog(text: &str, version: &Version, date: &str) -> Result<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let Some(start) = lines.iter().position(|l| is_unreleased_heading(l)) else {
        bail!("CHANGELOG.md has no `## Unreleased` section");
    };
    if let Some(existing) = lines.iter().find(|l| is_version_heading(l, version)) {
        bail!(
            "CHANGELOG.md already has a section for {version}: `{}`",
            existing.trim_end()
        );
    }
    let end = lines[start + 1..]
        .iter()
        .position(|l| ends_section(l))
        .map_or(lines.len(), |i| start + 1 + i);

    let body = &lines[start + 1..end];
    let first = body.iter().position(|l| !l.trim().is_empty());
    let last = body.iter().rposition(|l| !l.trim().is_empty());
    let entries = match (first, last) {
        (Some(first), Some(last)) => &body[first..=last],
        _ => &[][..],
    };
    if !entries
        .iter()
        .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
    {
        bail!(
            "the `## Unreleased` section of CHANGELOG.md is empty; \
             describe the changes of {version} there first"
        );
    }

    let mut out = String::with_capacity(text.len() + 64);
    push_line(&mut out, &lines[..=start].concat());
    out.push('\n');
    out.push_str(&format!("## {version} - {date}\n\n"));
    push_line(&mut out, &entries.concat());
    if end < lines.len() {
        out.push('\n');
        out.push_str(&lines[end..].concat());
    }
    Ok(out)
}

/// Pushes `text`, making sure it ends with a newline.
fn push_line(out: &mut String, text: &str) {
    out.push_str(text);
    if !out.ends_with('\n') {
        out.push('\n');
    }
}

/// The text of a level-2 heading (`## text`), if `line` is one.
fn h2(line: &str) -> Option<&str> {
    line.strip_prefix("## ").map(str::trim)
}

fn is_unreleased_heading(line: &str) -> bool {
    h2(line).is_some_and(|h| {
        let h = h
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(h);
        h.eq_ignore_ascii_case("unreleased")
    })
}

/// `## 1.2.0`, `## 1.2.0 - 2026-01-01`, `## [1.2.0] - 2026-01-01`.
fn is_version_heading(line: &str, version: &Version) -> bool {
    h2(line).is_some_and(|h| {
        let first = h.split_whitespace().next().unwrap_or_default();
        let first = first.trim_start_matches('[').trim_end_matches(']');
        first == version.to_string()
    })
}

/// A section runs until the next `## ` heading or the link reference definitions at the end
/// (`[Unreleased]: https://...`).
fn ends_section(line: &str) -> bool {
    h2(line).is_some() || (line.starts_with('[') && line.contains("]: "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    const CHANGELOG: &str = "# Changelog

All notable changes are documented here.

## Unreleased

### Added
- The client.
- The CLI.

### Fixed
- A bug.

## 0.1.0 - 2026-01-02

### Added
- The protocol crate.
";

    #[test]
    fn moves_unreleased_entries_under_the_new_version() {
        let out = rewrite_changelog(CHANGELOG, &v("0.2.0"), "2026-11-23").unwrap();
        let expected = "# Changelog

All notable changes are documented here.

## Unreleased

## 0.2.0 - 2026-11-23

### Added
- The client.
- The CLI.

### Fixed
- A bug.

## 0.1.0 - 2026-01-02

### Added
- The protocol crate.
";
        assert_eq!(out, expected);
        // The result has an empty Unreleased section, so a second release is refused.
        let err = rewrite_changelog(&out, &v("0.3.0"), "2026-11-24").unwrap_err();
        assert!(err.to_string().contains("is empty"), "{err}");
    }

    #[test]
    fn first_release_with_trailing_links_and_no_final_newline() {
        let text = "# Changelog\n\n## [Unreleased]\n- One.\n\n[Unreleased]: https://example.com/compare/HEAD";
        let out = rewrite_changelog(text, &v("0.1.0"), "2026-11-23").unwrap();
        assert_eq!(
            out,
            "# Changelog\n\n## [Unreleased]\n\n## 0.1.0 - 2026-11-23\n\n- One.\n\n\
             [Unreleased]: https://example.com/compare/HEAD"
        );
        let out = rewrite_changelog("## Unreleased\n- One.", &v("0.1.0"), "2026-11-23").unwrap();
        assert_eq!(out, "## Unreleased\n\n## 0.1.0 - 2026-11-23\n\n- One.\n");
    }

    #[test]
    fn refuses_an_empty_unreleased_section() {
        for text in [
            "# Changelog\n\n## Unreleased\n\n## 0.1.0 - 2026-01-02\n- x\n",
            "# Changelog\n\n## Unreleased\n",
            "# Changelog\n\n## Unreleased",
            "# Changelog\n\n## Unreleased\n\n### Added\n\n### Fixed\n\n## 0.1.0\n- x\n",
        ] {
            let err = rewrite_changelog(text, &v("0.2.0"), "2026-11-23").unwrap_err();
            assert!(
                err.to_string()
                    .contains("`## Unreleased` section of CHANGELOG.md is empty"),
                "{text:?}: {err}"
            );
        }
    }

    #[test]
    fn refuses_a_missing_unreleased_section() {
        for text in [
            "",
            "# Changelog\n\n## 0.1.0\n- x\n",
            "### Unreleased\n- x\n",
        ] {
            let err = rewrite_changelog(text, &v("0.2.0"), "2026-11-23").unwrap_err();
            assert!(
                err.to_string().contains("no `## Unreleased` section"),
                "{err}"
            );
        }
    }

    #[test]
    fn refuses_a_version_that_already_has_a_section() {
        let err = rewrite_changelog(CHANGELOG, &v("0.1.0"), "2026-11-23").unwrap_err();
        assert!(
            err.to_string()
                .contains("already has a section for 0.1.0: `## 0.1.0 - 2026-01-02`"),
            "{err}"
        );
        let text = "## Unreleased\n- x\n\n## [0.1.0] - 2026-01-02\n- y\n";
        assert!(rewrite_changelog(text, &v("0.1.0"), "2026-11-23").is_err());
        // 0.1.0 is not 0.1.0-rc.1.
        let text = "## Unreleased\n- x\n\n## 0.1.0-rc.1 - 2026-01-02\n- y\n";
        assert!(rewrite_changelog(text, &v("0.1.0"), "2026-11-23").is_ok());
    }
}
