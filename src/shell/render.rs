//! Result-set rendering: `table` (comfy-table), `csv` (RFC 4180), `tsv`, `json` (one array of
//! objects per result set), `jsonl` (one object per line), `markdown` (a GitHub pipe table) and
//! `line` (one `column = value` per line). Every renderer returns the complete text.
//!
//! Value conventions: timestamps are ISO 8601 (`2013-01-01T06:00:00`, a fraction only when it is
//! non-zero); NULL is `NULL` in table, markdown and line modes, an empty field in CSV and TSV (an
//! empty string is `""` in CSV) and `null` in JSON. `.nullvalue` overrides the text modes.

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::Schema;
use arrow::error::ArrowError;
use arrow::json::writer::{JsonArray, JsonFormat, LineDelimited, WriterBuilder};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use comfy_table::{Cell, ContentArrangement, Table};

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

/// Per-session rendering settings (`.nullvalue`, `.maxrows`).
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// Replaces the format's NULL text in table, markdown, line, csv and tsv modes.
    pub null: Option<String>,
    /// Table mode: show at most this many rows (the first and the last), 0 for all.
    pub max_rows: usize,
    /// Table mode: wrap cell text so the table fits this many columns (the terminal's
    /// width); `None` never wraps (pipes, files).
    pub width: Option<u16>,
}

/// `%.f` prints nothing when the fraction is zero, else 3, 6 or 9 digits.
const TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.f";

/// The same borders as arrow's pretty printer (MySQL style).
const TABLE_PRESET: &str = "||--+-++|    ++++++";

/// Renders one result set in `format`.
pub fn render(
    format: OutputFormat,
    schema: &Schema,
    batches: &[RecordBatch],
    options: &RenderOptions,
) -> Result<String, ArrowError> {
    let null = |default: &'static str| options.null.clone().unwrap_or_else(|| default.to_string());
    match format {
        OutputFormat::Table => table_with(
            schema,
            batches,
            &null("NULL"),
            options.max_rows,
            options.width,
        ),
        OutputFormat::Csv => csv_with(schema, batches, options.null.as_deref()),
        OutputFormat::Json => render_json(batches),
        OutputFormat::Tsv => render_tsv(schema, batches, &null("")),
        OutputFormat::Jsonl => render_jsonl(batches),
        OutputFormat::Markdown => render_markdown(schema, batches, &null("NULL")),
        OutputFormat::Line => render_line(schema, batches, &null("NULL")),
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

/// The boxed table; with `max_rows > 0` and more rows than that, only the first and last rows
/// are shown, separated by a row of `...`, and a footer says how many were hidden. With a
/// `width`, cell text wraps so that the table fits it (comfy-table's dynamic arrangement).
fn table_with(
    schema: &Schema,
    batches: &[RecordBatch],
    null: &str,
    max_rows: usize,
    width: Option<u16>,
) -> Result<String, ArrowError> {
    if schema.fields().is_empty() {
        return Ok(String::from("(no columns)\n"));
    }
    let mut table = Table::new();
    table.load_preset(TABLE_PRESET);
    match width {
        Some(width) => {
            table
                .set_content_arrangement(ContentArrangement::Dynamic)
                .set_width(width);
        }
        None => {
            table.set_content_arrangement(ContentArrangement::Disabled);
        }
    }
    table.set_header(schema.fields().iter().map(|field| Cell::new(field.name())));
    let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let hidden = if max_rows > 0 && total > max_rows {
        total - max_rows
    } else {
        0
    };
    let head = if hidden > 0 {
        max_rows.div_ceil(2)
    } else {
        total
    };
    let tail_start = head + hidden;
    let options = format_options(null);
    let mut index = 0usize;
    for batch in batches {
        let formatters = formatters(batch, &options)?;
        for row in 0..batch.num_rows() {
            let global = index;
            index += 1;
            if global >= head && global < tail_start {
                if global == head {
                    table.add_row(formatters.iter().map(|_| Cell::new("...")));
                }
                continue;
            }
            let mut cells = Vec::with_capacity(formatters.len());
            for formatter in &formatters {
                cells.push(Cell::new(formatter.value(row).try_to_string()?));
            }
            table.add_row(cells);
        }
    }
    let mut text = format!("{table}\n");
    if hidden > 0 {
        let noun = if hidden == 1 { "row" } else { "rows" };
        text.push_str(&format!(
            "({total} rows, {hidden} {noun} hidden; `.maxrows 0` shows all)\n"
        ));
    }
    Ok(text)
}

/// A GitHub pipe table: header, `|---|` separator, one line per row. `|` in values is escaped
/// as `\|` and line breaks become `<br>`.
pub fn render_markdown(
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

/// One `column = value` line per column (names right-aligned), a blank line between rows.
/// An empty result prints nothing.
pub fn render_line(
    schema: &Schema,
    batches: &[RecordBatch],
    null: &str,
) -> Result<String, ArrowError> {
    let width = schema
        .fields()
        .iter()
        .map(|field| field.name().chars().count())
        .max()
        .unwrap_or(0);
    let options = format_options(null);
    let mut out = String::new();
    for batch in batches {
        let formatters = formatters(batch, &options)?;
        for row in 0..batch.num_rows() {
            if !out.is_empty() {
                out.push('\n');
            }
            for (field, formatter) in schema.fields().iter().zip(&formatters) {
                let value = formatter.value(row).try_to_string()?;
                out.push_str(&format!("{:>width$} = {value}\n", field.name()));
            }
        }
    }
    Ok(out)
}

/// Tab-separated values: a header line, then one line per row; NULL is written as `null`.
pub fn render_tsv(
    schema: &Schema,
    batches: &[RecordBatch],
    null: &str,
) -> Result<String, ArrowError> {
    let escape = |value: &str| {
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
    };
    let mut out = String::new();
    let header: Vec<String> = schema.fields().iter().map(|f| escape(f.name())).collect();
    out.push_str(&header.join("\t"));
    out.push('\n');
    let options = format_options(null);
    for batch in batches {
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
                    out.push_str(&escape(&value));
                }
            }
            out.push('\n');
        }
    }
    Ok(out)
}

/// JSON Lines (arrow's `LineDelimitedWriter`): one object per row, NULLs written as `null`.
pub fn render_jsonl(batches: &[RecordBatch]) -> Result<String, ArrowError> {
    write_json::<LineDelimited>(batches)
}

/// Writes `batches` with arrow's JSON writer in format `F`, explicit nulls, ISO timestamps.
fn write_json<F: JsonFormat>(batches: &[RecordBatch]) -> Result<String, ArrowError> {
    let mut buffer = Vec::new();
    {
        let mut writer = WriterBuilder::new()
            .with_explicit_nulls(true)
            .with_timestamp_format(TIMESTAMP_FORMAT.to_string())
            .build::<_, F>(&mut buffer);
        for batch in batches {
            writer.write(batch)?;
        }
        writer.finish()?;
    }
    String::from_utf8(buffer).map_err(|err| ArrowError::ExternalError(Box::new(err)))
}

/// RFC 4180: a header line, then one line per row, fields quoted only when needed. NULL is an
/// empty field and the empty string is `""`, so the two stay distinguishable.
#[cfg(test)]
pub fn render_csv(schema: &Schema, batches: &[RecordBatch]) -> Result<String, ArrowError> {
    csv_with(schema, batches, None)
}

/// CSV; `null` replaces the empty field written for NULL (`.nullvalue`).
fn csv_with(
    schema: &Schema,
    batches: &[RecordBatch],
    null: Option<&str>,
) -> Result<String, ArrowError> {
    let mut out = String::new();
    let header: Vec<String> = schema
        .fields()
        .iter()
        .map(|field| csv_field(field.name()))
        .collect();
    out.push_str(&header.join(","));
    out.push('\n');
    let options = format_options("");
    for batch in batches {
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
    }
    Ok(out)
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
pub fn render_json(batches: &[RecordBatch]) -> Result<String, ArrowError> {
    let mut text = write_json::<JsonArray>(batches)?;
    text.push('\n');
    Ok(text)
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

#[cfg(test)]
mod tests;
