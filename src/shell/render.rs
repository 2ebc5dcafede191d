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
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        BooleanArray, Float64Array, Int64Array, StringArray, TimestampMillisecondArray,
    };
    use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

    use super::*;

    fn sample() -> (SchemaRef, Vec<RecordBatch>) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("host", DataType::Utf8, true),
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Millisecond, None),
                false,
            ),
            Field::new("cpu", DataType::Float64, true),
            Field::new("n", DataType::Int64, true),
            Field::new("ok", DataType::Boolean, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec![
                    Some("a,b"),
                    Some("say \"hi\""),
                    None,
                    Some(""),
                ])),
                Arc::new(TimestampMillisecondArray::from(vec![
                    1_357_020_000_000,
                    1_357_020_000_250,
                    0,
                    1_357_020_001_000,
                ])),
                Arc::new(Float64Array::from(vec![
                    Some(0.5),
                    None,
                    Some(2.0),
                    Some(-1.25),
                ])),
                Arc::new(Int64Array::from(vec![Some(1), Some(2), None, Some(4)])),
                Arc::new(BooleanArray::from(vec![
                    Some(true),
                    Some(false),
                    None,
                    Some(true),
                ])),
            ],
        )
        .unwrap();
        (schema, vec![batch])
    }

    #[test]
    fn csv_quotes_nulls_and_timestamps() {
        let (schema, batches) = sample();
        let text = render_csv(&schema, &batches).unwrap();
        assert_eq!(
            text,
            "host,ts,cpu,n,ok\n\
             \"a,b\",2013-01-01T06:00:00,0.5,1,true\n\
             \"say \"\"hi\"\"\",2013-01-01T06:00:00.250,,2,false\n\
             ,1970-01-01T00:00:00,2.0,,\n\
             \"\",2013-01-01T06:00:01,-1.25,4,true\n"
        );
    }

    #[test]
    fn csv_empty_result_has_header_only() {
        let (schema, _) = sample();
        assert_eq!(render_csv(&schema, &[]).unwrap(), "host,ts,cpu,n,ok\n");
        let empty = RecordBatch::new_empty(schema.clone());
        assert_eq!(render_csv(&schema, &[empty]).unwrap(), "host,ts,cpu,n,ok\n");
    }

    #[test]
    fn csv_header_is_quoted_when_needed() {
        let schema = Schema::new(vec![Field::new("count(a,b)", DataType::Int64, true)]);
        assert_eq!(render_csv(&schema, &[]).unwrap(), "\"count(a,b)\"\n");
    }

    #[test]
    fn json_array_with_explicit_nulls() {
        let (_, batches) = sample();
        let text = render_json(&batches).unwrap();
        assert!(text.ends_with("]\n"), "{text}");
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let rows = value.as_array().unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0]["host"], "a,b");
        assert_eq!(rows[0]["ts"], "2013-01-01T06:00:00");
        assert_eq!(rows[0]["cpu"], 0.5);
        assert_eq!(rows[0]["n"], 1);
        assert_eq!(rows[0]["ok"], true);
        assert_eq!(rows[1]["ts"], "2013-01-01T06:00:00.250");
        assert!(rows[1]["cpu"].is_null());
        assert!(rows[2].as_object().unwrap().contains_key("host"));
        assert!(rows[2]["host"].is_null());
        assert_eq!(rows[3]["host"], "");
    }

    #[test]
    fn json_empty_result_is_empty_array() {
        assert_eq!(render_json(&[]).unwrap(), "[]\n");
    }

    #[test]
    fn table_shows_header_and_null() {
        let (schema, batches) = sample();
        let text = render_table(&schema, &batches).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 8, "{text}");
        assert!(
            lines[0].starts_with("+-") && lines[0].ends_with("-+"),
            "{text}"
        );
        assert!(
            lines[1].contains("| host ") && lines[1].contains("| ok "),
            "{text}"
        );
        assert!(
            lines[3].contains("| a,b ") && lines[3].contains("2013-01-01T06:00:00 "),
            "{text}"
        );
        assert!(lines[5].starts_with("| NULL "), "{text}");
        assert!(text.ends_with("+\n"));
    }

    #[test]
    fn table_empty_result_shows_header() {
        let (schema, _) = sample();
        let text = render_table(&schema, &[]).unwrap();
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(text.contains("| host | ts | cpu | n | ok |"), "{text}");
    }

    #[test]
    fn table_without_columns() {
        assert_eq!(
            render_table(&Schema::empty(), &[]).unwrap(),
            "(no columns)\n"
        );
    }

    #[test]
    fn text_formats_with_options() {
        let (schema, batches) = sample();
        let options = RenderOptions {
            null: Some("-".into()),
            max_rows: 0,
            width: None,
        };
        let tsv = render(OutputFormat::Tsv, &schema, &batches, &options).unwrap();
        assert_eq!(
            tsv.lines().nth(3).unwrap(),
            "-\t1970-01-01T00:00:00\t2.0\t-\t-"
        );
        let csv = render(OutputFormat::Csv, &schema, &batches, &options).unwrap();
        assert_eq!(csv.lines().nth(3).unwrap(), "-,1970-01-01T00:00:00,2.0,-,-");
        let line = render(OutputFormat::Line, &schema, &batches, &options).unwrap();
        assert!(
            line.starts_with("host = a,b\n  ts = 2013-01-01T06:00:00\n"),
            "{line}"
        );
        assert_eq!(line.matches("\n\n").count(), 3, "{line}");
        let markdown = render(OutputFormat::Markdown, &schema, &batches, &options).unwrap();
        assert!(markdown.starts_with("| host "), "{markdown}");
        assert!(
            markdown.lines().nth(1).unwrap().starts_with("|-----"),
            "{markdown}"
        );
        let jsonl = render(OutputFormat::Jsonl, &schema, &batches, &options).unwrap();
        assert_eq!(jsonl.lines().count(), 4);
        assert!(
            jsonl.lines().nth(2).unwrap().contains("\"host\":null"),
            "{jsonl}"
        );
    }

    #[test]
    fn table_max_rows_hides_the_middle() {
        let (schema, batches) = sample();
        let text = table_with(&schema, &batches, "NULL", 3, None).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 9, "{text}");
        assert!(lines[3].starts_with("| a,b "), "{text}");
        assert!(lines[4].starts_with("| say "), "{text}");
        assert!(lines[5].starts_with("| ... "), "{text}");
        assert!(lines[6].starts_with("|      "), "{text}");
        assert_eq!(lines[8], "(4 rows, 1 row hidden; `.maxrows 0` shows all)");
        assert_eq!(
            table_with(&schema, &batches, "NULL", 4, None).unwrap(),
            render_table(&schema, &batches).unwrap()
        );
    }

    #[test]
    fn wide_tables_wrap_to_the_width() {
        let long = "z".repeat(120);
        let schema = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, false),
            Field::new("text", DataType::Utf8, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec!["a"])),
                Arc::new(StringArray::from(vec![long.as_str()])),
            ],
        )
        .unwrap();
        let options = RenderOptions {
            width: Some(60),
            ..RenderOptions::default()
        };
        let text = render(
            OutputFormat::Table,
            &schema,
            std::slice::from_ref(&batch),
            &options,
        )
        .unwrap();
        assert!(
            text.lines().all(|line| line.chars().count() <= 60),
            "{text}"
        );
        assert_eq!(text.matches('z').count(), 120);
        // Without a width (pipes, files) nothing wraps.
        let text = render(
            OutputFormat::Table,
            &schema,
            &[batch],
            &RenderOptions::default(),
        )
        .unwrap();
        assert!(text.lines().any(|line| line.contains(&long)));
    }
}
