//! The inbox's journal: one append-only file (`inbox.log`, in the inbox's folder beside sled's
//! files) holding every delivery accepted since this layout, one frame each. A group commit
//! writes all its frames with ONE write and makes them durable with ONE `fdatasync`: the
//! physical cost of a durable acknowledgement, with no per-key work of a tree under it. The
//! sled database beside it keeps only small index keys (dedupe keys, where each frame lies, the
//! pending marker), written without a flush of their own: each frame carries the index keys it
//! adds, so whatever sled lost in a crash is put back at open from the frames past the offset
//! sled last recorded as indexed (`replay`).
//!
//! A frame: the length of its payload (u32 LE), the CRC-32 of the payload (u32 LE), then the
//! payload: a format byte, the delivery's sequence number (u64 BE), the number of index keys
//! (u8) and each key (u16 BE length, bytes), then the record as `commit::encode` writes it. A
//! frame cut short by a crash (or one whose CRC does not hold) ends the journal: it was never
//! acknowledged (its group's `fdatasync` had not returned), and the file is cut back to the last
//! whole frame at open.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// The journal's file name in the inbox's folder.
pub const FILE: &str = "inbox.log";

/// The first payload byte of a frame in this format.
const FRAME_FORMAT: u8 = 1;

/// Frame header: payload length and CRC.
const HEADER: usize = 8;

/// No frame is larger (the largest delivery is 25 MB): a length past this is a torn header.
const MAX_PAYLOAD: usize = 64 * 1024 * 1024;

/// One frame read back.
pub struct Frame<'a> {
    pub seq: u64,
    pub keys: Vec<&'a [u8]>,
    pub record: &'a [u8],
}

/// Appends one frame to `out`; returns its length (header included).
pub fn encode(out: &mut Vec<u8>, seq: u64, keys: &[&[u8]], record: impl FnOnce(&mut Vec<u8>)) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0u8; HEADER]);
    out.push(FRAME_FORMAT);
    out.extend_from_slice(&seq.to_be_bytes());
    out.push(keys.len().min(u8::MAX as usize) as u8);
    for k in keys.iter().take(u8::MAX as usize) {
        let k = &k[..k.len().min(u16::MAX as usize)];
        out.extend_from_slice(&(k.len() as u16).to_be_bytes());
        out.extend_from_slice(k);
    }
    record(out);
    let payload = &out[start + HEADER..];
    let (len, crc) = (payload.len() as u32, crc32fast::hash(payload));
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + HEADER].copy_from_slice(&crc.to_le_bytes());
    out.len() - start
}

/// Reads a frame's payload (header excluded, CRC already checked).
fn parse(payload: &[u8]) -> Option<Frame<'_>> {
    let (&format, rest) = payload.split_first()?;
    if format != FRAME_FORMAT || rest.len() < 9 {
        return None;
    }
    let seq = u64::from_be_bytes(rest[..8].try_into().ok()?);
    let count = rest[8] as usize;
    let mut at = 9;
    let mut keys = Vec::with_capacity(count);
    for _ in 0..count {
        let len = u16::from_be_bytes(rest.get(at..at + 2)?.try_into().ok()?) as usize;
        keys.push(rest.get(at + 2..at + 2 + len)?);
        at += 2 + len;
    }
    Some(Frame {
        seq,
        keys,
        record: rest.get(at..)?,
    })
}

/// The payload of a whole frame (`bytes` starts at its header), if its CRC holds.
fn checked(bytes: &[u8]) -> Option<&[u8]> {
    let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(bytes.get(4..HEADER)?.try_into().ok()?);
    let payload = bytes.get(HEADER..HEADER + len)?;
    (crc32fast::hash(payload) == crc).then_some(payload)
}

/// Where a frame lies: the value of its `l` index key (offset u64 BE, length u32 BE).
pub fn location(offset: u64, len: usize) -> [u8; 12] {
    let mut v = [0u8; 12];
    v[..8].copy_from_slice(&offset.to_be_bytes());
    v[8..].copy_from_slice(&(len as u32).to_be_bytes());
    v
}

fn read_location(v: &[u8]) -> Option<(u64, usize)> {
    Some((
        u64::from_be_bytes(v.get(..8)?.try_into().ok()?),
        u32::from_be_bytes(v.get(8..12)?.try_into().ok()?) as usize,
    ))
}

/// The journal file: appended to by the inbox's single writer, read by anyone (positional
/// reads and writes on one shared handle).
pub struct Journal {
    file: File,
}

impl Journal {
    /// Opens (or creates) the journal in `dir`.
    pub fn open(dir: &Path) -> std::io::Result<Journal> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(FILE))?;
        Ok(Journal { file })
    }

    pub fn len(&self) -> std::io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    /// Writes `frames` at `offset` (the end) and waits until they are on disk.
    pub fn append(&self, offset: u64, frames: &[u8]) -> std::io::Result<()> {
        positional::write_all_at(&self.file, frames, offset)?;
        self.file.sync_data()
    }

    /// Cuts the file back to `len` bytes (a group that could not be made durable, a torn tail).
    pub fn truncate(&self, len: u64) -> std::io::Result<()> {
        self.file.set_len(len)?;
        self.file.sync_all()
    }

    /// The record of the frame at `location` (an `l` key's value) and its sequence number.
    pub fn read(&self, location: &[u8]) -> Result<(u64, Vec<u8>), String> {
        let bad = |why: &str| format!("webhook inbox journal: {why}");
        let (offset, len) = read_location(location).ok_or_else(|| bad("a malformed location"))?;
        let mut bytes = vec![0u8; len];
        positional::read_exact_at(&self.file, &mut bytes, offset)
            .map_err(|e| bad(&format!("cannot read the frame at {offset}: {e}")))?;
        let payload = checked(&bytes).ok_or_else(|| bad(&format!("the frame at {offset} is damaged")))?;
        let frame = parse(payload).ok_or_else(|| bad(&format!("the frame at {offset} is malformed")))?;
        let (seq, start) = (
            frame.seq,
            frame.record.as_ptr() as usize - bytes.as_ptr() as usize,
        );
        bytes.drain(..start);
        Ok((seq, bytes))
    }

    /// Calls `each(frame, offset, length)` for every whole frame from `offset` on, in order, and
    /// returns where the last whole frame ends (a torn or damaged tail stops the reading there).
    pub fn replay(
        &self,
        mut offset: u64,
        mut each: impl FnMut(&Frame<'_>, u64, usize) -> Result<(), String>,
    ) -> Result<u64, String> {
        let io = |e: std::io::Error| format!("webhook inbox journal: {e}");
        let end = self.len().map_err(io)?;
        let mut reader = std::io::BufReader::with_capacity(1 << 20, &self.file);
        std::io::Seek::seek(&mut reader, std::io::SeekFrom::Start(offset)).map_err(io)?;
        let mut bytes = Vec::new();
        while offset + HEADER as u64 <= end {
            bytes.resize(HEADER, 0);
            reader.read_exact(&mut bytes).map_err(io)?;
            let len = u32::from_le_bytes(bytes[..4].try_into().unwrap_or_default()) as usize;
            if len > MAX_PAYLOAD || offset + (HEADER + len) as u64 > end {
                break;
            }
            bytes.resize(HEADER + len, 0);
            reader.read_exact(&mut bytes[HEADER..]).map_err(io)?;
            let Some(frame) = checked(&bytes).and_then(parse) else {
                break;
            };
            each(&frame, offset, HEADER + len)?;
            offset += (HEADER + len) as u64;
        }
        Ok(offset)
    }
}

/// Reads and writes at an offset on a shared handle (no seek), on every platform.
mod positional {
    use std::fs::File;
    use std::io;

    #[cfg(unix)]
    pub fn write_all_at(f: &File, buf: &[u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(f, buf, offset)
    }

    #[cfg(unix)]
    pub fn read_exact_at(f: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(f, buf, offset)
    }

    #[cfg(windows)]
    pub fn write_all_at(f: &File, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            let n = std::os::windows::fs::FileExt::seek_write(f, buf, offset)?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            (buf, offset) = (&buf[n..], offset + n as u64);
        }
        Ok(())
    }

    #[cfg(windows)]
    pub fn read_exact_at(f: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            let n = std::os::windows::fs::FileExt::seek_read(f, buf, offset)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            buf = &mut std::mem::take(&mut buf)[n..];
            offset += n as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u64, keys: &[&[u8]], record: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(&mut out, seq, keys, |o| o.extend_from_slice(record));
        out
    }

    #[test]
    fn frames_read_back_by_location_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(dir.path()).unwrap();
        let (a, b) = (frame(1, &[b"kgithub/x/1"], b"first"), frame(2, &[], b"second"));
        j.append(0, &a).unwrap();
        j.append(a.len() as u64, &b).unwrap();
        assert_eq!(
            j.read(&location(a.len() as u64, b.len())).unwrap(),
            (2, b"second".to_vec())
        );
        let mut seen = Vec::new();
        let end = j
            .replay(0, |f, at, len| {
                seen.push((
                    f.seq,
                    f.keys.iter().map(|k| k.to_vec()).collect::<Vec<_>>(),
                    f.record.to_vec(),
                    at,
                    len,
                ));
                Ok(())
            })
            .unwrap();
        assert_eq!(end, (a.len() + b.len()) as u64);
        assert_eq!(
            seen[0],
            (1, vec![b"kgithub/x/1".to_vec()], b"first".to_vec(), 0, a.len())
        );
        assert_eq!(seen[1].0, 2);
    }

    #[test]
    fn a_torn_or_damaged_tail_ends_the_journal_at_the_last_whole_frame() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(dir.path()).unwrap();
        let a = frame(1, &[], b"whole");
        let mut b = frame(2, &[], b"torn in the middle");
        j.append(0, &a).unwrap();
        j.append(a.len() as u64, &b[..b.len() - 3]).unwrap();
        assert_eq!(j.replay(0, |_, _, _| Ok(())).unwrap(), a.len() as u64);
        let last = b.len() - 1;
        b[last] ^= 0xff;
        j.append(a.len() as u64, &b).unwrap();
        let mut n = 0;
        assert_eq!(
            j.replay(0, |_, _, _| {
                n += 1;
                Ok(())
            })
            .unwrap(),
            a.len() as u64
        );
        assert_eq!(n, 1, "the damaged frame is not read");
    }
}
