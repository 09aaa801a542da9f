//! The binlog reader: a push-based (sans-I/O) decoder of one binlog file.
//!
//! The caller feeds the file's bytes in order, in chunks of any size, and
//! pulls events with [`LogReader::next`] (payloads) or
//! [`LogReader::next_entry`] (decoded `LogEntry`s). `Ok(None)` means "the
//! bytes fed so far end inside a record": feed more, or, once the caller
//! knows the file will not grow (a newer file exists), ask [`LogReader::tail`]
//! what is left. Consumed bytes are dropped, so memory stays around one chunk
//! plus one logical record.

use std::fmt;

use super::entry::decode_entry;
use super::error::BinlogError;
use super::events::{EntryEvent, ReadEvent, ReadOptions, Tail};
use super::format::{
    BLOCK_SIZE, HEADER_SIZE, RecordHeader, RecordType, block_room, next_block_start, record_crc,
};

/// Decoder state for the bytes at the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Expecting padding or a record header.
    Records,
    /// An all-zero header was found at `start`; only zero bytes may follow.
    ZeroRun { start: u64 },
    /// The EOF record at `pos` was read; later bytes are ignored.
    Eof { pos: u64 },
}

/// How [`LogReader::resync`] gets past a pending error.
#[derive(Debug, Clone, Copy)]
enum Recovery {
    /// Forget the unfinished fragmented record; re-read the current header.
    DropOpenRecord,
    /// Skip the current physical record (`len` bytes with its header), then
    /// skip MIDDLE/LAST fragments if `resync`.
    SkipRecord { len: usize, resync: bool },
    /// Drop everything before file offset `target`, then skip MIDDLE/LAST
    /// fragments whose record began in the dropped part.
    SkipTo(u64),
}

#[derive(Debug, Clone)]
struct Failure {
    error: BinlogError,
    recovery: Recovery,
}

/// Result of one decoding step.
enum Step {
    /// A FULL record whose payload is `buf[at..at + len]`.
    Full {
        start: u64,
        end: u64,
        at: usize,
        len: usize,
    },
    /// A fragmented record, reassembled in `scratch`.
    Assembled {
        start: u64,
        end: u64,
    },
    Eof {
        pos: u64,
    },
    NeedMore,
}

/// Push-based decoder for one binlog file (see the module docs).
pub struct LogReader {
    opts: ReadOptions,
    /// Fed bytes; `buf[head..]` is not consumed yet.
    buf: Vec<u8>,
    head: usize,
    /// File offset of `buf[0]`.
    base: u64,
    /// Bytes of future input to drop (after a resync past the input end).
    skip: u64,
    /// Start of the fragmented record being assembled in `scratch`.
    open_start: Option<u64>,
    scratch: Vec<u8>,
    /// End of the last logical record returned.
    position: u64,
    mode: Mode,
    /// Skipping MIDDLE/LAST fragments after a resync.
    resyncing: bool,
    /// Nothing decodable is pending: `next` has returned `Ok(None)` (or
    /// nothing was fed) since the last `feed`/`resync`.
    drained: bool,
    after_eof: u64,
    failure: Option<Failure>,
}

impl LogReader {
    /// A reader whose first fed byte is at file offset `start_pos`, which
    /// must be a record boundary: 0, or a position this module returned
    /// ([`LogReader::position`], a record's `end`).
    pub fn new(start_pos: u64, opts: ReadOptions) -> Self {
        Self {
            opts,
            buf: Vec::new(),
            head: 0,
            base: start_pos,
            skip: 0,
            open_start: None,
            scratch: Vec::new(),
            position: start_pos,
            mode: Mode::Records,
            resyncing: false,
            // Nothing fed yet: nothing pending.
            drained: true,
            after_eof: 0,
            failure: None,
        }
    }

    /// Append the bytes of the file that follow those fed before.
    pub fn feed(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.drained = false;
        self.compact();
        let mut bytes = bytes;
        if self.skip > 0 {
            let n = bytes
                .len()
                .min(usize::try_from(self.skip).unwrap_or(usize::MAX));
            self.skip -= n as u64;
            self.base += n as u64;
            bytes = bytes.get(n..).unwrap_or_default();
        }
        if let Mode::Eof { .. } = self.mode {
            self.after_eof += bytes.len() as u64;
            self.base += bytes.len() as u64;
            return;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next logical record or EOF. `Ok(None)` when more bytes are
    /// needed, and always after the EOF event. An error is sticky: it is
    /// returned again until [`LogReader::resync`] is called.
    #[allow(clippy::should_implement_trait)] // fallible: not an Iterator
    pub fn next(&mut self) -> Result<Option<ReadEvent>, BinlogError> {
        Ok(match self.step()? {
            Step::NeedMore => None,
            Step::Full {
                start,
                end,
                at,
                len,
            } => Some(ReadEvent::Record {
                payload: self.buf[at..at + len].to_vec(),
                start,
                end,
            }),
            Step::Assembled { start, end } => Some(ReadEvent::Record {
                payload: std::mem::take(&mut self.scratch),
                start,
                end,
            }),
            Step::Eof { pos } => Some(ReadEvent::Eof { pos }),
        })
    }

    /// Like [`LogReader::next`], decoding the payload as a `LogEntry` straight
    /// from the input buffer. A payload that does not decode gives
    /// [`BinlogError::Decode`]; that error is not sticky (the record is
    /// consumed and the position moves past it), so reading can go on.
    pub fn next_entry(&mut self) -> Result<Option<EntryEvent>, BinlogError> {
        let (payload, start, end) = match self.step()? {
            Step::NeedMore => return Ok(None),
            Step::Eof { pos } => return Ok(Some(EntryEvent::Eof { pos })),
            Step::Full {
                start,
                end,
                at,
                len,
            } => (&self.buf[at..at + len], start, end),
            Step::Assembled { start, end } => (self.scratch.as_slice(), start, end),
        };
        let entry = decode_entry(payload, start)?;
        Ok(Some(EntryEvent::Entry { entry, start, end }))
    }

    /// The resume position: the offset just after the last logical record
    /// returned (the start position if none). A new reader created there
    /// reads the remaining records.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Offset of the first byte not consumed yet by the decoder. Fragments of
    /// an unfinished record count as consumed.
    pub fn offset(&self) -> u64 {
        self.base + self.head as u64
    }

    /// Offset just after the last byte fed.
    pub fn input_end(&self) -> u64 {
        self.base + self.buf.len() as u64
    }

    /// Bytes fed but not consumed yet (at most about one physical record once
    /// `next` has returned `Ok(None)`).
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.head
    }

    /// Bytes the reader holds: fed input not dropped yet plus a partly
    /// assembled fragmented record. Stays around the size of one fed chunk
    /// plus one logical record.
    pub fn retained(&self) -> usize {
        self.buf.len() + self.scratch.len()
    }

    /// Whether the EOF record has been read.
    pub fn is_eof(&self) -> bool {
        matches!(self.mode, Mode::Eof { .. })
    }

    /// The pending (sticky) error, if any.
    pub fn error(&self) -> Option<&BinlogError> {
        self.failure.as_ref().map(|f| &f.error)
    }

    /// How the input ends, assuming no more bytes will come (the caller
    /// knows the file is final). `None` while records or an error may still
    /// be pending: after a `feed` or a `resync`, until [`LogReader::next`] (or
    /// `next_entry`) returns `Ok(None)`.
    pub fn tail(&self) -> Option<Tail> {
        (self.drained && self.failure.is_none()).then(|| self.final_tail())
    }

    /// Get past the pending error, LevelDB style, and return the offset at
    /// which decoding goes on. Does nothing without a pending error.
    ///
    /// - A FULL/FIRST/EOF inside an unfinished record: the unfinished record
    ///   is dropped and the FULL/FIRST/EOF is read normally.
    /// - A MIDDLE/LAST without FIRST: that fragment is dropped.
    /// - Anything else (bad CRC, bad type or length, bad padding, data after
    ///   zeros): the rest of the block is dropped (a corrupt length cannot be
    ///   trusted); MIDDLE/LAST fragments at the start of the next blocks are
    ///   skipped until a FULL, FIRST or EOF.
    ///
    /// Dropped records are lost; [`LogReader::position`] does not move.
    pub fn resync(&mut self) -> u64 {
        let Some(failure) = self.failure.take() else {
            return self.offset();
        };
        self.drained = false;
        match failure.recovery {
            Recovery::DropOpenRecord => {
                self.open_start = None;
                self.scratch.clear();
            }
            Recovery::SkipRecord { len, resync } => {
                self.head = (self.head + len).min(self.buf.len());
                self.resyncing = resync;
            }
            Recovery::SkipTo(target) => {
                self.open_start = None;
                self.scratch.clear();
                self.mode = Mode::Records;
                self.resyncing = true;
                let end = self.input_end();
                if target <= end {
                    self.head = (target - self.base) as usize;
                } else {
                    self.head = self.buf.len();
                    self.skip = target - end;
                }
            }
        }
        self.offset() + self.skip
    }

    /// Drop consumed bytes when that costs no more than the bytes consumed
    /// since the last compaction (amortized linear).
    fn compact(&mut self) {
        if self.head == 0 {
            return;
        }
        if self.head == self.buf.len() {
            self.buf.clear();
        } else if self.head >= self.buf.len() - self.head {
            self.buf.drain(..self.head);
        } else {
            return;
        }
        self.base += self.head as u64;
        self.head = 0;
    }

    fn fail(&mut self, error: BinlogError, recovery: Recovery) -> BinlogError {
        self.failure = Some(Failure {
            error: error.clone(),
            recovery,
        });
        error
    }

    fn step(&mut self) -> Result<Step, BinlogError> {
        if let Some(failure) = &self.failure {
            return Err(failure.error.clone());
        }
        loop {
            let off = self.offset();
            let avail = &self.buf[self.head..];
            match self.mode {
                Mode::Records => {}
                // Bytes after EOF are counted and dropped as they come.
                Mode::Eof { .. } => return Ok(self.need_more()),
                Mode::ZeroRun { start } => {
                    if let Some(i) = avail.iter().position(|&b| b != 0) {
                        let data_offset = off + i as u64;
                        let target = if data_offset.is_multiple_of(BLOCK_SIZE as u64) {
                            data_offset
                        } else {
                            next_block_start(data_offset)
                        };
                        let error = BinlogError::DataAfterZeroFill {
                            offset: start,
                            data_offset,
                        };
                        return Err(self.fail(error, Recovery::SkipTo(target)));
                    }
                    self.head = self.buf.len();
                    return Ok(self.need_more());
                }
            }

            let room = block_room(off);
            if room < HEADER_SIZE {
                // Block trailer: zero padding up to the next block.
                let padding = &avail[..room.min(avail.len())];
                if padding.is_empty() {
                    return Ok(self.need_more());
                }
                if let Some(i) = padding.iter().position(|&b| b != 0) {
                    let error = BinlogError::BadPadding {
                        offset: off + i as u64,
                    };
                    return Err(self.fail(error, Recovery::SkipTo(next_block_start(off))));
                }
                self.head += padding.len();
                continue;
            }

            let Some(&header_bytes) = avail.first_chunk::<HEADER_SIZE>() else {
                return Ok(self.need_more());
            };
            if header_bytes == [0; HEADER_SIZE] {
                self.mode = Mode::ZeroRun { start: off };
                continue;
            }
            let header = RecordHeader::decode(header_bytes);
            let length = header.length;
            let skip_block = Recovery::SkipTo(next_block_start(off));
            let record_type = match RecordType::from_u8(header.record_type) {
                None => {
                    let error = BinlogError::UnknownType {
                        offset: off,
                        record_type: header.record_type,
                    };
                    return Err(self.fail(error, skip_block));
                }
                Some(RecordType::Zero) => {
                    let error = BinlogError::ZeroType {
                        offset: off,
                        length,
                    };
                    return Err(self.fail(error, skip_block));
                }
                Some(t) => t,
            };
            let record_len = HEADER_SIZE + usize::from(length);
            if record_len > room {
                let error = BinlogError::LengthPastBlock {
                    offset: off,
                    length,
                    room: room - HEADER_SIZE,
                };
                return Err(self.fail(error, skip_block));
            }
            if record_type == RecordType::Eof && length != 0 {
                let error = BinlogError::BadEof {
                    offset: off,
                    length,
                };
                return Err(self.fail(error, skip_block));
            }
            let Some(payload) = avail.get(HEADER_SIZE..record_len) else {
                return Ok(self.need_more());
            };
            if self.opts.verify_crc {
                let computed = record_crc(header.record_type, payload);
                if computed != header.masked_crc {
                    let error = BinlogError::BadCrc {
                        offset: off,
                        stored: header.masked_crc,
                        computed,
                    };
                    return Err(self.fail(error, skip_block));
                }
            }
            let end = off + record_len as u64;

            if self.resyncing {
                match record_type {
                    RecordType::Middle | RecordType::Last => {
                        self.resyncing = record_type == RecordType::Middle;
                        self.head += record_len;
                        continue;
                    }
                    _ => self.resyncing = false,
                }
            }

            if let Some(open_start) = self.open_start
                && matches!(
                    record_type,
                    RecordType::Full | RecordType::First | RecordType::Eof
                )
            {
                let error = BinlogError::UnterminatedRecord {
                    offset: off,
                    record_type,
                    open_start,
                };
                return Err(self.fail(error, Recovery::DropOpenRecord));
            }
            if self.open_start.is_none()
                && matches!(record_type, RecordType::Middle | RecordType::Last)
            {
                let error = BinlogError::MissingFirst {
                    offset: off,
                    record_type,
                };
                let recovery = Recovery::SkipRecord {
                    len: record_len,
                    resync: record_type == RecordType::Middle,
                };
                return Err(self.fail(error, recovery));
            }

            let at = self.head + HEADER_SIZE;
            self.head += record_len;
            match record_type {
                RecordType::Full => {
                    self.position = end;
                    return Ok(Step::Full {
                        start: off,
                        end,
                        at,
                        len: usize::from(length),
                    });
                }
                RecordType::First => {
                    self.scratch.clear();
                    self.scratch.extend_from_slice(payload);
                    self.open_start = Some(off);
                }
                RecordType::Middle => self.scratch.extend_from_slice(payload),
                RecordType::Last => {
                    self.scratch.extend_from_slice(payload);
                    let start = self.open_start.take().unwrap_or(off);
                    self.position = end;
                    return Ok(Step::Assembled { start, end });
                }
                RecordType::Eof => {
                    self.after_eof += (self.buf.len() - self.head) as u64;
                    self.head = self.buf.len();
                    self.mode = Mode::Eof { pos: off };
                    return Ok(Step::Eof { pos: off });
                }
                // Rejected above.
                RecordType::Zero => {}
            }
        }
    }

    fn need_more(&mut self) -> Step {
        self.drained = true;
        Step::NeedMore
    }

    /// [`LogReader::tail`] without the "drained" check.
    pub(super) fn final_tail(&self) -> Tail {
        let end = self.input_end();
        if let Mode::Eof { pos } = self.mode {
            return Tail::Eof {
                pos,
                trailing_bytes: self.after_eof,
            };
        }
        if let Some(offset) = self.open_start {
            return Tail::Incomplete { offset, end };
        }
        if let Mode::ZeroRun { start } = self.mode {
            return Tail::ZeroFilled { offset: start, end };
        }
        let rest = &self.buf[self.head..];
        let offset = self.offset();
        if rest.is_empty() {
            Tail::Clean { end }
        } else if rest.iter().all(|&b| b == 0) {
            Tail::ZeroFilled { offset, end }
        } else {
            Tail::Incomplete { offset, end }
        }
    }
}

impl fmt::Debug for LogReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogReader")
            .field("opts", &self.opts)
            .field("offset", &self.offset())
            .field("input_end", &self.input_end())
            .field("position", &self.position)
            .field("buffered", &(self.buf.len() - self.head))
            .field("open_start", &self.open_start)
            .field("mode", &self.mode)
            .field("resyncing", &self.resyncing)
            .field("error", &self.error())
            .finish_non_exhaustive()
    }
}
