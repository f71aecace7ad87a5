//! [`ParquetRows`]: the sample draw's [`RowReader`] over the manifest's Parquet shards.

use std::fs::File;
use std::path::{Path, PathBuf};

use albedo_projections::scoring::sample::{RowError, RowReader};
use arrow::array::{Array, AsArray, StructArray};
use arrow::datatypes::DataType;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection, RowSelector,
};

use crate::{DatasetError, Manifest};

/// The column the sampler reads (eval.md §5.1).
const MESSAGES: &str = "messages";

struct Shard {
    file: PathBuf,
    handle: File,
    metadata: ArrowReaderMetadata,
    /// Root index of the `messages` column.
    messages: usize,
    /// `group_ends[g]`: the first row after row group `g` (prefix sums of the footer's counts).
    group_ends: Vec<u64>,
}

/// The manifest's shards, opened and checked; reads one row group per row asked.
pub struct ParquetRows {
    shards: Vec<Shard>,
    reads: Vec<(u32, usize)>,
}

impl ParquetRows {
    /// Opens every shard of `manifest` under `dir` and reads its footer. Before anything is
    /// drawn, each shard's row count (footer and the sum of its row groups) must equal the
    /// manifest's (determinism.md §3 point 5); a mismatch is an error naming the shard.
    pub fn open(dir: &Path, manifest: &Manifest) -> Result<ParquetRows, DatasetError> {
        let mut shards = Vec::with_capacity(manifest.shards.len());
        for (i, entry) in manifest.shards.iter().enumerate() {
            let file = manifest.shard_file(dir, i);
            let shard = u32::try_from(i).expect("the manifest parser caps shards at 2^32 - 1");
            let bad = |reason: String| DatasetError::Shard { shard, file: file.clone(), reason };
            let handle = File::open(&file).map_err(|e| bad(format!("cannot open: {e}")))?;
            let metadata = ArrowReaderMetadata::load(&handle, ArrowReaderOptions::new())
                .map_err(|e| bad(format!("unreadable Parquet footer: {e}")))?;
            let meta = metadata.metadata();
            let footer_rows = meta.file_metadata().num_rows();
            if u64::try_from(footer_rows) != Ok(entry.rows) {
                return Err(bad(format!(
                    "the Parquet footer says {footer_rows} rows, the manifest {} (shard {:?})",
                    entry.rows, entry.name
                )));
            }
            let mut group_ends = Vec::with_capacity(meta.num_row_groups());
            let mut end = 0u64;
            for g in meta.row_groups() {
                end += u64::try_from(g.num_rows()).map_err(|_| bad("a row group has a negative row count".into()))?;
                group_ends.push(end);
            }
            if end != entry.rows {
                return Err(bad(format!("the row groups hold {end} rows, the manifest says {}", entry.rows)));
            }
            let messages = metadata.schema().index_of(MESSAGES).map_err(|_| bad(format!("no `{MESSAGES}` column")))?;
            shards.push(Shard { file, handle, metadata, messages, group_ends });
        }
        Ok(ParquetRows { shards, reads: Vec::new() })
    }

    /// Every (shard, row group) decoded so far, in order: what the draw actually touched.
    pub fn row_groups_read(&self) -> &[(u32, usize)] {
        &self.reads
    }

    /// The roles of one row's messages, in order (`None` for a null role); a null list is empty.
    pub fn roles(&mut self, shard: u32, row: u64) -> Result<Vec<Option<String>>, RowError> {
        let err = |reason: String| RowError { shard, row, reason };
        let s = self.shards.get(shard as usize).ok_or_else(|| err("the manifest has no such shard".into()))?;
        let in_file = |reason: String| err(format!("{}: {reason}", s.file.display()));
        // The row group holding the row, and the row's offset inside it.
        let g = s.group_ends.partition_point(|&end| end <= row);
        if g == s.group_ends.len() {
            return Err(in_file(format!("the shard has only {} rows", s.group_ends.last().copied().unwrap_or(0))));
        }
        let offset = row - if g == 0 { 0 } else { s.group_ends[g - 1] };
        let handle = s.handle.try_clone().map_err(|e| in_file(e.to_string()))?;
        let mask = ProjectionMask::roots(s.metadata.parquet_schema(), [s.messages]);
        let selection = RowSelection::from(vec![
            RowSelector::skip(usize::try_from(offset).expect("a row group's rows fit in usize")),
            RowSelector::select(1),
        ]);
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(handle, s.metadata.clone())
            .with_row_groups(vec![g])
            .with_projection(mask)
            .with_row_selection(selection)
            .with_batch_size(1)
            .build()
            .map_err(|e| in_file(format!("row group {g}: {e}")))?;
        self.reads.push((shard, g));
        let mut found = None;
        for batch in reader {
            let batch = batch.map_err(|e| in_file(format!("row group {g}: {e}")))?;
            if batch.num_rows() == 0 {
                continue;
            }
            if found.is_some() || batch.num_rows() != 1 {
                return Err(in_file(format!("row group {g}: the reader returned more than the one row asked")));
            }
            found = Some(roles_of(batch.column(0).as_ref()).map_err(|r| in_file(format!("`{MESSAGES}`: {r}")))?);
        }
        found.ok_or_else(|| in_file(format!("row group {g} has no row at offset {offset}")))
    }
}

impl RowReader for ParquetRows {
    /// eval.md §5.3: every message whose role is exactly `assistant` is a turn, numbered by the
    /// assistant messages before it; so the turns are `0..(number of assistant messages)`.
    fn assistant_turns(&mut self, shard: u32, row: u64) -> Result<Vec<u32>, RowError> {
        let roles = self.roles(shard, row)?;
        let n = roles.iter().filter(|r| r.as_deref() == Some("assistant")).count();
        Ok((0..u32::try_from(n).expect("fewer than 2^32 messages in a row")).collect())
    }
}

/// The roles of the single row of a `messages` column (list or large list of structs).
fn roles_of(column: &dyn Array) -> Result<Vec<Option<String>>, String> {
    if column.is_null(0) {
        return Ok(Vec::new());
    }
    let items = match column.data_type() {
        DataType::List(_) => column.as_list::<i32>().value(0),
        DataType::LargeList(_) => column.as_list::<i64>().value(0),
        other => return Err(format!("expected a list of structs, found {other}")),
    };
    let structs: &StructArray =
        items.as_struct_opt().ok_or_else(|| format!("expected structs, found {}", items.data_type()))?;
    let Some(role) = structs.column_by_name("role") else {
        // No `role` field: no message is an assistant message.
        return Ok(vec![None; structs.len()]);
    };
    let text = |i: usize| -> Result<Option<String>, String> {
        if structs.is_null(i) || role.is_null(i) {
            return Ok(None);
        }
        Ok(Some(match role.data_type() {
            DataType::Utf8 => role.as_string::<i32>().value(i).to_owned(),
            DataType::LargeUtf8 => role.as_string::<i64>().value(i).to_owned(),
            DataType::Utf8View => role.as_string_view().value(i).to_owned(),
            other => return Err(format!("`role` is {other}, not a string")),
        }))
    };
    (0..structs.len()).map(text).collect()
}
