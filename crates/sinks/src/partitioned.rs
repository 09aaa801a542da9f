//! Encoding a segment into its files: one file, or, for a partitioned task,
//! one file per partition directory its rows fall in ([`crate::partition`]),
//! in directory order, with the list of their visible names that is staged
//! after them (see [`crate::layout::staged_files_path`]).

use std::collections::BTreeMap;

use sync_core::row::split_rows;
use sync_core::task::SegmentId;

use crate::format::{BadRows, OutputFormat, Rejected, SegmentError};
use crate::layout::visible_part_path;
use crate::partition::Partitioner;
use crate::schema::TableSchema;

/// The files of a segment.
#[derive(Debug, Default)]
pub struct EncodedFiles {
    /// Each file's partition directory (`None`: unpartitioned) and bytes.
    pub files: Vec<(Option<String>, Vec<u8>)>,
    /// The rows left out, by their index in the segment.
    pub rejected: Vec<Rejected>,
}

/// One partition's rows of a segment.
#[derive(Default)]
struct Group {
    rows: Vec<u8>,
    count: u64,
    /// Each row's index in the segment.
    indices: Vec<u64>,
}

/// Encodes the `row_count` concatenated rows of `rows`: one file, or one per
/// partition directory with `partitioner`.
pub fn encode_files(
    format: &OutputFormat,
    partitioner: Option<&Partitioner>,
    schema: &TableSchema,
    rows: &[u8],
    row_count: u64,
    bad_rows: BadRows,
) -> Result<EncodedFiles, SegmentError> {
    let Some(partitioner) = partitioner else {
        let one = format.encode(schema, rows, row_count, bad_rows)?;
        return Ok(EncodedFiles {
            files: vec![(None, one.bytes)],
            rejected: one.rejected,
        });
    };
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    let mut index = 0u64;
    for row in split_rows(rows) {
        let row = row.map_err(|source| SegmentError::Row { index, source })?;
        // A row that does not decode goes to the default partition, where
        // the encoder handles it as the bad row it is.
        let dir = match schema.versions().view(row) {
            Ok((_, view)) => partitioner.dir(&view),
            Err(_) => partitioner.default_dir(),
        };
        let g = groups.entry(dir).or_default();
        g.rows.extend_from_slice(row);
        g.count += 1;
        g.indices.push(index);
        index += 1;
    }
    if index != row_count {
        return Err(SegmentError::RowCount {
            expected: row_count,
            found: index,
        });
    }
    let mut out = EncodedFiles::default();
    for (dir, g) in groups {
        let encoded = format
            .encode(schema, &g.rows, g.count, bad_rows)
            .map_err(|e| match e {
                SegmentError::Row { index, source } => SegmentError::Row {
                    index: g.indices.get(index as usize).copied().unwrap_or(index),
                    source,
                },
                other => other,
            })?;
        for mut r in encoded.rejected {
            r.index = g.indices.get(r.index as usize).copied().unwrap_or(r.index);
            out.rejected.push(r);
        }
        out.files.push((Some(dir), encoded.bytes));
    }
    out.rejected.sort_by_key(|r| r.index);
    Ok(out)
}

/// The visible names of a partitioned segment's files, one per line.
pub fn files_list(id: &SegmentId, files: &EncodedFiles, ext: &str) -> String {
    files
        .files
        .iter()
        .map(|(dir, _)| visible_part_path(id, dir.as_deref().unwrap_or(""), ext))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads a list written by [`files_list`].
pub fn parse_files_list(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}
