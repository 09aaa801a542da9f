//! Splitting a pack: the plain concatenation of encoded rows that
//! DataCollector sends to SyncTool. There is no framing; each row's header
//! says how long it is (u32 LE at byte 2), so the next row starts right after.
//!
//! Only the framing is checked here (header present, format version 1,
//! declared length ≥ 7 and within the buffer); decode each row to check the
//! rest. After the first error the iterator ends.

use super::error::RowError;
use super::layout::peek_header;

/// Splits `buf` into its rows; see the module docs.
pub fn split_rows(buf: &[u8]) -> SplitRows<'_> {
    SplitRows {
        buf,
        offset: 0,
        index: 0,
        done: false,
    }
}

/// Iterator over the rows of a pack, from [`split_rows`].
#[derive(Debug, Clone)]
pub struct SplitRows<'a> {
    buf: &'a [u8],
    offset: usize,
    index: usize,
    done: bool,
}

impl SplitRows<'_> {
    /// Byte offset where the next row starts (after the last one returned).
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl<'a> Iterator for SplitRows<'a> {
    type Item = Result<&'a [u8], RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let rest = self.buf.get(self.offset..).unwrap_or_default();
        if rest.is_empty() {
            self.done = true;
            return None;
        }
        let fail = |error: RowError, this: &mut Self| {
            this.done = true;
            Some(Err(RowError::InPack {
                index: this.index,
                offset: this.offset,
                error: Box::new(error),
            }))
        };
        let header = match peek_header(rest) {
            Ok(h) => h,
            Err(e) => return fail(e, self),
        };
        let Some(row) = rest.get(..header.total_len as usize) else {
            let error = RowError::Truncated {
                declared: header.total_len,
                available: rest.len(),
            };
            return fail(error, self);
        };
        self.offset += row.len();
        self.index += 1;
        Some(Ok(row))
    }
}

impl std::iter::FusedIterator for SplitRows<'_> {}
