//! How much memory one input file may make mammolab allocate, checked before allocating.
//!
//! A 2 MB workbook whose shared-strings part inflates to 2 GiB, a 1 MB deflated DICOM whose
//! data set inflates to a gigapixel, a 4 KB DICOM whose pixel-data element claims 4 GiB: each
//! is a valid-looking file that would take a notebook kernel down. Every reader checks the
//! sizes a file declares against [`Limits`] before it allocates for them, and stops an
//! inflating stream once it passes the limit, with one error line naming the file, the part
//! or tag, and the limit:
//!
//! - **`max_bytes`** (default 256 MiB): one inflated workbook part (`xl/sharedStrings.xml`, a
//!   sheet), one inflated DICOM data set, one DICOM element's value, one decoded frame
//!   (Rows x Columns x Samples per Pixel x bytes per sample) or picture.
//! - **`max_pixels`** (default 2^28): Rows x Columns x Samples per Pixel of one frame or
//!   picture, and what a compressed frame's own header (JPEG SOF, JPEG 2000 SIZ) declares.
//!
//! A full-field digital mammogram (4096 x 3328 x 16 bits: 26 MiB) and a scanned film of
//! CBIS-DDSM (up to ~6000 x 4000 x 16 bits: 46 MiB) sit far below both. The limits are
//! process-wide: the command line sets them with `--max-mib` and `--max-pixels`, a notebook
//! or library user with [`Limits::install`].
//!
//! ```
//! use mammolab::ingest::limits::Limits;
//! let honest_giant = Limits { max_bytes: 1 << 30, ..Limits::DEFAULT };
//! honest_giant.install();
//! assert_eq!(Limits::current().max_bytes, 1 << 30);
//! Limits::DEFAULT.install();
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

/// The budget of one input file; see the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes one inflated part, element value or decoded image may take.
    pub max_bytes: u64,
    /// Samples (Rows x Columns x Samples per Pixel) one frame or picture may hold.
    pub max_pixels: u64,
}

const MIB: u64 = 1 << 20;

static MAX_BYTES: AtomicU64 = AtomicU64::new(Limits::DEFAULT.max_bytes);
static MAX_PIXELS: AtomicU64 = AtomicU64::new(Limits::DEFAULT.max_pixels);

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

impl Limits {
    /// 256 MiB and 2^28 samples.
    pub const DEFAULT: Limits = Limits {
        max_bytes: 256 * MIB,
        max_pixels: 1 << 28,
    };

    /// The limits every reader in this process checks now.
    pub fn current() -> Limits {
        Limits {
            max_bytes: MAX_BYTES.load(Ordering::Relaxed),
            max_pixels: MAX_PIXELS.load(Ordering::Relaxed),
        }
    }

    /// Make these the limits every reader in this process checks from now on.
    pub fn install(self) {
        MAX_BYTES.store(self.max_bytes, Ordering::Relaxed);
        MAX_PIXELS.store(self.max_pixels, Ordering::Relaxed);
    }

    /// `None` when `bytes` of `what` fit, else the error text: "`what`: 2048.0 MiB, over the
    /// 256 MiB limit (--max-mib raises it)".
    pub fn check_bytes(&self, what: &str, bytes: u64) -> Option<String> {
        (bytes > self.max_bytes).then(|| {
            format!(
                "{what}: {}, over the {} limit (--max-mib raises it)",
                mib(bytes),
                mib(self.max_bytes)
            )
        })
    }

    /// `None` when a `rows` x `columns` x `samples` image fits both limits (`bytes` per
    /// sample), else the error text naming `what`.
    pub fn check_image(
        &self,
        what: &str,
        rows: u64,
        columns: u64,
        samples: u64,
        bytes: u64,
    ) -> Option<String> {
        let count = rows.saturating_mul(columns).saturating_mul(samples);
        if count > self.max_pixels {
            return Some(format!(
                "{what} is {rows} x {columns} x {samples} samples = {count}, over the limit of {} (--max-pixels raises it)",
                self.max_pixels
            ));
        }
        self.check_bytes(
            &format!("{what} ({rows} x {columns} x {samples} samples of {bytes} bytes)"),
            count.saturating_mul(bytes),
        )
    }
}

/// `n` bytes in MiB, as the messages print them: `256 MiB`, `2048.5 MiB`.
pub(crate) fn mib(n: u64) -> String {
    if n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else {
        format!("{:.1} MiB", n as f64 / MIB as f64)
    }
}

/// A reader that fails once more than `limit` bytes have come through it: an inflating
/// stream is cut off at the limit instead of being read to its end.
pub(crate) struct Bounded<R> {
    inner: R,
    left: u64,
}

impl<R> Bounded<R> {
    pub(crate) fn new(inner: R, limit: u64) -> Self {
        Bounded { inner, left: limit }
    }

    /// Bytes that may still come through.
    pub(crate) fn left(&self) -> u64 {
        self.left
    }
}

/// The message of the error [`Bounded`] returns (readers wrap it with the file's name).
pub(crate) const OVER_LIMIT: &str = "over the size limit";

impl<R: std::io::Read> std::io::Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            // One byte more tells a stream that ends exactly at the limit from a longer one.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(std::io::Error::other(OVER_LIMIT)),
            };
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn messages_name_the_size_and_the_limit() {
        let l = Limits {
            max_bytes: 8 * MIB,
            max_pixels: 100,
        };
        assert_eq!(l.check_bytes("part x", 8 * MIB), None);
        assert_eq!(
            l.check_bytes("part x", 8 * MIB + MIB / 2).unwrap(),
            "part x: 8.5 MiB, over the 8 MiB limit (--max-mib raises it)"
        );
        assert_eq!(l.check_image("frame", 10, 10, 1, 2), None);
        assert_eq!(
            l.check_image("frame", 10, 11, 1, 1).unwrap(),
            "frame is 10 x 11 x 1 samples = 110, over the limit of 100 (--max-pixels raises it)"
        );
        // Saturates instead of overflowing on sizes a lying header makes up.
        assert!(l
            .check_image("f", u64::MAX, u64::MAX, 3, 2)
            .unwrap()
            .contains("over the limit"));
    }

    #[test]
    fn bounded_reader_passes_up_to_the_limit_and_fails_past_it() {
        let mut ok = Vec::new();
        Bounded::new(&[7u8; 10][..], 10)
            .read_to_end(&mut ok)
            .unwrap();
        assert_eq!(ok, [7u8; 10]);
        let mut out = Vec::new();
        let err = Bounded::new(&[7u8; 11][..], 10)
            .read_to_end(&mut out)
            .unwrap_err();
        assert_eq!(err.to_string(), OVER_LIMIT);
        assert_eq!(out.len(), 10);
    }
}
