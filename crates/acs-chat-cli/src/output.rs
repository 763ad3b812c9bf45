//! Printing results as `az` does: `json` (the REST API's field names), `jsonc`, `table`, `tsv`,
//! `yaml`, `yamlc` or `none`, after an optional JMESPath `--query`.
//!
//! Lists are printed as their pages arrive (memory is bounded by one page): a JSON list is one
//! array written element by element, a table is sized by its first page. Whatever reaches a
//! terminal is escaped (control and bidirectional characters) and table cells are bounded.

use std::borrow::Cow;
use std::io::{self, IsTerminal as _, Write};

use acs_chat::Pager;
use futures::StreamExt as _;
use serde::Serialize;
use serde_json::Value;

use crate::cli::{OutputArgs, OutputFormat};
use crate::failure::{Failure, call_failed};
use crate::text::{escape_unicode_except_newline, sanitize, truncate, width};

/// The widest a table cell gets (the terminal's width too, when printing to one).
pub(crate) const MAX_CELL_WIDTH: usize = 100;
/// The most items `--query` reads from a list without `--max-items`.
pub(crate) const QUERY_MAX_ITEMS: usize = 10_000;

/// A table column: its header and where its value is (a JSON pointer into each row).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Column {
    header: &'static str,
    pointer: &'static str,
}

const fn col(header: &'static str, pointer: &'static str) -> Column {
    Column { header, pointer }
}

/// How a result prints as a table (and as tsv): where its rows are (a JSON pointer; a list's
/// items are the rows) and its columns.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Table {
    rows: &'static str,
    columns: &'static [Column],
}

const THREAD_COLUMNS: &[Column] = &[
    col("Id", "/id"),
    col("Topic", "/topic"),
    col("CreatedOn", "/createdOn"),
    col("CreatedBy", "/createdByCommunicationIdentifier/rawId"),
    col("DeletedOn", "/deletedOn"),
    col("Metadata", "/metadata"),
    col("RetentionPolicy", "/retentionPolicy"),
];
pub(crate) const THREAD_CREATED: Table = Table {
    rows: "/chatThread",
    columns: THREAD_COLUMNS,
};
pub(crate) const THREAD: Table = Table {
    rows: "",
    columns: THREAD_COLUMNS,
};
pub(crate) const THREADS: Table = Table {
    rows: "",
    columns: &[
        col("Id", "/id"),
        col("Topic", "/topic"),
        col("LastMessageReceivedOn", "/lastMessageReceivedOn"),
        col("DeletedOn", "/deletedOn"),
    ],
};
pub(crate) const MESSAGE_ID: Table = Table {
    rows: "",
    columns: &[col("Id", "/id")],
};
pub(crate) const MESSAGES: Table = Table {
    rows: "",
    columns: &[
        col("Id", "/id"),
        col("Type", "/type"),
        col("SequenceId", "/sequenceId"),
        col("CreatedOn", "/createdOn"),
        col("Sender", "/senderCommunicationIdentifier/rawId"),
        col("SenderDisplayName", "/senderDisplayName"),
        col("Content", "/content/message"),
    ],
};
pub(crate) const PARTICIPANTS: Table = Table {
    rows: "",
    columns: &[
        col("RawId", "/communicationIdentifier/rawId"),
        col("Kind", "/communicationIdentifier/kind"),
        col("DisplayName", "/displayName"),
        col("ShareHistoryTime", "/shareHistoryTime"),
        col("Metadata", "/metadata"),
    ],
};
pub(crate) const INVALID_PARTICIPANTS: Table = Table {
    rows: "/invalidParticipants",
    columns: &[
        col("Target", "/target"),
        col("Code", "/code"),
        col("Message", "/message"),
    ],
};
pub(crate) const RECEIPTS: Table = Table {
    rows: "",
    columns: &[
        col("ChatMessageId", "/chatMessageId"),
        col("Sender", "/senderCommunicationIdentifier/rawId"),
        col("ReadOn", "/readOn"),
    ],
};
pub(crate) const USER: Table = Table {
    rows: "",
    columns: &[
        col("Id", "/identity/id"),
        col("ExpiresOn", "/accessToken/expiresOn"),
        col("Token", "/accessToken/token"),
    ],
};
pub(crate) const TOKEN: Table = Table {
    rows: "",
    columns: &[col("ExpiresOn", "/expiresOn"), col("Token", "/token")],
};
pub(crate) const ISSUED_TOKEN: Table = Table {
    rows: "",
    columns: &[
        col("UserId", "/user_id"),
        col("ExpiresOn", "/expires_on"),
        col("Token", "/token"),
    ],
};

/// Prints results in the chosen format to stdout.
#[derive(Debug)]
pub(crate) struct Printer {
    format: OutputFormat,
    query: Option<String>,
    /// stdout is a terminal: escape what could spoof it, color `jsonc` / `yamlc`.
    terminal: bool,
    cell_width: usize,
}

impl Printer {
    /// A printer for `--output` / `--query`, to stdout.
    pub(crate) fn new(args: &OutputArgs) -> Self {
        let terminal = io::stdout().is_terminal();
        let columns = terminal
            .then(terminal_size::terminal_size)
            .flatten()
            .map(|(w, _)| usize::from(w.0));
        Self::with(args.output, args.query.clone(), terminal, columns)
    }

    fn with(
        format: OutputFormat,
        query: Option<String>,
        terminal: bool,
        columns: Option<usize>,
    ) -> Self {
        let cell_width = columns.map_or(MAX_CELL_WIDTH, |w| w.clamp(8, MAX_CELL_WIDTH));
        Self {
            format,
            query,
            terminal,
            cell_width,
        }
    }

    /// Prints one result (an object, or the object `table` takes its rows from).
    pub(crate) fn one<T: Serialize>(&self, value: &T, table: &Table) -> Result<(), Failure> {
        let mut out = String::new();
        match &self.query {
            Some(query) => self.render_queried(query, to_value(value)?, &mut out)?,
            None => self.render(value, Some(table), &mut out)?,
        }
        finish_write(write_stdout(&out))
    }

    /// Prints a list as its pages arrive, up to `max` items. With `--query` the list is read
    /// whole first (the expression needs the whole array), up to `max` or
    /// [`QUERY_MAX_ITEMS`].
    pub(crate) async fn list<T: Serialize>(
        &self,
        pager: Pager<T>,
        table: &Table,
        max: Option<usize>,
    ) -> Result<(), Failure> {
        let mut pages = pager.into_pages();
        if let Some(query) = &self.query {
            let cap = max.unwrap_or(QUERY_MAX_ITEMS);
            let mut items = Vec::new();
            'pages: while let Some(page) = pages.next().await {
                for item in page.map_err(call_failed)?.items {
                    if items.len() == cap {
                        if max.is_some() {
                            break 'pages;
                        }
                        return Err(Failure::Runtime(format!(
                            "the list has more than {cap} items, and --query reads a list \
                             whole: pass --max-items N to query the first N"
                        )));
                    }
                    items.push(to_value(&item)?);
                }
            }
            let mut out = String::new();
            self.render_queried(query, Value::Array(items), &mut out)?;
            return finish_write(write_stdout(&out));
        }
        let mut list = ListWriter::new(self, table);
        let mut left = max.unwrap_or(usize::MAX);
        while left > 0 {
            let Some(page) = pages.next().await else {
                break;
            };
            // What was printed stays printed: a JSON array is then left open, so it cannot be
            // taken for the whole list.
            let items = page.map_err(call_failed)?.items;
            let n = items.len().min(left);
            left -= n;
            let mut out = String::new();
            for item in items.into_iter().take(n) {
                list.item(&item, &mut out)?;
            }
            if list.rows_pending() {
                list.flush_rows(&mut out);
            }
            if let Err(e) = write_stdout(&out) {
                return finish_write(Err(e));
            }
        }
        let mut out = String::new();
        list.finish(&mut out);
        finish_write(write_stdout(&out))
    }

    /// Renders `value` whole; `table` None: columns from the value's keys (a query's result).
    fn render<T: Serialize + ?Sized>(
        &self,
        value: &T,
        table: Option<&Table>,
        out: &mut String,
    ) -> Result<(), Failure> {
        match self.format {
            OutputFormat::Json | OutputFormat::Jsonc => {
                out.push_str(&self.json(value)?);
                out.push('\n');
            }
            OutputFormat::Yaml | OutputFormat::Yamlc => out.push_str(&self.yaml(value)?),
            OutputFormat::Table => {
                let value = to_value(value)?;
                let rows = rows(&value, table.map_or("", |t| t.rows));
                let columns = match table {
                    Some(t) => static_columns(t),
                    None => key_columns(&rows),
                };
                let mut t = TableWriter::new(columns, self.cell_width);
                let cells: Vec<Vec<String>> = rows.iter().map(|r| t.cells(r)).collect();
                t.write(&cells, out);
            }
            OutputFormat::Tsv => {
                let value = to_value(value)?;
                for row in rows(&value, table.map_or("", |t| t.rows)) {
                    out.push_str(&tsv_line(row));
                    out.push('\n');
                }
            }
            OutputFormat::None => {}
        }
        Ok(())
    }

    fn render_queried(&self, query: &str, value: Value, out: &mut String) -> Result<(), Failure> {
        let expression =
            jmespath::compile(query).map_err(|e| Failure::Usage(format!("--query: {e}")))?;
        let result = expression
            .search(value)
            .map_err(|e| Failure::Usage(format!("--query: {e}")))?;
        self.render(&*result, None, out)
    }

    /// Pretty JSON; on a terminal, unsafe characters as `\uXXXX` and colored for `jsonc`.
    fn json<T: Serialize + ?Sized>(&self, value: &T) -> Result<String, Failure> {
        let text = serde_json::to_string_pretty(value).map_err(format_failed)?;
        Ok(self.for_terminal(text))
    }

    /// YAML (ends with a newline); on a terminal, escaped and colored for `yamlc`.
    fn yaml<T: Serialize + ?Sized>(&self, value: &T) -> Result<String, Failure> {
        let text = serde_norway::to_string(value).map_err(format_failed)?;
        Ok(self.for_terminal(text))
    }

    fn for_terminal(&self, text: String) -> String {
        if !self.terminal {
            return text;
        }
        let text = match escape_unicode_except_newline(&text) {
            Cow::Borrowed(_) => text,
            Cow::Owned(escaped) => escaped,
        };
        match self.format {
            OutputFormat::Jsonc => colorize_json(&text),
            OutputFormat::Yamlc => colorize_yaml(&text),
            _ => text,
        }
    }
}

/// The columns of events as a table (tsv: the same values), fixed widths but the last.
const EVENT_COLUMNS: &[(Column, usize)] = &[
    (col("Type", "/type"), 27),
    (col("Thread", "/threadId"), 40),
    (col("Id", "/id"), 13),
    (col("Sender", "/senderDisplayName"), 16),
    (col("Message", "/message"), 0),
];

/// Prints a stream of events, one line (or one YAML document) per event, flushed as each
/// comes: `json` is JSON Lines, `table` prints its header once.
pub(crate) struct EventWriter<'a> {
    printer: &'a Printer,
    query: Option<jmespath::Expression<'static>>,
    header_written: bool,
}

impl Printer {
    /// A writer for a stream of events.
    pub(crate) fn events(&self) -> Result<EventWriter<'_>, Failure> {
        let query = match &self.query {
            Some(q) => {
                Some(jmespath::compile(q).map_err(|e| Failure::Usage(format!("--query: {e}")))?)
            }
            None => None,
        };
        Ok(EventWriter {
            printer: self,
            query,
            header_written: false,
        })
    }
}

impl EventWriter<'_> {
    /// Prints one event (with `--query`: its result, unless null). `Ok(false)`: the reader went
    /// away (a closed pipe), stop.
    pub(crate) fn event<T: Serialize>(&mut self, event: &T) -> Result<bool, Failure> {
        let mut value = to_value(event)?;
        if let Some(query) = &self.query {
            let result = query
                .search(value)
                .map_err(|e| Failure::Usage(format!("--query: {e}")))?;
            if result.is_null() {
                return Ok(true);
            }
            value = to_value(&*result)?;
        }
        let mut out = String::new();
        match self.printer.format {
            OutputFormat::Json | OutputFormat::Jsonc => {
                let text = serde_json::to_string(&value).map_err(format_failed)?;
                out.push_str(&self.printer.for_terminal(text));
                out.push('\n');
            }
            OutputFormat::Yaml | OutputFormat::Yamlc => {
                out.push_str("---\n");
                out.push_str(&self.printer.yaml(&value)?);
            }
            OutputFormat::Table | OutputFormat::Tsv => {
                let cells: Vec<String> = EVENT_COLUMNS
                    .iter()
                    .map(|(c, _)| match value.pointer(c.pointer) {
                        None | Some(Value::Null) => String::new(),
                        Some(Value::String(s)) => s.clone(),
                        Some(other) => other.to_string(),
                    })
                    .collect();
                if self.printer.format == OutputFormat::Tsv {
                    let cells: Vec<String> = cells
                        .iter()
                        .map(|c| tsv_cell(&Value::String(c.clone())))
                        .collect();
                    out.push_str(&cells.join("\t"));
                    out.push('\n');
                } else {
                    let widths: Vec<usize> = EVENT_COLUMNS.iter().map(|(_, w)| *w).collect();
                    if !self.header_written {
                        let headers: Vec<&str> =
                            EVENT_COLUMNS.iter().map(|(c, _)| c.header).collect();
                        line(&headers, &widths, &mut out);
                        let rules: Vec<String> = EVENT_COLUMNS
                            .iter()
                            .map(|(c, w)| "-".repeat((*w).max(c.header.len())))
                            .collect();
                        line(&rules, &widths, &mut out);
                        self.header_written = true;
                    }
                    let cells: Vec<String> = cells
                        .iter()
                        .map(|c| truncate(&sanitize(c), self.printer.cell_width).into_owned())
                        .collect();
                    line(&cells, &widths, &mut out);
                }
            }
            OutputFormat::None => {}
        }
        match write_stdout(&out) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
            Err(e) => Err(Failure::Runtime(format!("cannot write the output: {e}"))),
        }
    }
}

/// Writes a list in pieces: the items of each page as they come.
struct ListWriter<'a> {
    printer: &'a Printer,
    table: &'a Table,
    count: usize,
    /// Table rows of the current page, until the first page fixes the column widths.
    pending: Vec<Vec<String>>,
    writer: Option<TableWriter>,
}

impl<'a> ListWriter<'a> {
    fn new(printer: &'a Printer, table: &'a Table) -> Self {
        Self {
            printer,
            table,
            count: 0,
            pending: Vec::new(),
            writer: None,
        }
    }

    fn item<T: Serialize>(&mut self, item: &T, out: &mut String) -> Result<(), Failure> {
        let first = self.count == 0;
        self.count += 1;
        match self.printer.format {
            OutputFormat::Json | OutputFormat::Jsonc => {
                out.push_str(if first { "[\n" } else { ",\n" });
                indent(&self.printer.json(item)?, "  ", "  ", out);
            }
            OutputFormat::Yaml | OutputFormat::Yamlc => {
                indent(&self.printer.yaml(item)?, "- ", "  ", out);
            }
            OutputFormat::Table => {
                let writer = self.writer.get_or_insert_with(|| {
                    TableWriter::new(static_columns(self.table), self.printer.cell_width)
                });
                self.pending.push(writer.cells(&to_value(item)?));
            }
            OutputFormat::Tsv => {
                out.push_str(&tsv_line(&to_value(item)?));
                out.push('\n');
            }
            OutputFormat::None => {}
        }
        Ok(())
    }

    fn rows_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Writes the table rows of this page (the first page also sizes the columns).
    fn flush_rows(&mut self, out: &mut String) {
        if let Some(writer) = &mut self.writer {
            writer.write(&self.pending, out);
        }
        self.pending.clear();
    }

    fn finish(mut self, out: &mut String) {
        match self.printer.format {
            OutputFormat::Json | OutputFormat::Jsonc if self.count == 0 => out.push_str("[]\n"),
            OutputFormat::Json | OutputFormat::Jsonc => out.push_str("\n]\n"),
            OutputFormat::Yaml | OutputFormat::Yamlc if self.count == 0 => out.push_str("[]\n"),
            OutputFormat::Table if self.count == 0 => {
                TableWriter::new(static_columns(self.table), self.printer.cell_width)
                    .write(&[], out);
            }
            OutputFormat::Table => self.flush_rows(out),
            _ => {}
        }
    }
}

/// Appends `text` with `first` before its first line and `rest` before the others (the
/// lines of pretty JSON or YAML; their strings never hold a raw newline).
fn indent(text: &str, first: &str, rest: &str, out: &mut String) {
    for (i, line) in text.lines().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(if i == 0 { first } else { rest });
        out.push_str(line);
    }
    if text.ends_with('\n') {
        out.push('\n');
    }
}

/// Aligned columns with a header and a rule. Cells are escaped and at most `cap` columns
/// wide; the widths are fixed by the first rows written, later cells are cut to them.
#[derive(Debug)]
struct TableWriter {
    columns: Vec<(String, String)>,
    widths: Option<Vec<usize>>,
    cap: usize,
}

impl TableWriter {
    fn new(columns: Vec<(String, String)>, cap: usize) -> Self {
        Self {
            columns,
            widths: None,
            cap,
        }
    }

    /// The cells of one row: escaped, cut to the cap.
    fn cells(&self, row: &Value) -> Vec<String> {
        self.columns
            .iter()
            .map(|(_, pointer)| {
                let text = match row.pointer(pointer) {
                    None | Some(Value::Null) => return String::new(),
                    Some(Value::String(s)) => Cow::Borrowed(s.as_str()),
                    Some(other) => Cow::Owned(other.to_string()),
                };
                truncate(&sanitize(&text), self.cap).into_owned()
            })
            .collect()
    }

    /// Writes `rows`, preceded by the header and the rule the first time.
    fn write(&mut self, rows: &[Vec<String>], out: &mut String) {
        let widths = match &self.widths {
            Some(widths) => widths.clone(),
            None => {
                let widths: Vec<usize> = self
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, (header, _))| {
                        rows.iter()
                            .map(|r| width(&r[i]))
                            .chain([width(header)])
                            .max()
                            .unwrap_or(0)
                    })
                    .collect();
                let headers: Vec<&str> = self.columns.iter().map(|(h, _)| h.as_str()).collect();
                line(&headers, &widths, out);
                let rules: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
                line(&rules, &widths, out);
                self.widths = Some(widths.clone());
                widths
            }
        };
        for row in rows {
            line(row, &widths, out);
        }
    }
}

/// One table line: every cell but the last cut and padded to its width, two spaces apart.
fn line<S: AsRef<str>>(cells: &[S], widths: &[usize], out: &mut String) {
    let last = cells.len().saturating_sub(1);
    let mut text = String::new();
    for (i, cell) in cells.iter().enumerate() {
        let cell = cell.as_ref();
        if i < last {
            let cell = truncate(cell, widths[i]);
            text.push_str(&cell);
            text.extend(std::iter::repeat_n(' ', widths[i] - width(&cell) + 2));
        } else {
            text.push_str(cell);
        }
    }
    out.push_str(text.trim_end());
    out.push('\n');
}

fn static_columns(table: &Table) -> Vec<(String, String)> {
    table
        .columns
        .iter()
        .map(|c| (c.header.to_owned(), c.pointer.to_owned()))
        .collect()
}

/// The columns of a query's result: the keys of its objects (`Name` for `name`), or one
/// `Result` column when the rows are not all objects.
fn key_columns(rows: &[&Value]) -> Vec<(String, String)> {
    if rows.is_empty() || !rows.iter().all(|r| r.is_object()) {
        return vec![("Result".to_owned(), String::new())];
    }
    let mut keys: Vec<&String> = Vec::new();
    for row in rows {
        for key in row.as_object().into_iter().flat_map(|o| o.keys()) {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    keys.into_iter()
        .map(|k| {
            let mut header: String = k.chars().take(1).flat_map(char::to_uppercase).collect();
            header.extend(k.chars().skip(1));
            let pointer = format!("/{}", k.replace('~', "~0").replace('/', "~1"));
            (header, pointer)
        })
        .collect()
}

/// The rows at `pointer`: a list's items, or the one value there.
fn rows<'v>(value: &'v Value, pointer: &str) -> Vec<&'v Value> {
    match value.pointer(pointer) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(other) => vec![other],
    }
}

/// One tsv line as `az` writes it: an object's values in key order (a nested object is an
/// empty cell, a list its length), tab-separated; tabs and newlines in values are escaped.
fn tsv_line(row: &Value) -> String {
    let cells: Vec<String> = match row {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            keys.into_iter().map(|k| tsv_cell(&map[k])).collect()
        }
        Value::Array(items) => items.iter().map(tsv_cell).collect(),
        other => vec![tsv_cell(other)],
    };
    cells.join("\t")
}

fn tsv_cell(value: &Value) -> String {
    match value {
        Value::Null | Value::Object(_) => String::new(),
        Value::Array(items) => items.len().to_string(),
        Value::String(s) => sanitize(s).into_owned(),
        other => other.to_string(),
    }
}

const KEY_COLOR: &str = "\x1b[1;34m";
const STRING_COLOR: &str = "\x1b[32m";
const LITERAL_COLOR: &str = "\x1b[36m";
const RESET: &str = "\x1b[0m";

fn paint(out: &mut String, color: &str, text: &str) {
    out.push_str(color);
    out.push_str(text);
    out.push_str(RESET);
}

/// The end (exclusive) of the quoted string starting at `start` (`"…"` with `\` escapes, or
/// YAML's `'…'` with `''`).
fn quoted_end(text: &str, start: usize) -> usize {
    let quote = text.as_bytes()[start];
    let bytes = text.as_bytes();
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote == b'"' => i += 2,
            b'\'' if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 2,
            b if b == quote => return i + 1,
            _ => i += 1,
        }
    }
    text.len()
}

/// Colors JSON text: keys, strings, and numbers / booleans / null.
fn colorize_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let Some(c) = rest.chars().next() else {
            break;
        };
        if c == '"' {
            let end = quoted_end(text, i).min(text.len());
            let is_key = text[end..].trim_start().starts_with(':');
            paint(
                &mut out,
                if is_key { KEY_COLOR } else { STRING_COLOR },
                &text[i..end],
            );
            i = end;
        } else if c == '-' || c.is_ascii_alphanumeric() {
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+')))
                .unwrap_or(rest.len());
            paint(&mut out, LITERAL_COLOR, &rest[..len]);
            i += len;
        } else {
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Colors the keys of YAML text, line by line.
fn colorize_yaml(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for line in text.split_inclusive('\n') {
        let body = line.trim_start_matches([' ', '-']);
        let prefix = &line[..line.len() - body.len()];
        let key_end = if body.starts_with(['"', '\'']) {
            Some(quoted_end(body, 0)).filter(|&e| body[e..].starts_with(':'))
        } else {
            body.find(": ")
                .or_else(|| body.trim_end().strip_suffix(':').map(str::len))
        };
        match key_end {
            Some(end) if end > 0 => {
                out.push_str(prefix);
                paint(&mut out, KEY_COLOR, &body[..end]);
                out.push_str(&body[end..]);
            }
            _ => out.push_str(line),
        }
    }
    out
}

fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, Failure> {
    serde_json::to_value(value).map_err(format_failed)
}

fn format_failed(e: impl std::fmt::Display) -> Failure {
    Failure::Runtime(format!("cannot format the result: {e}"))
}

/// A write that failed because the reader went away (`| head`) ends the command quietly.
fn finish_write(result: io::Result<()>) -> Result<(), Failure> {
    match result {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::Runtime(format!("cannot write the output: {e}"))),
        Ok(()) => Ok(()),
    }
}

/// Writes to stdout; an error (e.g. a closed pipe) is returned, never a panic.
pub(crate) fn write_stdout(text: &str) -> io::Result<()> {
    if text.is_empty() {
        return Ok(());
    }
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

    fn printer(format: OutputFormat, terminal: bool) -> Printer {
        Printer::with(format, None, terminal, None)
    }

    fn render(p: &Printer, value: &Value, table: &Table) -> String {
        let mut out = String::new();
        p.render(value, Some(table), &mut out).unwrap();
        out
    }

    #[test]
    fn tables_align_columns_and_escape_unsafe_characters() {
        let rows = json!([
            {"id": "1", "topic": "short", "lastMessageReceivedOn": "2024-01-01T00:00:00Z"},
            {"id": "12345", "topic": "two\nlines\u{1b}[31m\u{202e}"},
        ]);
        let expected = "\
Id     Topic                         LastMessageReceivedOn  DeletedOn
-----  ----------------------------  ---------------------  ---------
1      short                         2024-01-01T00:00:00Z
12345  two\\nlines\\u{1b}[31m\\u{202e}
";
        assert_eq!(
            render(&printer(OutputFormat::Table, false), &rows, &THREADS),
            expected
        );
    }

    #[test]
    fn table_cells_are_bounded_by_display_width() {
        let long = "é".repeat(10_000);
        let rows = json!([{"id": long, "topic": "日本".repeat(100)}]);
        let text = render(&printer(OutputFormat::Table, false), &rows, &THREADS);
        for line in text.lines() {
            assert!(width(line) <= 2 * MAX_CELL_WIDTH + 40, "{}", line.len());
        }
        let row = text.lines().nth(2).unwrap();
        assert!(row.starts_with(&format!("{}…", "é".repeat(MAX_CELL_WIDTH - 1))));
        // A terminal narrower than the cap bounds the cells too.
        let narrow = Printer::with(OutputFormat::Table, None, true, Some(20));
        let text = render(&narrow, &rows, &THREADS);
        assert!(
            text.lines()
                .nth(2)
                .unwrap()
                .starts_with(&format!("{}…  ", "é".repeat(19)))
        );
    }

    #[test]
    fn a_single_object_is_one_row_and_json_is_pretty() {
        // Keys in sorted order, whether or not serde_json keeps insertion order.
        let v = json!({"extra": {"a": 1}, "id": "7"});
        assert_eq!(
            render(&printer(OutputFormat::Table, false), &v, &MESSAGE_ID),
            "Id\n--\n7\n"
        );
        assert_eq!(
            render(&printer(OutputFormat::Json, false), &v, &MESSAGE_ID),
            "{\n  \"extra\": {\n    \"a\": 1\n  },\n  \"id\": \"7\"\n}\n"
        );
        assert_eq!(
            render(&printer(OutputFormat::None, false), &v, &MESSAGE_ID),
            ""
        );
    }

    #[test]
    fn tsv_is_values_only_in_key_order() {
        let v = json!([
            {"b": "x\ty", "a": 1, "c": {"n": 1}, "d": [1, 2], "e": null, "f": true},
            {"a": 2}
        ]);
        assert_eq!(
            render(&printer(OutputFormat::Tsv, false), &v, &MESSAGE_ID),
            "1\tx\\ty\t\t2\t\ttrue\n2\n"
        );
    }

    #[test]
    fn yaml_is_valid_and_lists_stream_as_sequences() {
        let v = json!({"id": "7", "topic": "a: b\nc", "metadata": {"k": "v"}});
        let text = render(&printer(OutputFormat::Yaml, false), &v, &THREAD);
        let back: Value = serde_norway::from_str(&text).unwrap();
        assert_eq!(back, v);
        let list = [v.clone(), json!({"id": "8", "tags": ["x", "y"]})];
        let p = printer(OutputFormat::Yaml, false);
        let mut w = ListWriter::new(&p, &THREADS);
        let mut out = String::new();
        for item in &list {
            w.item(item, &mut out).unwrap();
        }
        w.finish(&mut out);
        let back: Value = serde_norway::from_str(&out).unwrap();
        assert_eq!(back, json!(list));
    }

    #[test]
    fn json_lists_stream_as_one_array() {
        for items in [vec![], vec![json!({"a": [1, {"b": 2}]}), json!("x")]] {
            let p = printer(OutputFormat::Json, false);
            let mut w = ListWriter::new(&p, &THREADS);
            let mut out = String::new();
            for item in &items {
                w.item(item, &mut out).unwrap();
            }
            w.finish(&mut out);
            assert_eq!(out, serde_json::to_string_pretty(&items).unwrap() + "\n");
        }
    }

    #[test]
    fn on_a_terminal_json_escapes_bidi_and_c1_and_jsonc_is_colored() {
        let v = json!({"name": "evil\u{202e}txt\u{9b}2J", "n": 1, "ok": true});
        let plain = render(&printer(OutputFormat::Json, false), &v, &THREAD);
        assert!(plain.contains('\u{202e}'), "a pipe gets the exact JSON");
        let term = render(&printer(OutputFormat::Json, true), &v, &THREAD);
        assert!(term.contains(r"evil\u202Etxt\u009B2J"), "{term}");
        let back: Value = serde_json::from_str(&term).unwrap();
        assert_eq!(back, v, "still the same JSON");
        let colored = render(&printer(OutputFormat::Jsonc, true), &v, &THREAD);
        assert!(
            colored.contains(&format!("{KEY_COLOR}\"name\"{RESET}")),
            "{colored:?}"
        );
        assert!(
            colored.contains(&format!("{LITERAL_COLOR}true{RESET}")),
            "{colored:?}"
        );
        assert_eq!(
            render(&printer(OutputFormat::Jsonc, false), &v, &THREAD),
            plain
        );
        let yaml = render(&printer(OutputFormat::Yamlc, true), &v, &THREAD);
        assert!(
            yaml.contains(&format!("{KEY_COLOR}name{RESET}: ")),
            "{yaml:?}"
        );
        assert!(!yaml.contains('\u{202e}'), "{yaml:?}");
    }

    #[test]
    fn queries_shape_the_output() {
        let v = json!([{"id": "1", "topic": "a"}, {"id": "2", "topic": "b"}]);
        let q = |format, query: &str| {
            let p = Printer::with(format, Some(query.to_owned()), false, None);
            let mut out = String::new();
            p.render_queried(query, v.clone(), &mut out).map(|()| out)
        };
        assert_eq!(q(OutputFormat::Tsv, "[].id").unwrap(), "1\n2\n");
        assert_eq!(q(OutputFormat::Json, "[0].topic").unwrap(), "\"a\"\n");
        assert_eq!(
            q(OutputFormat::Table, "[].{name: topic}").unwrap(),
            "Name\n----\na\nb\n"
        );
        assert!(matches!(
            q(OutputFormat::Json, "length(@, @)"),
            Err(Failure::Usage(_))
        ));
    }
}
