//! The binlog writer: frames logical records into physical records exactly as
//! OpenMLDB's tablet does (same block padding, fragmentation and CRCs), so its
//! output is byte-identical and can serve as a fixture or a simulated tablet.

use std::io::{self, Write};

use prost::Message;
use sync_proto::api::LogEntry;

#[cfg(doc)]
use super::entry::encode_entry;
use super::format::{BLOCK_SIZE, HEADER_SIZE, RecordHeader, RecordType, record_crc};

/// Zero bytes for the trailer of a block (at most `HEADER_SIZE - 1` needed).
const PADDING: [u8; HEADER_SIZE - 1] = [0; HEADER_SIZE - 1];

/// Appends logical records to a binlog file.
///
/// Each call writes the physical records with `write_all`; wrap a file in a
/// `BufWriter` and flush when the bytes must be visible. After an I/O error
/// the writer no longer knows what reached the file, so every later call
/// fails; so does any record after [`LogWriter::add_eof`].
#[derive(Debug)]
pub struct LogWriter<W: Write> {
    dest: W,
    /// Offset inside the current block.
    block_offset: usize,
    /// Total file length, including the bytes that existed before `resume`.
    position: u64,
    state: WriterState,
    /// Reused by `add_entry`.
    entry_buf: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriterState {
    Open,
    Closed,
    Failed,
}

impl<W: Write> LogWriter<W> {
    /// A writer for a new, empty file.
    pub fn new(dest: W) -> Self {
        Self::resume(dest, 0)
    }

    /// A writer appending to a file that is already `existing_len` bytes long
    /// (and ends at a record boundary).
    pub fn resume(dest: W, existing_len: u64) -> Self {
        Self {
            dest,
            block_offset: (existing_len % BLOCK_SIZE as u64) as usize,
            position: existing_len,
            state: WriterState::Open,
            entry_buf: Vec::new(),
        }
    }

    /// Append one logical record, fragmenting it over blocks as needed. An
    /// empty payload still produces one (empty) FULL record.
    pub fn add_record(&mut self, payload: &[u8]) -> io::Result<()> {
        self.check_open()?;
        let mut rest = payload;
        let mut first = true;
        loop {
            let avail = self.start_fragment()?;
            let (fragment, tail) = rest.split_at(rest.len().min(avail));
            let last = tail.is_empty();
            let record_type = match (first, last) {
                (true, true) => RecordType::Full,
                (true, false) => RecordType::First,
                (false, false) => RecordType::Middle,
                (false, true) => RecordType::Last,
            };
            self.emit(record_type, fragment)?;
            if last {
                return Ok(());
            }
            rest = tail;
            first = false;
        }
    }

    /// Serialize and append a `LogEntry` (as [`encode_entry`] would).
    pub fn add_entry(&mut self, entry: &LogEntry) -> io::Result<()> {
        // Encode into a buffer kept across calls: no allocation per entry.
        let mut buf = std::mem::take(&mut self.entry_buf);
        buf.clear();
        let result = entry
            .encode(&mut buf)
            .map_err(io::Error::other)
            .and_then(|()| self.add_record(&buf));
        self.entry_buf = buf;
        result
    }

    /// Close the file with an EOF record (type 5, length 0), as the tablet
    /// does when it rolls over to the next file. No record may follow.
    pub fn add_eof(&mut self) -> io::Result<()> {
        self.check_open()?;
        self.start_fragment()?;
        self.emit(RecordType::Eof, &[])?;
        self.state = WriterState::Closed;
        Ok(())
    }

    /// Length of the file so far (the offset of the next byte to write).
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Flush the destination.
    pub fn flush(&mut self) -> io::Result<()> {
        self.dest.flush()
    }

    /// The destination.
    pub fn get_ref(&self) -> &W {
        &self.dest
    }

    /// The destination, mutably. Writing to it directly desynchronizes the
    /// block arithmetic.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.dest
    }

    /// Give back the destination.
    pub fn into_inner(self) -> W {
        self.dest
    }

    fn check_open(&self) -> io::Result<()> {
        match self.state {
            WriterState::Open => Ok(()),
            WriterState::Closed => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "binlog writer: the file was closed with an EOF record",
            )),
            WriterState::Failed => Err(io::Error::other(
                "binlog writer: an earlier write failed, file state unknown",
            )),
        }
    }

    /// Zero-fill the block trailer if a header no longer fits, and return the
    /// payload room left in the block for the next fragment (may be 0).
    fn start_fragment(&mut self) -> io::Result<usize> {
        let leftover = BLOCK_SIZE - self.block_offset;
        if leftover < HEADER_SIZE {
            self.write(&PADDING[..leftover])?;
            self.block_offset = 0;
        }
        Ok(BLOCK_SIZE - self.block_offset - HEADER_SIZE)
    }

    /// Write one physical record. `fragment` fits in the block (ensured by
    /// `start_fragment`), so its length fits in the u16 length field.
    fn emit(&mut self, record_type: RecordType, fragment: &[u8]) -> io::Result<()> {
        let header = RecordHeader {
            masked_crc: record_crc(record_type.as_u8(), fragment),
            length: fragment.len() as u16,
            record_type: record_type.as_u8(),
        };
        self.write(&header.encode())?;
        self.write(fragment)?;
        self.block_offset += HEADER_SIZE + fragment.len();
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self.dest.write_all(bytes) {
            Ok(()) => {
                self.position += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                self.state = WriterState::Failed;
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_fill_blocks_exactly() {
        let mut w = LogWriter::new(Vec::new());
        w.add_record(&[7u8; 3 * (BLOCK_SIZE - HEADER_SIZE)])
            .unwrap();
        let out = w.into_inner();
        assert_eq!(out.len(), 3 * BLOCK_SIZE);
        for (block, expected) in [(0, 2u8), (1, 3), (2, 4)] {
            let h = &out[block * BLOCK_SIZE..block * BLOCK_SIZE + HEADER_SIZE];
            assert_eq!(h[4..], [0xf9, 0x0f, expected], "block {block}");
        }
    }

    #[test]
    fn position_counts_existing_length_and_padding() {
        let mut w = LogWriter::resume(Vec::new(), 4090);
        w.add_record(b"x").unwrap();
        // 6 bytes of padding, then 7 + 1.
        assert_eq!(w.position(), 4096 + 8);
        assert_eq!(w.get_ref().len(), 6 + 8);
        assert!(w.get_ref()[..6].iter().all(|&b| b == 0));
    }

    #[test]
    fn no_record_after_eof() {
        let mut w = LogWriter::new(Vec::new());
        w.add_eof().unwrap();
        let err = w.add_record(b"late").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(w.add_eof().is_err());
        assert_eq!(w.get_ref().len(), HEADER_SIZE);
    }

    struct FailAfter(usize);
    impl Write for FailAfter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::other("disk full"));
            }
            let n = buf.len().min(self.0);
            self.0 -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn write_error_poisons_the_writer() {
        let mut w = LogWriter::new(FailAfter(10));
        assert!(w.add_record(b"0123456789").is_err());
        let err = w.add_record(b"a").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Other);
        assert!(err.to_string().contains("earlier write failed"));
    }
}
