//! Physical framing shared by the writer and the reader: block and header
//! sizes, record types, the masked CRC32C and the 7-byte record header.

use crc32c::{crc32c, crc32c_append};

/// Size of a block. A physical record never crosses a block boundary.
pub const BLOCK_SIZE: usize = 4096;

/// Size of a physical record header: masked CRC (4), length (2), type (1).
pub const HEADER_SIZE: usize = 7;

/// The largest payload a single physical record can carry (a whole block
/// minus its header).
pub const MAX_FRAGMENT_LEN: usize = BLOCK_SIZE - HEADER_SIZE;

/// Constant added after rotating the CRC (same as LevelDB).
const MASK_DELTA: u32 = 0xa282_ead8;

/// The type byte of a physical record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RecordType {
    /// Reserved; never written. An all-zero header marks unwritten space.
    Zero = 0,
    /// A whole logical record in one fragment.
    Full = 1,
    /// First fragment of a logical record.
    First = 2,
    /// Inner fragment of a logical record.
    Middle = 3,
    /// Last fragment of a logical record.
    Last = 4,
    /// End of file: written (with length 0) when the tablet rolls over to
    /// the next file. Nothing follows it.
    Eof = 5,
}

impl RecordType {
    /// The type for a type byte, `None` for bytes above 5.
    pub const fn from_u8(byte: u8) -> Option<Self> {
        match byte {
            0 => Some(Self::Zero),
            1 => Some(Self::Full),
            2 => Some(Self::First),
            3 => Some(Self::Middle),
            4 => Some(Self::Last),
            5 => Some(Self::Eof),
            _ => None,
        }
    }

    /// The type byte.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }
}

/// Mask a CRC for storage: rotate right by 15 bits, then add a constant.
pub const fn mask_crc(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(MASK_DELTA)
}

/// Inverse of [`mask_crc`].
pub const fn unmask_crc(masked: u32) -> u32 {
    masked.wrapping_sub(MASK_DELTA).rotate_left(15)
}

/// The masked CRC32C stored in a header: computed over the type byte followed
/// by the payload.
pub fn record_crc(record_type: u8, payload: &[u8]) -> u32 {
    let type_crc = match TYPE_CRC.get(usize::from(record_type)) {
        Some(&crc) => crc,
        None => crc32c(&[record_type]),
    };
    mask_crc(crc32c_append(type_crc, payload))
}

/// CRC32C of each valid type byte alone, so a record's CRC needs one pass
/// over its payload only.
const TYPE_CRC: [u32; 6] = [
    crc32c_of_byte(0),
    crc32c_of_byte(1),
    crc32c_of_byte(2),
    crc32c_of_byte(3),
    crc32c_of_byte(4),
    crc32c_of_byte(5),
];

/// CRC-32C (reflected polynomial 0x82f63b78) of one byte, bit by bit.
const fn crc32c_of_byte(byte: u8) -> u32 {
    let mut crc = !0u32 ^ byte as u32;
    let mut bit = 0;
    while bit < 8 {
        crc = if crc & 1 == 1 {
            (crc >> 1) ^ 0x82f6_3b78
        } else {
            crc >> 1
        };
        bit += 1;
    }
    !crc
}

/// A decoded physical record header. The type is kept as the raw byte so
/// that unknown types can be reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// Masked CRC32C as stored (see [`record_crc`]).
    pub masked_crc: u32,
    /// Payload length in bytes.
    pub length: u16,
    /// Raw type byte (see [`RecordType::from_u8`]).
    pub record_type: u8,
}

impl RecordHeader {
    /// Decode the 7 header bytes (CRC fixed32 LE, length u16 LE, type).
    pub const fn decode(bytes: [u8; HEADER_SIZE]) -> Self {
        let [c0, c1, c2, c3, l0, l1, record_type] = bytes;
        Self {
            masked_crc: u32::from_le_bytes([c0, c1, c2, c3]),
            length: u16::from_le_bytes([l0, l1]),
            record_type,
        }
    }

    /// Encode to the 7 header bytes.
    pub const fn encode(&self) -> [u8; HEADER_SIZE] {
        let [c0, c1, c2, c3] = self.masked_crc.to_le_bytes();
        let [l0, l1] = self.length.to_le_bytes();
        [c0, c1, c2, c3, l0, l1, self.record_type]
    }
}

/// Bytes left in the block that contains file offset `offset`, counted from
/// `offset` (1..=BLOCK_SIZE).
pub(crate) const fn block_room(offset: u64) -> usize {
    BLOCK_SIZE - (offset % BLOCK_SIZE as u64) as usize
}

/// The first block boundary strictly after `offset`.
pub(crate) const fn next_block_start(offset: u64) -> u64 {
    (offset / BLOCK_SIZE as u64 + 1) * BLOCK_SIZE as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_known_answer_and_mask() {
        // CRC-32C check value from the Castagnoli/iSCSI test vector.
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        // Masked by hand: 0xe3069283 >> 15 = 0x0001c60d and
        // 0xe3069283 << 17 = 0x25060000 (low 15 bits 0x1283 moved up), so the
        // rotation is 0x2507c60d; + 0xa282ead8 = 0xc78ab0e5.
        assert_eq!(mask_crc(0xe306_9283), 0xc78a_b0e5);
        assert_eq!(unmask_crc(0xc78a_b0e5), 0xe306_9283);
    }

    #[test]
    fn type_crc_table_matches_the_library() {
        for t in 0..=255u8 {
            assert_eq!(crc32c_of_byte(t), crc32c(&[t]), "type {t}");
            assert_eq!(
                record_crc(t, b"payload"),
                mask_crc(crc32c(&[&[t][..], b"payload"].concat()))
            );
        }
    }

    #[test]
    fn mask_round_trips_and_changes_value() {
        for crc in [0u32, 1, 0xffff_ffff, 0x8000_0000, 0xdead_beef, 0x1234_5678] {
            assert_eq!(unmask_crc(mask_crc(crc)), crc);
            assert_ne!(mask_crc(crc), crc);
            assert_ne!(mask_crc(mask_crc(crc)), mask_crc(crc));
        }
    }

    #[test]
    fn header_encoding_is_little_endian() {
        let h = RecordHeader {
            masked_crc: 0x0403_0201,
            length: 0x0605,
            record_type: 7,
        };
        assert_eq!(h.encode(), [1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(RecordHeader::decode([1, 2, 3, 4, 5, 6, 7]), h);
    }

    #[test]
    fn record_types() {
        for b in 0..=5u8 {
            assert_eq!(RecordType::from_u8(b).map(RecordType::as_u8), Some(b));
        }
        assert_eq!(RecordType::from_u8(6), None);
        assert_eq!(RecordType::from_u8(255), None);
    }

    #[test]
    fn block_arithmetic() {
        assert_eq!(block_room(0), 4096);
        assert_eq!(block_room(4090), 6);
        assert_eq!(block_room(4095), 1);
        assert_eq!(block_room(4096), 4096);
        assert_eq!(next_block_start(0), 4096);
        assert_eq!(next_block_start(4095), 4096);
        assert_eq!(next_block_start(4096), 8192);
    }
}
