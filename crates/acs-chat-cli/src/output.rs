//! Printing results: JSON with the REST API's field names, or aligned columns.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::Value;

use crate::cli::OutputFormat;

/// A table column: its header and where its value is (a JSON pointer into each row).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Column {
    header: &'static str,
    pointer: &'static str,
}

const fn col(header: &'static str, pointer: &'static str) -> Column {
    Column { header, pointer }
}

pub(crate) const THREAD_CREATED: &[Column] = &[
    col("Id", "/chatThread/id"),
    col("Topic", "/chatThread/topic"),
    col("CreatedOn", "/chatThread/createdOn"),
    col(
        "CreatedBy",
        "/chatThread/createdByCommunicationIdentifier/rawId",
    ),
];
pub(crate) const THREADS: &[Column] = &[
    col("Id", "/id"),
    col("Topic", "/topic"),
    col("LastMessageReceivedOn", "/lastMessageReceivedOn"),
    col("DeletedOn", "/deletedOn"),
];
pub(crate) const MESSAGE_ID: &[Column] = &[col("Id", "/id")];
pub(crate) const MESSAGES: &[Column] = &[
    col("Id", "/id"),
    col("Type", "/type"),
    col("SequenceId", "/sequenceId"),
    col("CreatedOn", "/createdOn"),
    col("Sender", "/senderCommunicationIdentifier/rawId"),
    col("SenderDisplayName", "/senderDisplayName"),
    col("Content", "/content/message"),
];
pub(crate) const PARTICIPANTS: &[Column] = &[
    col("RawId", "/communicationIdentifier/rawId"),
    col("Kind", "/communicationIdentifier/kind"),
    col("DisplayName", "/displayName"),
    col("ShareHistoryTime", "/shareHistoryTime"),
];
pub(crate) const INVALID_PARTICIPANTS: &[Column] = &[
    col("Target", "/target"),
    col("Code", "/code"),
    col("Message", "/message"),
];
pub(crate) const RECEIPTS: &[Column] = &[
    col("ChatMessageId", "/chatMessageId"),
    col("Sender", "/senderCommunicationIdentifier/rawId"),
    col("ReadOn", "/readOn"),
];
pub(crate) const USER: &[Column] = &[
    col("Id", "/identity/id"),
    col("ExpiresOn", "/accessToken/expiresOn"),
    col("Token", "/accessToken/token"),
];
pub(crate) const TOKEN: &[Column] = &[col("ExpiresOn", "/expiresOn"), col("Token", "/token")];

/// Renders `value` (an object, or a list of objects) in `format`: JSON in the models' field
/// order, or a table of `columns`.
pub(crate) fn render<T: Serialize>(
    value: &T,
    format: OutputFormat,
    columns: &[Column],
) -> serde_json::Result<String> {
    Ok(match format {
        OutputFormat::Json => serde_json::to_string_pretty(value)? + "\n",
        OutputFormat::Table => table(&serde_json::to_value(value)?, columns),
    })
}

/// Aligned columns: a header, a rule, one line per row. Nested values print as compact JSON;
/// control characters are escaped so a value cannot break the layout or the terminal.
fn table(value: &Value, columns: &[Column]) -> String {
    let rows: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|c| cell(row.pointer(c.pointer)))
                .collect()
        })
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([c.header.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let mut line = |values: Vec<&str>| {
        let last = values.len().saturating_sub(1);
        let mut text = String::new();
        for (i, v) in values.into_iter().enumerate() {
            text.push_str(v);
            if i < last {
                let pad = widths[i] - v.chars().count() + 2;
                text.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(columns.iter().map(|c| c.header).collect());
    let rules: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(rules.iter().map(String::as_str).collect());
    for row in &cells {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

fn cell(value: Option<&Value>) -> String {
    let text = match value {
        None | Some(Value::Null) => return String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    sanitize(&text)
}

/// Escapes control characters (newlines, ANSI escapes, ...).
pub(crate) fn sanitize(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().collect()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Writes to stdout; an error (e.g. a closed pipe) is returned, never a panic.
pub(crate) fn write_stdout(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Writes a line to stderr, ignoring failures (there is nowhere left to report them).
pub(crate) fn write_stderr(line: &str) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_align_columns_and_escape_control_characters() {
        let rows = json!([
            {"id": "1", "topic": "short", "lastMessageReceivedOn": "2024-01-01T00:00:00Z"},
            {"id": "12345", "topic": "two\nlines\u{1b}[31m"},
        ]);
        let text = table(&rows, THREADS);
        let expected = "\
Id     Topic                 LastMessageReceivedOn  DeletedOn
-----  --------------------  ---------------------  ---------
1      short                 2024-01-01T00:00:00Z
12345  two\\nlines\\u{1b}[31m
";
        assert_eq!(text, expected);
    }

    #[test]
    fn a_single_object_is_one_row_and_json_is_pretty() {
        // Keys in sorted order, whether or not serde_json keeps insertion order.
        let v = json!({"extra": {"a": 1}, "id": "7"});
        assert_eq!(table(&v, MESSAGE_ID), "Id\n--\n7\n");
        assert_eq!(
            render(&v, OutputFormat::Json, MESSAGE_ID).unwrap(),
            "{\n  \"extra\": {\n    \"a\": 1\n  },\n  \"id\": \"7\"\n}\n"
        );
    }
}
