//! Small datasets in the §5.1 schema, for tests (feature `testkit`).

use std::path::Path;
use std::sync::Arc;

use albedo_ledger::Hash32;
use arrow::array::{ArrayRef, Float64Array, ListArray, RecordBatch, StringArray, StructArray};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, Fields, Schema};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

/// One row's messages as (role, content).
pub type Row<'a> = Vec<(&'a str, &'a str)>;

/// Writes `shards` as `data/train-NNNNN-of-MMMMM.parquet` under `dir` (one row group per 2 rows)
/// and a matching `manifest.json` in the reference's byte form; returns the manifest's SHA-256.
pub fn write_test_dataset(dir: &Path, shards: &[Vec<Row<'_>>]) -> Hash32 {
    write_test_dataset_grouped(dir, shards, 2)
}

/// [`write_test_dataset`] with `rows_per_group` rows per Parquet row group.
pub fn write_test_dataset_grouped(dir: &Path, shards: &[Vec<Row<'_>>], rows_per_group: usize) -> Hash32 {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let mut entries = Vec::new();
    for (i, rows) in shards.iter().enumerate() {
        let name = format!("data/train-{i:05}-of-{:05}.parquet", shards.len());
        write_shard(&dir.join(&name), rows, rows_per_group);
        entries.push(format!("{{\"name\":{},\"rows\":{}}}", serde_json::Value::from(name), rows.len()));
    }
    let total: usize = shards.iter().map(Vec::len).sum();
    // Sorted keys, `,` and `:`, no whitespace, no trailing newline (eval.md §5.2).
    let manifest = format!("{{\"shards\":[{}],\"total_rows\":{total}}}", entries.join(","));
    std::fs::write(dir.join(crate::MANIFEST_FILE), &manifest).unwrap();
    Hash32::of(manifest.as_bytes())
}

fn message_fields() -> Fields {
    Fields::from(vec![Field::new("content", DataType::Utf8, true), Field::new("role", DataType::Utf8, true)])
}

/// One shard: `instance_id`, `repo`, `messages`, `trajectory_format`, `exit_status`, `duration_sec`.
pub fn write_shard(path: &Path, rows: &[Row<'_>], rows_per_group: usize) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("instance_id", DataType::Utf8, true),
        Field::new("repo", DataType::Utf8, true),
        Field::new(
            "messages",
            DataType::List(Arc::new(Field::new("item", DataType::Struct(message_fields()), true))),
            true,
        ),
        Field::new("trajectory_format", DataType::Utf8, true),
        Field::new("exit_status", DataType::Utf8, true),
        Field::new("duration_sec", DataType::Float64, true),
    ]));
    let props = WriterProperties::builder().set_max_row_group_row_count(Some(rows_per_group.max(1))).build();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props)).unwrap();
    let n = rows.len();
    let roles: Vec<&str> = rows.iter().flatten().map(|m| m.0).collect();
    let contents: Vec<&str> = rows.iter().flatten().map(|m| m.1).collect();
    let items = StructArray::new(
        message_fields(),
        vec![Arc::new(StringArray::from(contents)) as ArrayRef, Arc::new(StringArray::from(roles)) as ArrayRef],
        None,
    );
    let messages = ListArray::new(
        Arc::new(Field::new("item", DataType::Struct(message_fields()), true)),
        OffsetBuffer::from_lengths(rows.iter().map(Vec::len)),
        Arc::new(items),
        None,
    );
    let text = |f: &dyn Fn(usize) -> String| Arc::new(StringArray::from_iter_values((0..n).map(f))) as ArrayRef;
    let batch = RecordBatch::try_new(
        schema,
        vec![
            text(&|i| format!("task__{i}")),
            text(&|_| "owner/repo".to_owned()),
            Arc::new(messages),
            text(&|_| "mini-swe-agent-1".to_owned()),
            text(&|_| "Submitted".to_owned()),
            Arc::new(Float64Array::from_iter_values((0..n).map(|i| i as f64))),
        ],
    )
    .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}
