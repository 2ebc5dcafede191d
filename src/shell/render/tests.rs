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
        max_width: 0,
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

/// Every format writes the same text whatever the batch boundaries (empty batches included),
/// and the streaming formats return a batch's rows as soon as it is written.
#[test]
fn batch_boundaries_do_not_change_the_text() {
    let (schema, batches) = sample();
    let whole = &batches[0];
    let split = vec![
        RecordBatch::new_empty(schema.clone()),
        whole.slice(0, 1),
        whole.slice(1, 2),
        RecordBatch::new_empty(schema.clone()),
        whole.slice(3, 1),
    ];
    for max_rows in [0, 3] {
        let options = RenderOptions {
            null: None,
            max_rows,
            width: None,
            max_width: 0,
        };
        for format in [
            OutputFormat::Table,
            OutputFormat::Csv,
            OutputFormat::Json,
            OutputFormat::Tsv,
            OutputFormat::Jsonl,
            OutputFormat::Markdown,
            OutputFormat::Line,
        ] {
            let one = render(format, &schema, &batches, &options).unwrap();
            let many = render(format, &schema, &split, &options).unwrap();
            assert_eq!(one, many, "{format:?}, max_rows {max_rows}");
        }
    }
    for format in [
        OutputFormat::Csv,
        OutputFormat::Json,
        OutputFormat::Tsv,
        OutputFormat::Jsonl,
        OutputFormat::Line,
    ] {
        let mut writer = ResultWriter::new(format, schema.clone(), &RenderOptions::default());
        let first = writer.write(&split[1]).unwrap();
        assert!(first.contains("a,b"), "{format:?}: {first}");
        let second = writer.write(&split[2]).unwrap();
        assert!(second.contains("say"), "{format:?}: {second}");
        assert!(!second.contains("a,b"), "{format:?}: {second}");
    }
    let mut writer = ResultWriter::new(OutputFormat::Table, schema.clone(), &Default::default());
    assert_eq!(writer.write(&split[1]).unwrap(), "");
}

/// The table collector keeps the first and last rows of many batches and counts the rest.
#[test]
fn table_collector_keeps_head_and_tail_of_many_batches() {
    let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
    let batch = |start: i64, len: i64| {
        RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int64Array::from_iter_values(start..start + len))],
        )
        .unwrap()
    };
    let mut rows = table::TableCollector::new(5);
    for i in 0..10 {
        rows.push(&batch(i * 3, 3));
    }
    assert_eq!(rows.total(), 30);
    let text = rows.render(&schema, "NULL", None, 0).unwrap();
    let shown: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("| "))
        .map(|line| line.trim_matches(|c| c == '|' || c == ' '))
        .collect();
    assert_eq!(shown, ["n", "0", "1", "2", "...", "28", "29"], "{text}");
    assert!(text.ends_with("(30 rows, 25 rows hidden; `.maxrows 0` shows all)\n"));
    // One large batch: the tail is a slice of it.
    let mut rows = table::TableCollector::new(4);
    rows.push(&batch(0, 1000));
    rows.push(&batch(1000, 1));
    let text = rows.render(&schema, "NULL", None, 0).unwrap();
    assert!(
        text.contains("| 1    |\n| ...  |\n| 999  |\n| 1000 |"),
        "{text}"
    );
    // `max_rows` 1: the first row only.
    let mut rows = table::TableCollector::new(1);
    rows.push(&batch(0, 3));
    let text = rows.render(&schema, "NULL", None, 0).unwrap();
    assert!(text.contains("| 0   |\n| ... |\n+"), "{text}");
    assert!(text.contains("2 rows hidden"), "{text}");
}

#[test]
fn table_cells_are_cut_at_max_width() {
    assert_eq!(table::cut("abcdef", 5), "abcd…");
    assert_eq!(table::cut("abcde", 5), "abcde");
    assert_eq!(table::cut("", 5), "");
    assert_eq!(table::cut("ab", 1), "…");
    assert_eq!(table::cut("a", 1), "a");
    assert_eq!(table::cut("abcdefg\nxy\n123456\n", 4), "abc…\nxy\n123…\n");
    assert_eq!(table::cut("äöüßéèê", 6), "äöüßé…");
    // At most MAX_CELL_LINES lines, then one `…` line; a trailing newline is kept.
    let lines = "l\n".repeat(table::MAX_CELL_LINES);
    assert_eq!(table::cut(&lines, 10), lines);
    let more = format!("{lines}more");
    assert_eq!(table::cut(&more, 10), format!("{lines}…"));

    let long = "x".repeat(5_000_000);
    let schema = Arc::new(Schema::new(vec![
        Field::new("s", DataType::Utf8, false),
        Field::new("t", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec![long.as_str()])),
            Arc::new(StringArray::from(vec!["ok"])),
        ],
    )
    .unwrap();
    let options = RenderOptions {
        max_width: 20,
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
        text.contains(&format!("| {}… | ok |", "x".repeat(19))),
        "{text}"
    );
    // The machine-readable formats print the value whole.
    let csv = render(OutputFormat::Csv, &schema, &[batch], &options).unwrap();
    assert_eq!(csv, format!("s,t\n{long},ok\n"));
}
