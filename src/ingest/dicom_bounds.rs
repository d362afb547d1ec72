//! The lengths a DICOM file declares, checked against what follows them before dicom-rs
//! allocates for them ([`super::limits`]).
//!
//! dicom-rs reserves an element's declared length before it reads the value: a 4 KB file whose
//! pixel-data element claims 4 GiB makes it allocate 4 GiB, and a deflated data set is
//! inflated to its end however large. [`check`] walks the file's elements first without
//! keeping any value: every defined length must fit in the bytes left in the file (or, for a
//! deflated data set, in what is left of [`Limits::max_bytes`] once inflated, the inflating
//! stream cut off at the limit). Sequences and items are walked into (the elements inside them
//! are read by dicom-rs too); encapsulated pixel data's fragments are skipped. A file may
//! start with the 128-byte preamble and `DICM` or with `DICM` alone. A structure the walk does
//! not follow (no `DICM`, a broken tag) ends the walk and leaves the file to dicom-rs's own
//! error.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;

use super::limits::{mib, Bounded, Limits, OVER_LIMIT};
use super::transfer_syntax::{DEFLATED, EXPLICIT_BE, IMPLICIT_LE};

const UNDEFINED: u32 = 0xFFFF_FFFF;
const PIXEL_DATA: Tag = Tag(0x7FE0, 0x0010);
const ITEM: Tag = Tag(0xFFFE, 0xE000);
const ITEM_DELIMITER: Tag = Tag(0xFFFE, 0xE00D);
const SEQUENCE_DELIMITER: Tag = Tag(0xFFFE, 0xE0DD);

/// Why a walk stopped early.
enum Halt {
    /// A length claims more than is left, or the inflated data set passed the limit.
    Limit(String),
    /// Anything else (the source ended, a structure the walk does not follow): dicom-rs
    /// reads the file and reports it.
    Other,
}

/// `Err(message)` when a length in `path` claims more bytes than follow it, or its deflated
/// data set inflates past `limits.max_bytes`; the message names the tag and both sizes.
/// I/O errors and structures the walk does not follow are `Ok`: dicom-rs reports them.
/// `header_only` stops at the top-level pixel data, as dicom-rs's header read does (a file
/// cut short in its pixels still has a header to check).
pub(crate) fn check(path: &Path, limits: &Limits, header_only: bool) -> Result<(), String> {
    match walk_file(path, limits, header_only) {
        Err(Halt::Limit(m)) => Err(m),
        _ => Ok(()),
    }
}

fn walk_file(path: &Path, limits: &Limits, header_only: bool) -> Result<(), Halt> {
    let file = File::open(path).map_err(|_| Halt::Other)?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut src = FileSource {
        inner: BufReader::new(file),
        left: size,
    };
    // The 128-byte preamble and `DICM`, or `DICM` alone (dicom-rs reads both).
    let mut preamble = [0u8; 132];
    src.read(&mut preamble)?;
    let after_magic = if &preamble[128..] == b"DICM" {
        None
    } else if &preamble[..4] == b"DICM" {
        Some(preamble[4..].to_vec())
    } else {
        return Err(Halt::Other);
    };
    let mut walk = Walk::new(Encoding::EXPLICIT_LE);
    walk.pending = after_magic;
    let ts = walk.meta(&mut src)?;
    let ts = ts.trim_end_matches(['\0', ' ']);
    walk.encoding = match ts {
        IMPLICIT_LE => Encoding::IMPLICIT_LE,
        EXPLICIT_BE => Encoding {
            explicit: true,
            big: true,
        },
        _ => Encoding::EXPLICIT_LE,
    };
    walk.header_only = header_only;
    if ts == DEFLATED {
        let rest = walk.pending.take().unwrap_or_default();
        let inflate = flate2::read::DeflateDecoder::new(rest.as_slice().chain(src.inner));
        let mut src = InflatedSource {
            inner: Bounded::new(inflate, limits.max_bytes),
            limit: limits.max_bytes,
        };
        return walk.run(&mut src);
    }
    walk.run(&mut src)
}

#[derive(Clone, Copy)]
struct Encoding {
    explicit: bool,
    big: bool,
}

impl Encoding {
    const EXPLICIT_LE: Encoding = Encoding {
        explicit: true,
        big: false,
    };
    const IMPLICIT_LE: Encoding = Encoding {
        explicit: false,
        big: false,
    };

    fn u16(self, b: [u8; 2]) -> u16 {
        if self.big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    }

    fn u32(self, b: [u8; 4]) -> u32 {
        if self.big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }
}

/// Where the walk reads: bytes in order, a skip, and how many bytes are left at most.
trait Source {
    fn read(&mut self, buf: &mut [u8]) -> Result<(), Halt>;
    fn skip(&mut self, n: u64) -> Result<(), Halt>;
    fn left(&self) -> u64;
    /// The message for a length of `len` bytes (`what`: the element) over the `left` bytes.
    fn too_long(&self, what: &str, len: u32, left: u64) -> String;
}

struct FileSource {
    inner: BufReader<File>,
    left: u64,
}

impl Source for FileSource {
    fn read(&mut self, buf: &mut [u8]) -> Result<(), Halt> {
        self.inner.read_exact(buf).map_err(|_| Halt::Other)?;
        self.left = self.left.saturating_sub(buf.len() as u64);
        Ok(())
    }
    fn skip(&mut self, n: u64) -> Result<(), Halt> {
        let k = i64::try_from(n).map_err(|_| Halt::Other)?;
        self.inner.seek_relative(k).map_err(|_| Halt::Other)?;
        self.left = self.left.saturating_sub(n);
        Ok(())
    }
    fn left(&self) -> u64 {
        self.left
    }
    fn too_long(&self, what: &str, len: u32, left: u64) -> String {
        format!(
            "{what} declares {len} bytes, but only {left} remain in the file: the file is cut short or its header lies"
        )
    }
}

struct InflatedSource<R> {
    inner: Bounded<R>,
    limit: u64,
}

impl<R> InflatedSource<R> {
    fn halt(&self, e: std::io::Error) -> Halt {
        if e.to_string() == OVER_LIMIT {
            Halt::Limit(format!(
                "the deflated data set inflates past the {} limit on the inflated data set (--max-mib raises it)",
                mib(self.limit)
            ))
        } else {
            Halt::Other
        }
    }
}

impl<R: Read> Source for InflatedSource<R> {
    fn read(&mut self, buf: &mut [u8]) -> Result<(), Halt> {
        self.inner.read_exact(buf).map_err(|e| self.halt(e))
    }
    fn skip(&mut self, n: u64) -> Result<(), Halt> {
        let copied = std::io::copy(&mut (&mut self.inner).take(n), &mut std::io::sink())
            .map_err(|e| self.halt(e))?;
        if copied < n {
            return Err(Halt::Other);
        }
        Ok(())
    }
    fn left(&self) -> u64 {
        self.inner.left()
    }
    fn too_long(&self, what: &str, len: u32, left: u64) -> String {
        format!(
            "{what} declares {len} bytes, but only {left} of the {} limit on the inflated data set are left (--max-mib raises it)",
            mib(self.limit)
        )
    }
}

/// What the walk is inside of.
#[derive(Clone, Copy)]
enum Inside {
    /// A sequence: its items follow (until `end`, or a sequence delimiter).
    Sequence { end: Option<u64> },
    /// An item: elements follow (until `end`, or an item delimiter).
    Item { end: Option<u64> },
    /// Encapsulated pixel data: fragments follow (until a sequence delimiter).
    Fragments,
}

struct Walk {
    stack: Vec<Inside>,
    encoding: Encoding,
    /// Bytes read ahead of the source: the 128 after `DICM` in a file without a preamble.
    pending: Option<Vec<u8>>,
    /// Bytes read so far.
    at: u64,
    /// Stop at the top-level pixel data element.
    header_only: bool,
}

impl Walk {
    fn new(encoding: Encoding) -> Self {
        Walk {
            stack: Vec::new(),
            encoding,
            pending: None,
            at: 0,
            header_only: false,
        }
    }

    /// Up to `n` of the pending bytes, taken out of `pending`.
    fn take_pending(&mut self, n: usize) -> Vec<u8> {
        let Some(p) = self.pending.as_mut() else {
            return Vec::new();
        };
        let taken: Vec<u8> = p.drain(..n.min(p.len())).collect();
        if p.is_empty() {
            self.pending = None;
        }
        taken
    }

    fn read(&mut self, src: &mut dyn Source, buf: &mut [u8]) -> Result<(), Halt> {
        let from = self.take_pending(buf.len());
        buf[..from.len()].copy_from_slice(&from);
        src.read(&mut buf[from.len()..])?;
        self.at += buf.len() as u64;
        Ok(())
    }

    /// Read the file meta group as dicom-rs reads it and return its transfer syntax UID:
    /// (0002,0000) first, four bytes, then elements of any group (dicom-rs reads an element
    /// of another group as part of the meta group too) until that many bytes are read.
    fn meta(&mut self, src: &mut dyn Source) -> Result<String, Halt> {
        let tag = self.tag(src, Encoding::EXPLICIT_LE)?;
        let (_, len) = self.vr_and_length(src, Encoding::EXPLICIT_LE, tag)?;
        if tag != Tag(0x0002, 0x0000) || len != 4 {
            return Err(Halt::Other);
        }
        let mut b = [0u8; 4];
        self.read(src, &mut b)?;
        let group_length = u64::from(u32::from_le_bytes(b));
        let start = self.at;
        let mut ts = String::new();
        while self.at - start < group_length {
            let tag = self.tag(src, Encoding::EXPLICIT_LE)?;
            let (_, len) = self.vr_and_length(src, Encoding::EXPLICIT_LE, tag)?;
            if len == UNDEFINED {
                return Err(Halt::Other);
            }
            if tag == Tag(0x0002, 0x0010) {
                self.within(src, tag, len)?;
                let mut uid = vec![0u8; len as usize];
                self.read(src, &mut uid)?;
                ts = String::from_utf8_lossy(&uid).into_owned();
            } else {
                self.skip(src, tag, len)?;
            }
        }
        Ok(ts)
    }

    fn tag(&mut self, src: &mut dyn Source, enc: Encoding) -> Result<Tag, Halt> {
        let mut head = [0u8; 4];
        self.read(src, &mut head)?;
        Ok(Tag(
            enc.u16([head[0], head[1]]),
            enc.u16([head[2], head[3]]),
        ))
    }

    /// The VR and length that follow `tag`'s four bytes, as dicom-rs decodes them: items and
    /// delimiters have a length only; a VR the dictionary (implicit) or dicom-rs (explicit)
    /// does not know is UN.
    fn vr_and_length(
        &mut self,
        src: &mut dyn Source,
        enc: Encoding,
        tag: Tag,
    ) -> Result<(VR, u32), Halt> {
        if tag.group() == 0xFFFE || !enc.explicit {
            let mut b = [0u8; 4];
            self.read(src, &mut b)?;
            // Implicit VR: the dictionary's, relaxed (US for US-or-SS, OW for OB-or-OW),
            // and OW for pixel and overlay data, as dicom-rs's implicit decoder gives it.
            let overlay = tag.group() >> 8 == 0x60 && tag.element() == 0x3000;
            let vr = if tag.group() == 0xFFFE {
                VR::UN
            } else if tag == PIXEL_DATA || overlay {
                VR::OW
            } else {
                StandardDataDictionary
                    .by_tag(tag)
                    .map_or(VR::UN, |e| e.vr().relaxed())
            };
            return Ok((vr, enc.u32(b)));
        }
        let mut vr = [0u8; 2];
        self.read(src, &mut vr)?;
        // dicom-rs reads VR bytes it does not know as UN (a 4-byte length).
        let vr = std::str::from_utf8(&vr)
            .ok()
            .and_then(|s| s.parse::<VR>().ok())
            .unwrap_or(VR::UN);
        // As dicom-rs: these VRs have a 2-byte length, every other (SV, UV and UN too) a
        // 4-byte one after two reserved bytes.
        let short = matches!(
            vr,
            VR::AE
                | VR::AS
                | VR::AT
                | VR::CS
                | VR::DA
                | VR::DS
                | VR::DT
                | VR::FL
                | VR::FD
                | VR::IS
                | VR::LO
                | VR::LT
                | VR::PN
                | VR::SH
                | VR::SL
                | VR::SS
                | VR::ST
                | VR::TM
                | VR::UI
                | VR::UL
                | VR::US
        );
        let len = if !short {
            let mut b = [0u8; 6];
            self.read(src, &mut b)?;
            enc.u32([b[2], b[3], b[4], b[5]])
        } else {
            let mut b = [0u8; 2];
            self.read(src, &mut b)?;
            u32::from(enc.u16(b))
        };
        Ok((vr, len))
    }

    /// Walk the data set until the source ends, the structure is not one the walk follows,
    /// or a length claims too much.
    fn run(&mut self, src: &mut dyn Source) -> Result<(), Halt> {
        let enc = self.encoding;
        loop {
            while let Some(Inside::Sequence { end: Some(e) } | Inside::Item { end: Some(e) }) =
                self.stack.last()
            {
                if self.at < *e {
                    break;
                }
                self.stack.pop();
            }
            let tag = self.tag(src, enc)?;
            if self.header_only && tag == PIXEL_DATA && self.stack.is_empty() {
                return Ok(());
            }
            let (vr, len) = self.vr_and_length(src, enc, tag)?;
            // Where dicom-rs expects an item (in a sequence or encapsulated pixel data), the
            // tag must be an item or a sequence delimiter.
            if let Some(&level @ (Inside::Sequence { .. } | Inside::Fragments)) = self.stack.last()
            {
                match (tag, level) {
                    (ITEM, Inside::Fragments) => self.skip(src, tag, len)?,
                    (ITEM, _) => {
                        let end = (len != UNDEFINED)
                            .then(|| self.within(src, tag, len).map(|()| self.at + len as u64))
                            .transpose()?;
                        self.stack.push(Inside::Item { end });
                    }
                    (SEQUENCE_DELIMITER, _) => {
                        self.stack.pop();
                    }
                    _ => return Err(Halt::Other),
                }
                continue;
            }
            // Where it expects an element, an item delimiter ends the item (and is ignored
            // outside one); any other (FFFE,xxxx) is an element like the rest.
            if tag == ITEM_DELIMITER {
                self.stack.pop();
                continue;
            }
            if len == UNDEFINED {
                if tag == PIXEL_DATA && vr != VR::SQ {
                    self.stack.push(Inside::Fragments);
                } else {
                    // dicom-rs reads any other element of undefined length as a sequence in
                    // the data set's encoding (a UN one too, though the standard says its
                    // items are implicit VR little endian): the walk reads what it reads.
                    self.stack.push(Inside::Sequence { end: None });
                }
                continue;
            }
            if vr == VR::SQ {
                self.within(src, tag, len)?;
                self.stack.push(Inside::Sequence {
                    end: Some(self.at + len as u64),
                });
                continue;
            }
            self.value(src, tag, vr, len)?;
        }
    }

    /// `len` bytes of `tag` fit in what is left.
    fn within(&self, src: &dyn Source, tag: Tag, len: u32) -> Result<(), Halt> {
        let left = src.left() + self.pending.as_ref().map_or(0, |p| p.len() as u64);
        if u64::from(len) > left {
            let what = format!("element ({:04X},{:04X})", tag.group(), tag.element());
            return Err(Halt::Limit(src.too_long(&what, len, left)));
        }
        Ok(())
    }

    /// An element's value as dicom-rs reads it: a VR of 2-, 4- or 8-byte numbers is read as
    /// whole numbers only (an odd-length US value leaves its last byte in the stream for the
    /// next tag), though its position moves on by the whole length.
    fn value(&mut self, src: &mut dyn Source, tag: Tag, vr: VR, len: u32) -> Result<(), Halt> {
        let size = match vr {
            VR::US | VR::SS | VR::OW => 2,
            VR::AT | VR::UL | VR::SL | VR::OL | VR::FL | VR::OF => 4,
            VR::FD | VR::OD | VR::SV | VR::UV | VR::OV => 8,
            _ => 1,
        };
        let short = len % size;
        if short == 0 {
            return self.skip(src, tag, len);
        }
        self.skip(src, tag, len - short)?;
        self.at += u64::from(short);
        Ok(())
    }

    fn skip(&mut self, src: &mut dyn Source, tag: Tag, len: u32) -> Result<(), Halt> {
        self.within(src, tag, len)?;
        let from_pending = self.take_pending(len as usize).len() as u64;
        src.skip(u64::from(len) - from_pending)?;
        self.at += u64::from(len);
        Ok(())
    }
}
