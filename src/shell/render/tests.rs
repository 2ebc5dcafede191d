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
