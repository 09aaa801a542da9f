//! Snappy compression of stored rows.
//!
//! When a table's `compress_type` is `kSnappy`, the value OpenMLDB stores (in
//! the binlog and in the snapshot) is the raw-format snappy compression of the
//! encoded row (no framing). [`decompress`] undoes that; it refuses a declared
//! length larger than snappy data of that size can expand to, so a corrupt
//! length varint cannot trigger a huge allocation.

use std::borrow::Cow;

use sync_proto::types::CompressType;

use super::error::RowError;

/// Upper bound on snappy's expansion: a 3-byte copy element yields at most
/// 64 bytes, so no input expands by more than a factor of 22.
const MAX_EXPANSION: u64 = 22;

/// Returns the encoded row stored as `value` under `compress_type`: the value
/// itself when uncompressed, else its snappy decompression.
pub fn decompress(compress_type: CompressType, value: &[u8]) -> Result<Cow<'_, [u8]>, RowError> {
    match compress_type {
        CompressType::KNoCompress => Ok(Cow::Borrowed(value)),
        CompressType::KSnappy => decompress_snappy(value).map(Cow::Owned),
    }
}

/// Decompresses raw-format snappy data.
pub fn decompress_snappy(value: &[u8]) -> Result<Vec<u8>, RowError> {
    let bad = |reason: String| RowError::BadSnappy {
        len: value.len(),
        reason,
    };
    let declared = snap::raw::decompress_len(value).map_err(|e| bad(e.to_string()))?;
    let bound = (value.len() as u64).saturating_mul(MAX_EXPANSION);
    if declared as u64 > bound {
        return Err(bad(format!(
            "declares {declared} uncompressed bytes, more than {bound} bytes of snappy can hold"
        )));
    }
    snap::raw::Decoder::new()
        .decompress_vec(value)
        .map_err(|e| bad(e.to_string()))
}

/// Compresses `row` as OpenMLDB stores rows of a `kSnappy` table, or fails
/// for inputs beyond snappy's limit (about 3.6 GiB).
pub fn try_compress_snappy(row: &[u8]) -> Result<Vec<u8>, RowError> {
    snap::raw::Encoder::new()
        .compress_vec(row)
        .map_err(|e| RowError::BadSnappy {
            len: row.len(),
            reason: e.to_string(),
        })
}

/// Compresses `row` as OpenMLDB stores rows of a `kSnappy` table (for tests
/// and emulators).
///
/// # Panics
///
/// If `row` is beyond snappy's input limit (about 3.6 GiB); use
/// [`try_compress_snappy`] to get an error instead.
pub fn compress_snappy(row: &[u8]) -> Vec<u8> {
    match try_compress_snappy(row) {
        Ok(v) => v,
        Err(e) => panic!("compress_snappy: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_passthrough() {
        let row = b"\x01\x01\x0a\x00\x00\x00\xfe\x2a\x00\x00".repeat(3);
        let packed = compress_snappy(&row);
        assert_eq!(
            decompress(CompressType::KSnappy, &packed).unwrap().as_ref(),
            &row[..]
        );
        assert!(matches!(
            decompress(CompressType::KNoCompress, &row),
            Ok(Cow::Borrowed(r)) if r == &row[..]
        ));
    }

    #[test]
    fn absurd_declared_length_is_refused() {
        // varint 0xFFFFFFFF (declares 4 GiB) followed by one literal byte.
        let evil = [0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00, 0x41];
        assert!(matches!(
            decompress_snappy(&evil),
            Err(RowError::BadSnappy { len: 7, .. })
        ));
        // An empty value is not snappy data at all (even an empty input
        // compresses to the one-byte length varint 0x00).
        assert!(matches!(
            decompress_snappy(&[]),
            Err(RowError::BadSnappy { len: 0, .. })
        ));
        assert_eq!(decompress_snappy(&[0x00]), Ok(vec![]));
    }
}
