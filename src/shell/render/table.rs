//! Table mode (comfy-table): the one format that needs every shown row before it prints (column
//! widths), so it collects, but within bounds.
//!
//! - Rows: [`TableCollector`] keeps the first `⌈max_rows / 2⌉` rows and a window of the last
//!   `⌊max_rows / 2⌋` (zero-copy slices of the batches), counts the ones in between and drops
//!   them, so memory is bounded by `max_rows` rows whatever the result's size. The footer says
//!   how many rows were hidden. Like the DuckDB shell's `.maxrows` (`tools/shell`, box
//!   renderer: first and last rows around a `...` row).
//! - Cells: [`CellText`] cuts each line of a cell after `max_width` characters with `…` and a
//!   cell after [`MAX_CELL_LINES`] lines, while formatting: a 100 MB string is never copied
//!   into the table (DuckDB's box renderer truncates values with `…` the same way).

use std::collections::VecDeque;

use arrow::array::RecordBatch;
use arrow::datatypes::Schema;
use arrow::error::ArrowError;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use comfy_table::{Cell, ContentArrangement, Table};

use super::{format_options, formatters};

/// The same borders as arrow's pretty printer (MySQL style).
const TABLE_PRESET: &str = "||--+-++|    ++++++";

/// A table cell shows at most this many lines (with `max_width > 0`); more become one `…` line.
pub const MAX_CELL_LINES: usize = 100;

/// The marker of cut text.
const ELLIPSIS: char = '…';

/// Collects the rows table mode shows; see the module doc.
pub struct TableCollector {
    max_rows: usize,
    /// The first rows, up to `head_cap`.
    head: Vec<RecordBatch>,
    head_rows: usize,
    /// The last rows seen after the head, at most `tail_cap`.
    tail: VecDeque<RecordBatch>,
    tail_rows: usize,
    /// Every row of the result.
    total: usize,
}

impl TableCollector {
    /// A collector showing at most `max_rows` rows (0: all).
    pub fn new(max_rows: usize) -> TableCollector {
        TableCollector {
            max_rows,
            head: Vec::new(),
            head_rows: 0,
            tail: VecDeque::new(),
            tail_rows: 0,
            total: 0,
        }
    }

    fn head_cap(&self) -> usize {
        if self.max_rows == 0 {
            usize::MAX
        } else {
            self.max_rows.div_ceil(2)
        }
    }

    fn tail_cap(&self) -> usize {
        self.max_rows.saturating_sub(self.head_cap())
    }

    /// Takes one batch: its first rows join the head while it has room, the rest the tail
    /// window, whose oldest rows are dropped.
    pub fn push(&mut self, batch: &RecordBatch) {
        let rows = batch.num_rows();
        self.total += rows;
        let take = rows.min(self.head_cap() - self.head_rows);
        if take > 0 {
            self.head.push(batch.slice(0, take));
            self.head_rows += take;
        }
        let rest = rows - take;
        let tail_cap = self.tail_cap();
        if rest == 0 || tail_cap == 0 {
            return;
        }
        let keep = rest.min(tail_cap);
        self.tail.push_back(batch.slice(rows - keep, keep));
        self.tail_rows += keep;
        while self.tail_rows > tail_cap {
            let Some(front) = self.tail.pop_front() else {
                break;
            };
            let excess = self.tail_rows - tail_cap;
            if front.num_rows() > excess {
                self.tail
                    .push_front(front.slice(excess, front.num_rows() - excess));
                self.tail_rows -= excess;
            } else {
                self.tail_rows -= front.num_rows();
            }
        }
    }

    /// The rows of the result so far (shown or not).
    #[cfg(test)]
    pub fn total(&self) -> usize {
        self.total
    }

    /// The boxed table with a header row (an empty result still shows it); if rows were
    /// hidden, a `...` row between the first and the last rows and a footer with the counts.
    /// With a `width`, cell text wraps so that the table fits it (comfy-table's dynamic
    /// arrangement). Each cell is cut as [`CellText`] says (`max_width` 0: never).
    pub fn render(
        &self,
        schema: &Schema,
        null: &str,
        width: Option<u16>,
        max_width: usize,
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
        let options = format_options(null);
        add_rows(&mut table, &self.head, &options, max_width)?;
        let hidden = self.total - self.head_rows - self.tail_rows;
        if hidden > 0 {
            table.add_row(schema.fields().iter().map(|_| Cell::new("...")));
        }
        for batch in &self.tail {
            add_rows(&mut table, std::slice::from_ref(batch), &options, max_width)?;
        }
        let mut text = format!("{table}\n");
        if hidden > 0 {
            let noun = if hidden == 1 { "row" } else { "rows" };
            text.push_str(&format!(
                "({} rows, {hidden} {noun} hidden; `.maxrows 0` shows all)\n",
                self.total
            ));
        }
        Ok(text)
    }
}

fn add_rows(
    table: &mut Table,
    batches: &[RecordBatch],
    options: &FormatOptions<'_>,
    max_width: usize,
) -> Result<(), ArrowError> {
    for batch in batches {
        let formatters = formatters(batch, options)?;
        for row in 0..batch.num_rows() {
            let mut cells = Vec::with_capacity(formatters.len());
            for formatter in &formatters {
                cells.push(Cell::new(cell_text(formatter, row, max_width)?));
            }
            table.add_row(cells);
        }
    }
    Ok(())
}

/// The text of one cell, cut by [`CellText`] (`max_width` 0: whole).
fn cell_text(
    formatter: &ArrayFormatter<'_>,
    row: usize,
    max_width: usize,
) -> Result<String, ArrowError> {
    if max_width == 0 {
        return formatter.value(row).try_to_string();
    }
    let mut text = CellText::new(max_width);
    match formatter.value(row).write(&mut text) {
        Ok(()) => {}
        // The writer refused more text: the cell is complete as far as it is shown.
        Err(_) if text.full => {}
        Err(err) => return Err(err),
    }
    Ok(text.finish())
}

/// A `fmt::Write` that keeps at most `max_width` characters of each line (a longer line ends
/// in `…` at character `max_width`) and at most [`MAX_CELL_LINES`] lines (then one `…` line),
/// and fails once nothing more can show, which stops the formatter early.
pub struct CellText {
    max_width: usize,
    out: String,
    /// Characters in the current line of `out`.
    line_chars: usize,
    /// Lines of `out` ended by a newline.
    lines: usize,
    /// The `max_width`-th character of the line, held back until it is known whether the
    /// line goes on (then it becomes `…`).
    held: Option<char>,
    /// The current line was cut: skip to its end.
    skipping: bool,
    /// A newline ended line `MAX_CELL_LINES`; any further text becomes a `…` line.
    at_line_limit: bool,
    /// Nothing more will be kept.
    full: bool,
}

impl CellText {
    /// An empty cell; `max_width` must be at least 1.
    pub fn new(max_width: usize) -> CellText {
        CellText {
            max_width: max_width.max(1),
            out: String::new(),
            line_chars: 0,
            lines: 0,
            held: None,
            skipping: false,
            at_line_limit: false,
            full: false,
        }
    }

    /// The kept text.
    pub fn finish(mut self) -> String {
        if let Some(c) = self.held.take() {
            self.out.push(c);
        }
        if self.at_line_limit && !self.full {
            self.out.push('\n');
        }
        self.out
    }

    fn end_line(&mut self) {
        if let Some(c) = self.held.take() {
            self.out.push(c);
        }
        self.skipping = false;
        self.line_chars = 0;
        self.lines += 1;
        if self.lines >= MAX_CELL_LINES {
            // The newline is written only if more text follows (with the `…` line) or at
            // the end: a cell's trailing newline is kept.
            self.at_line_limit = true;
        } else {
            self.out.push('\n');
        }
    }
}

impl std::fmt::Write for CellText {
    fn write_str(&mut self, mut s: &str) -> std::fmt::Result {
        while !s.is_empty() {
            if self.full {
                return Err(std::fmt::Error);
            }
            if self.at_line_limit {
                self.out.push('\n');
                self.out.push(ELLIPSIS);
                self.full = true;
                return Err(std::fmt::Error);
            }
            if self.skipping {
                // The rest of a cut line: jump to its newline without looking at each
                // character.
                match s.find('\n') {
                    Some(at) => {
                        s = &s[at + 1..];
                        self.end_line();
                    }
                    None => return Ok(()),
                }
                continue;
            }
            let mut chars = s.char_indices();
            let Some((_, c)) = chars.next() else {
                break;
            };
            s = chars.as_str();
            if c == '\n' {
                self.end_line();
            } else if let Some(_held) = self.held {
                // The line goes on past `max_width`: cut it.
                self.held = None;
                self.out.push(ELLIPSIS);
                self.skipping = true;
            } else if self.line_chars + 1 == self.max_width {
                self.held = Some(c);
                self.line_chars += 1;
            } else {
                self.out.push(c);
                self.line_chars += 1;
            }
        }
        Ok(())
    }
}

/// Writes `value` through a [`CellText`] of `max_width` (for tests).
#[cfg(test)]
pub fn cut(value: &str, max_width: usize) -> String {
    use std::fmt::Write as _;
    let mut text = CellText::new(max_width);
    let _ = text.write_str(value);
    text.finish()
}
