//! Result-set rendering: `table` (comfy-table), `csv` (RFC 4180), `tsv`, `json` (one array of
//! objects per result set), `jsonl` (one object per line), `markdown` (a GitHub pipe table) and
//! `line` (one `column = value` per line). [`ResultWriter`] renders a result set batch by
//! batch: every format but table and markdown writes each batch's rows as it arrives.
//!
//! Value conventions: timestamps are ISO 8601 (`2013-01-01T06:00:00`, a fraction only when it is
//! non-zero); NULL is `NULL` in table, markdown and line modes, an empty field in CSV and TSV (an
//! empty string is `""` in CSV) and `null` in JSON. `.nullvalue` overrides the text modes.

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::{Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::json::writer::{JsonArray, JsonFormat, LineDelimited, Writer, WriterBuilder};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use comfy_table::{Cell, Table};

/// Output format of result sets (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    /// Boxed ASCII table; NULL shown as `NULL`.
    #[default]
    Table,
    /// RFC 4180 CSV with one header line; NULL is an empty field.
    Csv,
    /// A JSON array of objects per result set; NULL is `null`.
    Json,
    /// Tab-separated values with one header line; NULL is an empty field; tab, newline, carriage
    /// return and backslash inside values are written as `\t`, `\n`, `\r` and `\\`.
    Tsv,
    /// One JSON object per line (JSON Lines); NULL is `null`.
    Jsonl,
    /// A GitHub-flavoured Markdown pipe table; NULL shown as `NULL`.
    Markdown,
    /// One `column = value` line per column, a blank line between rows.
    Line,
}

impl OutputFormat {
    /// The name used by `--format` and `.mode`.
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Table => "table",
            OutputFormat::Csv => "csv",
            OutputFormat::Json => "json",
            OutputFormat::Tsv => "tsv",
            OutputFormat::Jsonl => "jsonl",
            OutputFormat::Markdown => "markdown",
            OutputFormat::Line => "line",
        }
    }

    /// Parses a `.mode` argument (case-insensitive).
    pub fn parse(name: &str) -> Option<OutputFormat> {
        <OutputFormat as clap::ValueEnum>::from_str(name, true).ok()
    }
}

/// Per-session rendering settings (`.nullvalue`, `.maxrows`, `.maxcolwidth`).
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// Replaces the format's NULL text in table, markdown, line, csv and tsv modes.
    pub null: Option<String>,
    /// Table mode: show at most this many rows (the first and the last), 0 for all.
    pub max_rows: usize,
    /// Table mode: wrap cell text so the table fits this many columns (the terminal's
    /// width); `None` never wraps (pipes, files).
    pub width: Option<u16>,
    /// Table mode: cut each line of a cell after this many characters with `…` (and a cell
    /// after [`table::MAX_CELL_LINES`] lines); 0 never cuts.
    pub max_width: usize,
}

/// `%.f` prints nothing when the fraction is zero, else 3, 6 or 9 digits.
const TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.f";

/// Renders one result set in `format`: the text [`ResultWriter`] writes for these batches.
#[cfg(test)]
pub fn render(
    format: OutputFormat,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    options: &RenderOptions,
) -> Result<String, ArrowError> {
    let mut writer = ResultWriter::new(format, schema.clone(), options);
    let mut text = String::new();
    for batch in batches {
        text.push_str(&writer.write(batch)?);
    }
    text.push_str(&writer.finish()?);
    Ok(text)
}

/// Renders one result set a batch at a time: [`ResultWriter::write`] returns the text of
/// one batch as soon as the format allows, [`ResultWriter::finish`] the rest. csv, tsv,
/// json, jsonl and line stream (each batch's rows come out with it, the header with the first
/// batch, so a query failing before its first batch prints nothing); table and markdown
/// align columns over all rows, so they print everything at the end (table mode keeps at most
/// `max_rows` rows, see [`table::TableCollector`]; markdown keeps all). The concatenated text
/// is the same whatever the batch boundaries.
pub struct ResultWriter {
    schema: SchemaRef,
    /// The NULL text of the text formats (`.nullvalue`, else the format's own).
    null: String,
    /// Whether the header (csv, tsv) or the first row (line) was written.
    started: bool,
    kind: Kind,
}

enum Kind {
    Table {
        rows: table::TableCollector,
        width: Option<u16>,
        max_width: usize,
    },
    Markdown(Vec<RecordBatch>),
    /// `None`: NULL is an empty field.
    Csv(Option<String>),
    Tsv,
    Json(Box<Writer<Vec<u8>, JsonArray>>),
    Jsonl(Box<Writer<Vec<u8>, LineDelimited>>),
    Line,
}

impl ResultWriter {
    /// A writer of one result set with `schema` in `format`.
    pub fn new(format: OutputFormat, schema: SchemaRef, options: &RenderOptions) -> ResultWriter {
        let null = |default: &str| options.null.clone().unwrap_or_else(|| default.to_string());
        let (null, kind) = match format {
            OutputFormat::Table => (
                null("NULL"),
                Kind::Table {
                    rows: table::TableCollector::new(options.max_rows),
                    width: options.width,
                    max_width: options.max_width,
                },
            ),
            OutputFormat::Markdown => (null("NULL"), Kind::Markdown(Vec::new())),
            OutputFormat::Csv => (String::new(), Kind::Csv(options.null.clone())),
            OutputFormat::Tsv => (null(""), Kind::Tsv),
            OutputFormat::Json => (String::new(), Kind::Json(Box::new(json_writer()))),
            OutputFormat::Jsonl => (String::new(), Kind::Jsonl(Box::new(json_writer()))),
            OutputFormat::Line => (null("NULL"), Kind::Line),
        };
        ResultWriter {
            schema,
            null,
            started: false,
            kind,
        }
    }

    /// The text of one more batch (empty for table and markdown, which keep it).
    ///
    /// # Errors
    /// A value arrow cannot format.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<String, ArrowError> {
        let mut out = String::new();
        match &mut self.kind {
            Kind::Table { rows, .. } => rows.push(batch),
            Kind::Markdown(batches) => batches.push(batch.clone()),
            Kind::Csv(null) => {
                if !self.started {
                    csv_header(&self.schema, &mut out);
                }
                csv_rows(batch, null.as_deref(), &mut out)?;
            }
            Kind::Tsv => {
                if !self.started {
                    tsv_header(&self.schema, &mut out);
                }
                tsv_rows(batch, &self.null, &mut out)?;
            }
            Kind::Json(writer) => {
                writer.write(batch)?;
                out = take_utf8(writer.get_mut())?;
            }
            Kind::Jsonl(writer) => {
                writer.write(batch)?;
                out = take_utf8(writer.get_mut())?;
            }
            Kind::Line => {
                line_rows(&self.schema, batch, &self.null, self.started, &mut out)?;
                if batch.num_rows() > 0 {
                    self.started = true;
                }
                return Ok(out);
            }
        }
        self.started = true;
        Ok(out)
    }

    /// The rest of the text after the last batch: the header of an empty csv/tsv result, the
    /// closing `]` of json, the whole table or markdown table.
    ///
    /// # Errors
    /// A value arrow cannot format.
    pub fn finish(self) -> Result<String, ArrowError> {
        let mut out = String::new();
        match self.kind {
            Kind::Table {
                rows,
                width,
                max_width,
            } => return rows.render(&self.schema, &self.null, width, max_width),
            Kind::Markdown(batches) => return render_markdown(&self.schema, &batches, &self.null),
            Kind::Csv(_) if !self.started => csv_header(&self.schema, &mut out),
            Kind::Tsv if !self.started => tsv_header(&self.schema, &mut out),
            Kind::Json(mut writer) => {
                writer.finish()?;
                out = take_utf8(writer.get_mut())?;
                out.push('\n');
            }
            Kind::Csv(_) | Kind::Tsv | Kind::Jsonl(_) | Kind::Line => {}
        }
        Ok(out)
    }
}

fn format_options(null: &str) -> FormatOptions<'_> {
    FormatOptions::new()
        .with_null(null)
        .with_timestamp_format(Some(TIMESTAMP_FORMAT))
        .with_display_error(false)
}

/// A boxed table with a header row; an empty result still shows the header.
#[cfg(test)]
pub fn render_table(schema: &Schema, batches: &[RecordBatch]) -> Result<String, ArrowError> {
    table_with(schema, batches, "NULL", 0, None)
}

/// The boxed table of `batches` showing at most `max_rows` (0: all), no cell cut.
#[cfg(test)]
fn table_with(
    schema: &Schema,
    batches: &[RecordBatch],
    null: &str,
    max_rows: usize,
    width: Option<u16>,
) -> Result<String, ArrowError> {
    let mut rows = table::TableCollector::new(max_rows);
    for batch in batches {
        rows.push(batch);
    }
    rows.render(schema, null, width, 0)
}

/// A GitHub pipe table: header, `|---|` separator, one line per row. `|` in values is escaped
/// as `\|` and line breaks become `<br>`.
fn render_markdown(
    schema: &Schema,
    batches: &[RecordBatch],
    null: &str,
) -> Result<String, ArrowError> {
    if schema.fields().is_empty() {
        return Ok(String::from("(no columns)\n"));
    }
    let escape = |value: &str| {
        value
            .replace('|', "\\|")
            .replace("\r\n", "<br>")
            .replace(['\n', '\r'], "<br>")
    };
    let mut table = Table::new();
    table.load_preset(comfy_table::presets::ASCII_MARKDOWN);
    table.set_header(
        schema
            .fields()
            .iter()
            .map(|field| Cell::new(escape(field.name()))),
    );
    let options = format_options(null);
    for batch in batches {
        let formatters = formatters(batch, &options)?;
        for row in 0..batch.num_rows() {
            let mut cells = Vec::with_capacity(formatters.len());
            for formatter in &formatters {
                cells.push(Cell::new(escape(&formatter.value(row).try_to_string()?)));
            }
            table.add_row(cells);
        }
    }
    Ok(format!("{table}\n"))
}

/// One `column = value` line per column (names right-aligned), a blank line between rows
/// (`started`: rows were written before this batch). An empty result prints nothing.
fn line_rows(
    schema: &Schema,
    batch: &RecordBatch,
    null: &str,
    started: bool,
    out: &mut String,
) -> Result<(), ArrowError> {
    let width = schema
        .fields()
        .iter()
        .map(|field| field.name().chars().count())
        .max()
        .unwrap_or(0);
    let options = format_options(null);
    let formatters = formatters(batch, &options)?;
    for row in 0..batch.num_rows() {
        if started || row > 0 {
            out.push('\n');
        }
        for (field, formatter) in schema.fields().iter().zip(&formatters) {
            let value = formatter.value(row).try_to_string()?;
            out.push_str(&format!("{:>width$} = {value}\n", field.name()));
        }
    }
    Ok(())
}

/// TSV escaping: tab, newline, carriage return and backslash as `\t`, `\n`, `\r`, `\\`.
fn tsv_escape(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\t' => escaped.push_str("\\t"),
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\\' => escaped.push_str("\\\\"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// The TSV header line.
fn tsv_header(schema: &Schema, out: &mut String) {
    let header: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| tsv_escape(f.name()))
        .collect();
    out.push_str(&header.join("\t"));
    out.push('\n');
}

/// Tab-separated values, one line per row; NULL is written as `null` unescaped.
fn tsv_rows(batch: &RecordBatch, null: &str, out: &mut String) -> Result<(), ArrowError> {
    let options = format_options(null);
    let formatters = formatters(batch, &options)?;
    for row in 0..batch.num_rows() {
        for (index, formatter) in formatters.iter().enumerate() {
            if index > 0 {
                out.push('\t');
            }
            let value = formatter.value(row).try_to_string()?;
            if batch.column(index).is_null(row) {
                out.push_str(&value);
            } else {
                out.push_str(&tsv_escape(&value));
            }
        }
        out.push('\n');
    }
    Ok(())
}

/// arrow's JSON writer into a buffer: explicit nulls, ISO timestamps. The json format is one
/// array of objects per result set (`JsonArray`), jsonl one object per line
/// (`LineDelimited`); the buffer is drained after each batch ([`take_utf8`]).
fn json_writer<F: JsonFormat>() -> Writer<Vec<u8>, F> {
    WriterBuilder::new()
        .with_explicit_nulls(true)
        .with_timestamp_format(TIMESTAMP_FORMAT.to_string())
        .build::<_, F>(Vec::new())
}

/// Empties `buffer` into a string (arrow writes whole rows, so it is valid UTF-8).
fn take_utf8(buffer: &mut Vec<u8>) -> Result<String, ArrowError> {
    String::from_utf8(std::mem::take(buffer))
        .map_err(|err| ArrowError::ExternalError(Box::new(err)))
}

/// RFC 4180: a header line, then one line per row, fields quoted only when needed. NULL is an
/// empty field and the empty string is `""`, so the two stay distinguishable.
#[cfg(test)]
pub fn render_csv(schema: &Schema, batches: &[RecordBatch]) -> Result<String, ArrowError> {
    render(
        OutputFormat::Csv,
        &std::sync::Arc::new(schema.clone()),
        batches,
        &RenderOptions::default(),
    )
}

/// The CSV header line.
fn csv_header(schema: &Schema, out: &mut String) {
    let header: Vec<String> = schema
        .fields()
        .iter()
        .map(|field| csv_field(field.name()))
        .collect();
    out.push_str(&header.join(","));
    out.push('\n');
}

/// CSV rows; `null` replaces the empty field written for NULL (`.nullvalue`).
fn csv_rows(batch: &RecordBatch, null: Option<&str>, out: &mut String) -> Result<(), ArrowError> {
    let options = format_options("");
    let formatters = formatters(batch, &options)?;
    for row in 0..batch.num_rows() {
        for (index, formatter) in formatters.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            if batch.column(index).is_null(row) {
                if let Some(null) = null {
                    out.push_str(&csv_field(null));
                }
                continue;
            }
            let value = formatter.value(row).try_to_string()?;
            if value.is_empty() {
                out.push_str("\"\"");
            } else {
                out.push_str(&csv_field(&value));
            }
        }
        out.push('\n');
    }
    Ok(())
}

/// Quotes a field if it contains a comma, a quote or a line break (doubling quotes inside).
fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// One JSON array of objects per result set (arrow's `ArrayWriter`), NULLs written as `null`.
#[cfg(test)]
pub fn render_json(batches: &[RecordBatch]) -> Result<String, ArrowError> {
    let schema = batches
        .first()
        .map(RecordBatch::schema)
        .unwrap_or_else(|| std::sync::Arc::new(Schema::empty()));
    render(
        OutputFormat::Json,
        &schema,
        batches,
        &RenderOptions::default(),
    )
}

fn formatters<'a>(
    batch: &'a RecordBatch,
    options: &FormatOptions<'a>,
) -> Result<Vec<ArrayFormatter<'a>>, ArrowError> {
    batch
        .columns()
        .iter()
        .map(|column| ArrayFormatter::try_new(column.as_ref(), options))
        .collect()
}

mod table;
#[cfg(test)]
mod tests;
