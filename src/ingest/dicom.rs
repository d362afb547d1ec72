//! DICOM files (dicom-rs) and JPG/PNG/PGM exports (image) into pixels.
//!
//! Decoding supports what dicom-pixeldata 0.10 decodes with the features mammolab enables:
//! uncompressed little and big endian, deflated, RLE lossless (8/16-bit), JPEG baseline/
//! extended 8-bit/lossless and JPEG 2000 (pure-Rust OpenJPEG port), any frame. What it
//! does not decode is decoded here and then read as uncompressed: 32-bit RLE (PackBits
//! segments) and greyscale JPEG-LS, lossless and near-lossless (pure_jpegls, a pure-Rust
//! T.87 decoder; colour JPEG-LS and 12-bit JPEG fail in one line), uncompressed 8-bit
//! YBR_FULL and YBR_FULL_422 (converted to RGB as pydicom's `pixel_array` converts them),
//! and an RGB JPEG whose stream does not mark itself RGB (decoded as RGB, as the
//! header says and pydicom reads it, where dicom-rs would convert it from YCbCr). Stored
//! values follow pydicom's
//! `pixel_array`: masked to Bits Stored and sign-extended when Pixel Representation is 1;
//! 32-bit explicit big endian samples are put back together from the 16-bit words the
//! parser swapped. A file without pixel data is
//! [`read_image_opt`]'s `None`. `tests/python/test_dicom_pixels.py` compares every file of
//! pydicom's test set.

use std::path::Path;

use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, OpenFileOptions};
use dicom_pixeldata::PixelDecoder;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::imaging::{self, Gray, Rescale, Voi};
use crate::ingest::limits::Limits;
use crate::ingest::transfer_syntax::{
    self, DEFLATED, EXPLICIT_BE, EXPLICIT_LE, IMPLICIT_LE, JPEG_2000, JPEG_2000_LOSSLESS,
    JPEG_BASELINE, JPEG_EXTENDED, JPEG_LS_LOSSLESS, JPEG_LS_NEAR_LOSSLESS, NATIVE, RLE_LOSSLESS,
};

fn dicom_err(path: &Path, message: impl std::fmt::Display) -> Error {
    Error::Dicom {
        path: path.to_path_buf(),
        message: message.to_string().replace('\n', " "),
    }
}

/// Header fields that the merge checks against the spreadsheets, and how the pixels are
/// stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DicomHeader {
    /// (0010,0020) Patient ID.
    pub patient_id: Option<String>,
    /// (0008,0020) Study Date.
    pub study_date: Option<String>,
    /// (0008,0030) Study Time.
    pub study_time: Option<String>,
    /// (0020,0062) Image Laterality, else (0020,0060) Laterality.
    pub laterality: Option<String>,
    /// (0018,5101) View Position.
    pub view: Option<String>,
    /// (0008,0070) Manufacturer.
    pub manufacturer: Option<String>,
    /// (0008,0060) Modality.
    pub modality: Option<String>,
    /// (0008,0016) SOP Class UID: what the file is (an image, a report, a plan, ...).
    pub sop_class: Option<String>,
    /// The transfer syntax UID of the file meta group.
    pub transfer_syntax: String,
    /// (0028,0004) Photometric Interpretation.
    pub photometric: Option<String>,
    /// (0028,0101) Bits Stored.
    pub bits_stored: Option<u16>,
    /// (0028,1056) VOI LUT Function (`LINEAR`, `LINEAR_EXACT`, `SIGMOID`); absent means
    /// linear.
    pub voi_lut_function: Option<String>,
    /// Set when the file is too short to hold its uncompressed pixel data.
    pub truncated: Option<String>,
}

fn text(obj: &DefaultDicomObject, tag: dicom_core::Tag) -> Option<String> {
    let e = obj.element_opt(tag).ok()??;
    let s = e.to_str().ok()?;
    let s = s
        .trim_matches(|c: char| c == '\0' || c.is_whitespace())
        .to_string();
    (!s.is_empty()).then_some(s)
}

fn open_header(path: &Path) -> Result<DefaultDicomObject> {
    if !path.is_file() {
        return Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        ));
    }
    check_lengths(path, true)?;
    OpenFileOptions::new()
        .read_until(tags::PIXEL_DATA)
        .open_file(path)
        .map_err(|e| dicom_err(path, e))
}

/// Rows and Columns (0028,0010/0011) from the header (stops before the pixel data).
pub fn read_size(path: impl AsRef<Path>) -> Result<(u32, u32)> {
    let path = path.as_ref();
    let obj = open_header(path)?;
    let num = |tag, name| {
        text(&obj, tag)
            .and_then(|s| s.parse::<u32>().ok())
            .ok_or_else(|| dicom_err(path, format!("no {name} in the header")))
    };
    Ok((
        num(tags::ROWS, "Rows (0028,0010)")?,
        num(tags::COLUMNS, "Columns (0028,0011)")?,
    ))
}

/// Read the header fields (stops before the pixel data, so it is fast).
pub fn read_header(path: impl AsRef<Path>) -> Result<DicomHeader> {
    let path = path.as_ref();
    let obj = open_header(path)?;
    let num = |tag| text(&obj, tag).and_then(|s| s.parse::<u64>().ok());
    let ts = obj
        .meta()
        .transfer_syntax()
        .trim_end_matches('\0')
        .to_string();
    let truncated = match (
        num(tags::ROWS),
        num(tags::COLUMNS),
        num(tags::BITS_ALLOCATED),
    ) {
        (Some(r), Some(c), Some(b)) if NATIVE.contains(&ts.as_str()) => {
            let spp = num(tags::SAMPLES_PER_PIXEL).unwrap_or(1);
            let frames = num(tags::NUMBER_OF_FRAMES).unwrap_or(1);
            let need = r * c * spp * frames * b.div_ceil(8);
            let have = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            (have < need).then(|| {
                format!("file has {have} bytes but its pixel data alone needs {need}: truncated")
            })
        }
        _ => None,
    };
    Ok(DicomHeader {
        truncated,
        patient_id: text(&obj, tags::PATIENT_ID),
        study_date: text(&obj, tags::STUDY_DATE),
        study_time: text(&obj, tags::STUDY_TIME),
        laterality: text(&obj, tags::IMAGE_LATERALITY).or_else(|| text(&obj, tags::LATERALITY)),
        view: text(&obj, tags::VIEW_POSITION),
        manufacturer: text(&obj, tags::MANUFACTURER),
        modality: text(&obj, tags::MODALITY),
        sop_class: text(&obj, tags::SOP_CLASS_UID)
            .or_else(|| {
                Some(
                    obj.meta()
                        .media_storage_sop_class_uid()
                        .trim_end_matches('\0')
                        .to_string(),
                )
            })
            .filter(|s| !s.is_empty()),
        transfer_syntax: ts,
        photometric: text(&obj, tags::PHOTOMETRIC_INTERPRETATION),
        bits_stored: num(tags::BITS_STORED).and_then(|b| u16::try_from(b).ok()),
        voi_lut_function: text(&obj, tags::VOILUT_FUNCTION),
    })
}

/// Summary statistics of stored values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PixelStats {
    /// Minimum.
    pub min: f64,
    /// Maximum.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

/// What `mammolab dicom --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DicomInfo {
    /// Transfer syntax UID.
    pub transfer_syntax: String,
    /// (0008,0060) Modality.
    pub modality: Option<String>,
    /// Rows.
    pub rows: u32,
    /// Columns.
    pub columns: u32,
    /// Number of frames.
    pub frames: u32,
    /// Bits allocated per sample.
    pub bits_allocated: u16,
    /// Photometric interpretation, e.g. `MONOCHROME2`.
    pub photometric_interpretation: String,
    /// Statistics of the stored values of frame 0 (before rescale and VOI).
    pub pixel: PixelStats,
}

/// One decoded frame with everything needed to display it.
#[derive(Debug, Clone, PartialEq)]
pub struct DicomImage {
    /// Header summary and pixel statistics ([`DicomInfo::pixel`] is the range of every
    /// sample: [`DicomImage::display`] tabulates a grey image's display map over it).
    pub info: DicomInfo,
    /// Stored values of the frame, row-major (`rows * columns`, first sample of each pixel
    /// for colour images).
    pub stored: Vec<f64>,
    /// Modality LUT.
    pub rescale: Rescale,
    /// VOI from the file: the first window or VOI LUT, else [`Voi::MinMax`].
    pub voi: Voi,
}

impl DicomImage {
    /// The display image in [0, 1]: rescale, VOI, and inversion for MONOCHROME1.
    pub fn display(&self) -> Result<Gray> {
        let (width, height) = (self.info.columns as usize, self.info.rows as usize);
        let invert = self.info.photometric_interpretation == "MONOCHROME1";
        // A grey image's stored values are its samples, whole numbers whose range the
        // decoder counted; a colour image's first channel spans less than all its samples.
        if self
            .info
            .photometric_interpretation
            .starts_with("MONOCHROME")
        {
            let PixelStats { min, max, .. } = self.info.pixel;
            imaging::display_whole(
                &self.stored,
                width,
                height,
                self.rescale,
                &self.voi,
                invert,
                (min, max),
            )
        } else {
            imaging::display(&self.stored, width, height, self.rescale, &self.voi, invert)
        }
    }

    /// The stored values scaled min-max into [0, 1], ignoring the window and MONOCHROME1:
    /// the naive view that [`DicomImage::display`] corrects.
    pub fn stored_min_max(&self) -> Result<Gray> {
        Gray::min_max(
            &self.stored,
            self.info.columns as usize,
            self.info.rows as usize,
        )
    }
}

/// Decode frame `frame` (0-based) of a DICOM file; an error naming (7FE0,0010) when it
/// has no pixel data ([`read_image_opt`] tells that case apart).
pub fn read_image(path: impl AsRef<Path>, frame: u32) -> Result<DicomImage> {
    let path = path.as_ref();
    read_image_opt(path, frame)?.ok_or_else(|| dicom_err(path, "no pixel data (7FE0,0010)"))
}

/// [`read_image`], with `None` for a valid DICOM file without pixel data (a structured
/// report, an RT plan, a DICOMDIR).
pub fn read_image_opt(path: impl AsRef<Path>, frame: u32) -> Result<Option<DicomImage>> {
    let path = path.as_ref();
    if !path.is_file() {
        return Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        ));
    }
    check_lengths(path, false)?;
    let obj = dicom_object::open_file(path).map_err(|e| dicom_err(path, e))?;
    let ts = obj
        .meta()
        .transfer_syntax()
        .trim_end_matches('\0')
        .to_string();
    let Some(pixel_data) = obj.element_opt(tags::PIXEL_DATA).ok().flatten() else {
        return Ok(None);
    };
    // An RGB JPEG that does not say it is RGB to a JPEG decoder (no Adobe marker, component
    // ids not R G B): dicom-rs's decoder would convert its samples from YCbCr; the DICOM
    // header says they are RGB, and pydicom keeps them, so it is decoded here without a
    // colour transform.
    let baseline = [JPEG_BASELINE, JPEG_EXTENDED];
    let unmarked_rgb_jpeg = baseline.contains(&ts.as_str())
        && text(&obj, tags::PHOTOMETRIC_INTERPRETATION).as_deref() == Some("RGB")
        && pixel_data
            .value()
            .fragments()
            .and_then(|f| f.first())
            .is_some_and(|f| !jpeg_says_rgb(f));
    // Uncompressed 8-bit YBR_FULL or YBR_FULL_422 (two luma samples a chroma pair), which
    // dicom-rs sizes as three samples a pixel: converted to RGB as pydicom's pixel_array
    // converts it.
    let native_ts = [IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE, DEFLATED];
    let ybr_full_native = native_ts.contains(&ts.as_str())
        && uint(&obj, tags::BITS_ALLOCATED) == Some(8)
        && uint(&obj, tags::SAMPLES_PER_PIXEL) == Some(3)
        && matches!(
            text(&obj, tags::PHOTOMETRIC_INTERPRETATION).as_deref(),
            Some("YBR_FULL" | "YBR_FULL_422")
        );
    let frames: u32 = text(&obj, tags::NUMBER_OF_FRAMES)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    if frame >= frames.max(1) {
        return Err(dicom_err(
            path,
            format!("frame {frame} is out of range: the file has {frames} (counted from 0)"),
        ));
    }
    check_frame_size(path, &obj, pixel_data, &ts)?;
    // What dicom-pixeldata 0.10 does not decode (RLE at 32 bits, JPEG-LS, an unmarked RGB
    // JPEG as RGB, uncompressed YBR_FULL) is decoded here and handed to its native decoder
    // as one uncompressed frame.
    let decode_here: Option<FrameDecoder> = match ts.as_str() {
        RLE_LOSSLESS if uint(&obj, tags::BITS_ALLOCATED) == Some(32) => Some(rle32_frame),
        JPEG_LS_LOSSLESS | JPEG_LS_NEAR_LOSSLESS => Some(jpeg_ls_frame),
        _ if unmarked_rgb_jpeg => Some(jpeg_rgb_frame),
        _ if ybr_full_native => Some(ybr_full_frame),
        _ => None,
    };
    let native;
    let (obj, frame) = match decode_here {
        Some(decode) => {
            let mut decoded = decoded_as_native(path, &obj, frame, frames, decode)?;
            if ybr_full_native {
                decoded.put(dicom_core::DataElement::new(
                    tags::PHOTOMETRIC_INTERPRETATION,
                    dicom_core::VR::CS,
                    dicom_core::PrimitiveValue::from("RGB"),
                ));
            }
            native = decoded;
            (&native, 0)
        }
        None => (&obj, frame),
    };
    let px = obj.decode_pixel_data_frame(frame).map_err(|e| {
        let m = e.to_string();
        if m.contains("Unsupported") || m.contains("unsupported") || m.contains("not supported") {
            dicom_err(path, format!("transfer syntax {ts} is not supported ({m})"))
        } else {
            dicom_err(path, format!("cannot decode pixel data: {m}"))
        }
    })?;
    let (rows, cols) = (px.rows(), px.columns());
    let spp = px.samples_per_pixel() as usize;
    let bits_allocated = px.bits_allocated();
    let bits_stored = px.bits_stored().clamp(1, bits_allocated.max(1));
    let signed = matches!(
        px.pixel_representation(),
        dicom_pixeldata::PixelRepresentation::Signed
    );
    // decode_pixel_data_frame returns only the requested frame.
    let data = px.frame_data(0).map_err(|e| dicom_err(path, e))?;
    let n = rows as usize * cols as usize;
    let bytes = bits_allocated.div_ceil(8) as usize;
    if data.len() < n * spp * bytes {
        return Err(dicom_err(
            path,
            format!(
                "pixel data holds {} bytes, {rows}x{cols}x{spp} samples need {}",
                data.len(),
                n * spp * bytes
            ),
        ));
    }
    // dicom-pixeldata calls planar configuration 1 (colour by plane) `PixelFirst`.
    let plane_first =
        spp > 1 && px.planar_configuration() == dicom_pixeldata::PlanarConfiguration::PixelFirst;
    if !matches!(bytes, 1 | 2 | 4) {
        return Err(dicom_err(
            path,
            format!("{bits_allocated} bits allocated is not supported"),
        ));
    }
    // Explicit VR big endian: the parser byte-swaps pixel data as OW, 16-bit word by word,
    // so a 32-bit sample arrives as its two words, high word first, each little endian.
    let big_endian_words = ts == EXPLICIT_BE && bytes == 4;
    // Every sample decoded once, with statistics over all of them as over pydicom's
    // pixel_array; the stored values keep sample 0 of each pixel (colour: the first channel).
    let total = n * spp;
    let (all, stats) = match bytes {
        1 => samples::<1>(data, total, bits_stored, signed, |b| b[0] as u64),
        2 => samples::<2>(data, total, bits_stored, signed, |b| {
            u16::from_le_bytes(b) as u64
        }),
        _ if big_endian_words => samples::<4>(data, total, bits_stored, signed, |b| {
            (u16::from_le_bytes([b[0], b[1]]) as u64) << 16
                | u16::from_le_bytes([b[2], b[3]]) as u64
        }),
        _ => samples::<4>(data, total, bits_stored, signed, |b| {
            u32::from_le_bytes(b) as u64
        }),
    };
    let (min, max, sum) = stats;
    let stored: Vec<f64> = if spp == 1 {
        all
    } else if plane_first {
        all[..n].to_vec()
    } else {
        all.iter().step_by(spp).copied().collect()
    };
    let rescale = px
        .rescale()
        .ok()
        .and_then(|r| {
            r.first().map(|r| Rescale {
                slope: r.slope,
                intercept: r.intercept,
            })
        })
        .unwrap_or_default();
    let voi = match (px.window(), px.voi_lut_sequence()) {
        (Ok(Some(w)), _) if !w.is_empty() => {
            let (center, width) = (w[0].center, w[0].width);
            match px
                .voi_lut_function()
                .ok()
                .flatten()
                .and_then(|f| f.first().copied())
            {
                Some(dicom_pixeldata::VoiLutFunction::LinearExact) => {
                    Voi::LinearExact { center, width }
                }
                Some(dicom_pixeldata::VoiLutFunction::Sigmoid) => Voi::Sigmoid { center, width },
                _ => Voi::Linear { center, width },
            }
        }
        (_, Ok(Some(luts))) if !luts.is_empty() && !luts[0].data.is_empty() => Voi::Table {
            first: luts[0].min_pixel_value as f64,
            table: luts[0].data.iter().map(|&v| v as f64).collect(),
            max: ((1u64 << luts[0].bits_stored.clamp(1, 16)) - 1) as f64,
        },
        _ => Voi::MinMax,
    };
    Ok(Some(DicomImage {
        info: DicomInfo {
            transfer_syntax: ts,
            modality: text(obj, tags::MODALITY),
            rows,
            columns: cols,
            frames,
            bits_allocated,
            photometric_interpretation: px.photometric_interpretation().as_str().to_string(),
            pixel: PixelStats {
                min,
                max,
                mean: sum / (n * spp).max(1) as f64,
            },
        },
        stored,
        rescale,
        voi,
    }))
}

/// The first `total` samples of `data`, `B` bytes each read by `read`, masked to
/// `bits_stored` bits and sign-extended when `signed`, as `f64` (exact: at most 32 bits),
/// with their minimum, maximum and sum. One pass in integers: the sum is exact (summed in
/// blocks small enough for `i64`), where a running `f64` sum rounds once it passes 2^53.
fn samples<const B: usize>(
    data: &[u8],
    total: usize,
    bits_stored: u16,
    signed: bool,
    read: impl Fn([u8; B]) -> u64,
) -> (Vec<f64>, (f64, f64, f64)) {
    let bits = u32::from(bits_stored.clamp(1, 32));
    let mask = (1u64 << bits) - 1;
    // Shifting the sign bit to bit 63 and back extends it; 0 leaves an unsigned value.
    let shift = if signed { 64 - bits } else { 0 };
    let mut values = Vec::with_capacity(total);
    let (mut lo, mut hi, mut sum) = (i64::MAX, i64::MIN, 0.0f64);
    // 2^20 samples of at most 2^32 each: a block's sum stays below 2^52.
    for block in data[..total * B].chunks(B << 20) {
        let mut block_sum = 0i64;
        for c in block.chunks_exact(B) {
            let raw = read(c.try_into().expect("B bytes")) & mask;
            let v = ((raw << shift) as i64) >> shift;
            lo = lo.min(v);
            hi = hi.max(v);
            block_sum += v;
            values.push(v as f64);
        }
        sum += block_sum as f64;
    }
    if total == 0 {
        return (values, (f64::INFINITY, f64::NEG_INFINITY, 0.0));
    }
    (values, (lo as f64, hi as f64, sum))
}

/// Every length `path` declares fits in what follows it, and a deflated data set inflates
/// within the limit ([`crate::ingest::limits`]), before dicom-rs allocates for either.
/// `header_only`: up to the pixel data.
fn check_lengths(path: &Path, header_only: bool) -> Result<()> {
    crate::ingest::dicom_bounds::check(path, &Limits::current(), header_only)
        .map_err(|m| dicom_err(path, m))
}

/// One decoded frame fits the limits (Rows x Columns x Samples per Pixel, and its bytes),
/// and a compressed frame's own header (JPEG SOF, JPEG 2000 SIZ) declares the size the data
/// set does: the decoders allocate for what the stream says, which a lying stream makes
/// 65535 x 65535.
fn check_frame_size(
    path: &Path,
    obj: &DefaultDicomObject,
    pixel_data: &dicom_object::mem::InMemElement,
    ts: &str,
) -> Result<()> {
    let (rows, cols) = (
        uint(obj, tags::ROWS).unwrap_or(0),
        uint(obj, tags::COLUMNS).unwrap_or(0),
    );
    let spp = uint(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1).max(1);
    let bytes = uint(obj, tags::BITS_ALLOCATED)
        .unwrap_or(8)
        .div_ceil(8)
        .max(1);
    let limits = Limits::current();
    if let Some(m) = limits.check_image(
        "one frame",
        rows.into(),
        cols.into(),
        spp.into(),
        bytes.into(),
    ) {
        return Err(dicom_err(path, m));
    }
    let Some(fragments) = pixel_data.value().fragments() else {
        return Ok(());
    };
    for (i, f) in fragments.iter().enumerate() {
        if ts == RLE_LOSSLESS {
            // One fragment per frame (dicom-rs keeps the basic offset table apart), each
            // starting with the header that lists its segments.
            rle_header_fits(f).map_err(|m| dicom_err(path, format!("frame {i}: {m}")))?;
        }
        let declared = match ts {
            JPEG_2000 | JPEG_2000_LOSSLESS => j2k_size(f),
            _ if ts.starts_with("1.2.840.10008.1.2.4.") => jpeg_size(f), // the JPEG family
            _ => None,
        };
        if let Some((w, h)) = declared {
            if (u32::from(h), u32::from(w)) != (rows, cols) {
                return Err(dicom_err(
                    path,
                    format!(
                        "fragment {i}'s compressed stream declares {w} x {h} pixels, the data set {cols} x {rows} (Columns x Rows): not decoded"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Width and height from a JPEG stream's frame header (SOF0-3, 5-7, 9-11, 13-15; JPEG-LS's
/// SOF55 too), found by walking the marker segments from SOI; `None` when the stream does
/// not start with SOI or ends first.
fn jpeg_size(b: &[u8]) -> Option<(u16, u16)> {
    if b.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut k = 2;
    loop {
        while *b.get(k)? == 0xFF && *b.get(k + 1)? == 0xFF {
            k += 1; // fill bytes
        }
        if *b.get(k)? != 0xFF {
            return None;
        }
        let marker = *b.get(k + 1)?;
        let len = u16::from_be_bytes([*b.get(k + 2)?, *b.get(k + 3)?]) as usize;
        let sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC)
            || marker == 0xF7;
        if sof {
            let h = u16::from_be_bytes([*b.get(k + 5)?, *b.get(k + 6)?]);
            let w = u16::from_be_bytes([*b.get(k + 7)?, *b.get(k + 8)?]);
            return Some((w, h));
        }
        if marker == 0xDA {
            return None; // scan data before any frame header
        }
        k += 2 + len;
    }
}

/// Width and height from a JPEG 2000 codestream's SIZ segment (`FF4F FF51`: Xsiz - XOsiz,
/// Ysiz - YOsiz); `None` for anything else (a JP2 box file is left to the decoder).
fn j2k_size(b: &[u8]) -> Option<(u16, u16)> {
    if b.get(..4)? != [0xFF, 0x4F, 0xFF, 0x51] {
        return None;
    }
    let word =
        |k: usize| -> Option<u32> { Some(u32::from_be_bytes(b.get(k..k + 4)?.try_into().ok()?)) };
    let (x, y, xo, yo) = (word(8)?, word(12)?, word(16)?, word(20)?);
    let w = u16::try_from(x.checked_sub(xo)?).unwrap_or(u16::MAX);
    let h = u16::try_from(y.checked_sub(yo)?).unwrap_or(u16::MAX);
    Some((w, h))
}

fn uint(obj: &DefaultDicomObject, tag: dicom_core::Tag) -> Option<u32> {
    obj.element_opt(tag).ok()??.to_int::<u32>().ok()
}

/// The shape of one frame a [`FrameDecoder`] decodes: rows, columns, samples per pixel and
/// bits allocated, from the data set.
#[derive(Clone, Copy)]
struct FrameShape {
    rows: u32,
    cols: u32,
    samples: u32,
    bits: u32,
    /// Planar configuration 1: colour by plane.
    planes: bool,
    /// YBR_FULL_422: two luma samples share one chroma pair.
    chroma_pairs: bool,
}

/// One compressed frame's bytes -> its samples as uncompressed pixel data (little endian,
/// samples interleaved), or why not.
type FrameDecoder = fn(&[u8], FrameShape) -> std::result::Result<Vec<u8>, String>;

/// `obj` with frame `frame` (of `frames`) decoded by `decode`, as one uncompressed frame in
/// explicit VR little endian (planar configuration 0), for dicom-pixeldata's native decoder.
fn decoded_as_native(
    path: &Path,
    obj: &DefaultDicomObject,
    frame: u32,
    frames: u32,
    decode: FrameDecoder,
) -> Result<DefaultDicomObject> {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    let ts = obj.meta().transfer_syntax().trim_end_matches('\0');
    let name = transfer_syntax::name(ts).unwrap_or(ts);
    let need = |tag, what: &str| {
        uint(obj, tag).ok_or_else(|| dicom_err(path, format!("{name} pixel data without {what}")))
    };
    let shape = FrameShape {
        rows: need(tags::ROWS, "Rows")?,
        cols: need(tags::COLUMNS, "Columns")?,
        samples: uint(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1),
        bits: need(tags::BITS_ALLOCATED, "Bits Allocated")?,
        planes: uint(obj, tags::PLANAR_CONFIGURATION) == Some(1),
        chroma_pairs: text(obj, tags::PHOTOMETRIC_INTERPRETATION).as_deref()
            == Some("YBR_FULL_422"),
    };
    let value = obj.element(tags::PIXEL_DATA).ok().map(|e| e.value());
    let fragments = value.and_then(|v| v.fragments());
    let data = match (fragments, frames, value) {
        // Uncompressed: the frames one after the other, of equal size.
        (None, _, Some(v)) => {
            let all = v.to_bytes().map_err(|e| dicom_err(path, e))?;
            let per = all.len() / frames.max(1) as usize;
            std::borrow::Cow::Owned(all[per * frame as usize..per * (frame as usize + 1)].to_vec())
        }
        // One frame: all fragments are its stream; several: one fragment a frame (PS3.5 A.4).
        (Some(f), 0 | 1, _) if !f.is_empty() => std::borrow::Cow::Owned(f.concat()),
        (Some(f), _, _) if f.len() == frames as usize => {
            std::borrow::Cow::Borrowed(f[frame as usize].as_slice())
        }
        _ => {
            return Err(dicom_err(
                path,
                format!(
                    "{name} pixel data has {} fragments for {frames} frames: frame {frame} cannot be found",
                    fragments.map_or(0, |f| f.len())
                ),
            ))
        }
    };
    let bytes = crate::error::catch_panic(|| decode(&data, shape))
        .unwrap_or_else(|panic| Err(format!("the decoder failed ({panic})")))
        .map_err(|m| dicom_err(path, format!("frame {frame}: {m}")))?;
    let mut native = obj.clone();
    native.put(DataElement::new(
        tags::PIXEL_DATA,
        if shape.bits > 8 { VR::OW } else { VR::OB },
        PrimitiveValue::from(bytes),
    ));
    native.put(DataElement::new(
        tags::NUMBER_OF_FRAMES,
        VR::IS,
        PrimitiveValue::from("1"),
    ));
    native.put(DataElement::new(
        tags::PLANAR_CONFIGURATION,
        VR::US,
        PrimitiveValue::from(0u16),
    ));
    native.update_meta(|m| m.transfer_syntax = EXPLICIT_LE.to_string());
    Ok(native)
}

/// An 8-bit JPEG frame whose three components are RGB, as the DICOM header says, decoded
/// without the YCbCr conversion a JPEG decoder applies when the stream does not say RGB.
fn jpeg_rgb_frame(stream: &[u8], shape: FrameShape) -> std::result::Result<Vec<u8>, String> {
    let mut decoder = jpeg_decoder::Decoder::new(stream);
    decoder.set_color_transform(jpeg_decoder::ColorTransform::None);
    let samples = decoder
        .decode()
        .map_err(|e| format!("cannot decode JPEG: {e}"))?;
    let info = decoder
        .info()
        .ok_or("cannot decode JPEG: no frame header")?;
    let want = (shape.cols, shape.rows, shape.samples, shape.bits);
    let got = (u32::from(info.width), u32::from(info.height), 3, 8);
    if info.pixel_format != jpeg_decoder::PixelFormat::RGB24 || got != want {
        return Err(format!(
            "the JPEG stream is {} x {} as {:?}, the header says {} x {} x {} samples of {} bits",
            got.0, got.1, info.pixel_format, want.0, want.1, want.2, want.3
        ));
    }
    Ok(samples)
}

/// An uncompressed 8-bit YBR_FULL or YBR_FULL_422 frame as RGB, computed as pydicom's
/// `pixel_array` computes it (`pixels.processing`, PS3.3 C.7.6.3.1.2): single-precision
/// `Y + 1.402 Cr'`, `Y - 0.3441 Cb' - 0.7141 Cr'`, `Y + 1.772 Cb'` (`Cb' = Cb - 128`),
/// rounded half up and clipped to 0..=255. YBR_FULL_422 pairs two luma samples with one
/// chroma pair (`Y1 Y2 Cb Cr`); YBR_FULL may be stored by plane.
fn ybr_full_frame(data: &[u8], shape: FrameShape) -> std::result::Result<Vec<u8>, String> {
    let n = shape.rows as usize * shape.cols as usize;
    let need = if shape.chroma_pairs {
        n.div_ceil(2) * 4
    } else {
        3 * n
    };
    if data.len() < need {
        return Err(format!(
            "pixel data holds {} bytes a frame, {} x {} YBR samples need {need}",
            data.len(),
            shape.rows,
            shape.cols
        ));
    }
    let ybr = |i: usize| -> [u8; 3] {
        if shape.chroma_pairs {
            let pair = &data[4 * (i / 2)..4 * (i / 2) + 4];
            [pair[i % 2], pair[2], pair[3]]
        } else if shape.planes {
            [data[i], data[n + i], data[2 * n + i]]
        } else {
            [data[3 * i], data[3 * i + 1], data[3 * i + 2]]
        }
    };
    // pydicom's matrix, in f64 and then single precision.
    let (cr_r, cb_g, cr_g, cb_b) = (
        1.402_f64 as f32,
        (-0.114 * 1.772 / 0.587) as f32,
        (-0.299 * 1.402 / 0.587) as f32,
        1.772_f64 as f32,
    );
    let round = |v: f32| (v + 0.5).floor().clamp(0.0, 255.0) as u8;
    Ok((0..n)
        .flat_map(|i| {
            let [y, cb, cr] = ybr(i).map(f32::from);
            let (cb, cr) = (cb - 128.0, cr - 128.0);
            [
                round(y + cb * 0.0 + cr * cr_r),
                round(y + cb * cb_g + cr * cr_g),
                round(y + cb * cb_b + cr * 0.0),
            ]
        })
        .collect())
}

/// A 32-bit RLE Lossless frame ([`rle_decode`]).
fn rle32_frame(fragment: &[u8], shape: FrameShape) -> std::result::Result<Vec<u8>, String> {
    let pixels = shape.rows as usize * shape.cols as usize;
    rle_decode(fragment, pixels, shape.samples as usize, 4)
}

/// A JPEG-LS frame (lossless or near-lossless, ITU-T T.87), decoded by pure_jpegls: one
/// component of 2 to 16 bits, stored as 8- or 16-bit samples as Bits Allocated says.
/// Colour JPEG-LS (three components, line or sample interleaved) is refused in one line.
fn jpeg_ls_frame(stream: &[u8], shape: FrameShape) -> std::result::Result<Vec<u8>, String> {
    if shape.samples != 1 {
        return Err(format!(
            "JPEG-LS with {} samples per pixel is not supported (the JPEG-LS decoder reads one component)",
            shape.samples
        ));
    }
    let (values, cols, rows) = jpegls::decode(stream, shape.cols, shape.rows)
        .map_err(|e| format!("cannot decode JPEG-LS: {e}"))?;
    if (cols, rows) != (shape.cols, shape.rows) || values.len() != (rows * cols) as usize {
        return Err(format!(
            "the JPEG-LS stream is {cols} x {rows}, the header says {} x {}",
            shape.cols, shape.rows
        ));
    }
    match shape.bits {
        8 => values
            .iter()
            .map(|&v| {
                u8::try_from(v)
                    .map_err(|_| format!("JPEG-LS sample {v} does not fit the 8 bits allocated"))
            })
            .collect(),
        16 => Ok(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
        b => Err(format!(
            "JPEG-LS with {b} bits allocated is not supported (8 or 16)"
        )),
    }
}

/// One RLE Lossless frame (DICOM PS3.5 annex G: a 64-byte header of segment offsets, one
/// PackBits segment per byte of each sample, most significant byte first) as
/// `pixels x samples` little-endian values of `bytes` bytes each, samples interleaved.
fn rle_decode(
    fragment: &[u8],
    pixels: usize,
    samples: usize,
    bytes: usize,
) -> std::result::Result<Vec<u8>, String> {
    let word = |i: usize| rle_header_word(fragment, i);
    let segments = word(0).ok_or("RLE header shorter than 64 bytes")?;
    let need = samples * bytes;
    if segments != need || need > 15 {
        return Err(format!(
            "RLE header names {segments} segments, {samples} samples of {bytes} bytes need {need}"
        ));
    }
    let mut out = vec![0u8; pixels * need];
    for seg in 0..need {
        let start = word(1 + seg).ok_or("RLE header shorter than 64 bytes")?;
        let end = if seg + 1 < need {
            word(2 + seg).ok_or("RLE header shorter than 64 bytes")?
        } else {
            fragment.len()
        };
        let data = fragment.get(start..end).ok_or_else(|| {
            format!(
                "RLE segment {seg} lies outside the fragment ({start}..{end} of {})",
                fragment.len()
            )
        })?;
        let decoded = packbits(data, pixels);
        if decoded.len() < pixels {
            return Err(format!(
                "RLE segment {seg} decodes to {} bytes, {pixels} needed",
                decoded.len()
            ));
        }
        let (sample, significance) = (seg / bytes, seg % bytes);
        let at = sample * bytes + (bytes - 1 - significance);
        for (p, &v) in decoded.iter().take(pixels).enumerate() {
            out[p * need + at] = v;
        }
    }
    Ok(out)
}

/// Word `i` of an RLE frame's 64-byte header (16 little-endian u32: the number of segments,
/// then their offsets).
fn rle_header_word(fragment: &[u8], i: usize) -> Option<usize> {
    let b = fragment.get(4 * i..4 * i + 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

/// An RLE frame's header (PS3.5 G.5: the number of segments, 1 to 15, then their offsets)
/// points inside its fragment, segments in order, the first right after the 64-byte header.
fn rle_header_fits(fragment: &[u8]) -> std::result::Result<(), String> {
    let word = |i: usize| rle_header_word(fragment, i);
    let segments = word(0).ok_or("RLE header shorter than 64 bytes")?;
    if !(1..=15).contains(&segments) || fragment.len() < 64 {
        return Err(format!(
            "RLE header names {segments} segments (1 to 15 allowed) in {} bytes",
            fragment.len()
        ));
    }
    let mut previous = 63;
    for seg in 0..segments {
        let start = word(1 + seg).ok_or("RLE header shorter than 64 bytes")?;
        if start <= previous || start > fragment.len() || (seg == 0 && start != 64) {
            return Err(format!(
                "RLE segment {seg} starts at byte {start}, outside the {} bytes of its fragment or before the segment it follows",
                fragment.len()
            ));
        }
        previous = start;
    }
    Ok(())
}

/// PackBits, up to `limit` bytes: a header byte n >= 0 copies the next n + 1 bytes, n in
/// -127..=-1 repeats the next byte 1 - n times, -128 is skipped.
fn packbits(data: &[u8], limit: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(limit);
    let mut i = 0;
    while i < data.len() && out.len() < limit {
        let n = data[i] as i8;
        i += 1;
        if n >= 0 {
            let k = (n as usize + 1).min(data.len() - i);
            out.extend_from_slice(&data[i..i + k]);
            i += k;
        } else if n != -128 {
            let Some(&v) = data.get(i) else { break };
            out.extend(std::iter::repeat_n(v, (1 - n as isize) as usize));
            i += 1;
        }
    }
    out
}

/// Whether a JPEG stream marks its samples as RGB for a decoder: an Adobe APP14 segment
/// (`FF EE`, "Adobe"), or a frame header whose component ids are `R`, `G`, `B`.
fn jpeg_says_rgb(bytes: &[u8]) -> bool {
    let adobe = bytes
        .windows(9)
        .any(|w| w[..2] == [0xFF, 0xEE] && &w[4..9] == b"Adobe");
    let sof = bytes
        .windows(2)
        .position(|w| w[0] == 0xFF && matches!(w[1], 0xC0 | 0xC1));
    let rgb_ids = sof.is_some_and(|k| {
        let ids = |c: usize| bytes.get(k + 10 + 3 * c).copied();
        bytes.get(k + 9) == Some(&3)
            && [ids(0), ids(1), ids(2)] == [Some(b'R'), Some(b'G'), Some(b'B')]
    });
    adobe || rgb_ids
}

/// Whether JPEG `bytes` stop before their end-of-image marker (`FF D9`). Inside
/// entropy-coded data `FF` is always followed by `00` or a restart marker, so the last
/// `FF D9` ends the image (or an embedded thumbnail, which then leaves the rest of the
/// file after it); up to 4 KiB of trailing bytes (padding, vendor trailers) are allowed.
fn jpeg_truncated(bytes: &[u8]) -> bool {
    match bytes.windows(2).rposition(|w| w == [0xFF, 0xD9]) {
        None => true,
        Some(end) => {
            let tail = &bytes[end + 2..];
            tail.len() > 4096 && tail.iter().any(|&b| b != 0)
        }
    }
}

/// Load a JPG, PNG or PGM export as grey values in [0, 1] (colour images are converted
/// with the ITU-R 601 luma weights `image` uses). A JPEG cut short is an error, as in
/// Pillow, never a partly grey image.
pub fn read_picture(path: impl AsRef<Path>) -> Result<Gray> {
    let g = decode_picture(path.as_ref())?.to_luma32f();
    Ok(Gray {
        width: g.width() as usize,
        height: g.height() as usize,
        pixels: g.into_raw(),
    })
}

/// Load a JPG, PNG or PGM export as its red, green and blue planes in [0, 1] (a grey image
/// gives the same plane three times). Errors as [`read_picture`].
pub fn read_picture_rgb(path: impl AsRef<Path>) -> Result<[Gray; 3]> {
    let img = decode_picture(path.as_ref())?.to_rgb32f();
    let (width, height) = (img.width() as usize, img.height() as usize);
    let raw = img.into_raw();
    Ok(std::array::from_fn(|c| Gray {
        width,
        height,
        pixels: raw.iter().skip(c).step_by(3).copied().collect(),
    }))
}

fn decode_picture(path: &Path) -> Result<image::DynamicImage> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let reader = image::ImageReader::new(std::io::Cursor::new(&bytes[..]))
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?;
    if reader.format() == Some(image::ImageFormat::Jpeg) && jpeg_truncated(&bytes) {
        return Err(Error::Data {
            file: path.to_path_buf(),
            message: format!(
                "cannot decode image: JPEG ends without its end-of-image marker after {} bytes (truncated)",
                bytes.len()
            ),
        });
    }
    // The header's size is checked before the decoder allocates for it (a JPEG that claims
    // 65535 x 65535 in 300 bytes), and the decoder's own allocations are capped.
    let limits = Limits::current();
    let picture_err = |message: String| Error::Data {
        file: path.to_path_buf(),
        message,
    };
    if let Ok((w, h)) = reader_for(&bytes, reader.format()).into_dimensions() {
        if let Some(m) = limits.check_image("the picture", h.into(), w.into(), 1, 1) {
            return Err(picture_err(m));
        }
    }
    let mut image_limits = image::Limits::default();
    image_limits.max_alloc = Some(limits.max_bytes);
    let mut reader = reader;
    reader.limits(image_limits);
    reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => picture_err(format!(
            "cannot decode image: decoding needs more than the {} limit (--max-mib raises it)",
            crate::ingest::limits::mib(limits.max_bytes)
        )),
        e => picture_err(format!("cannot decode image: {e}")),
    })
}

fn reader_for(
    bytes: &[u8],
    format: Option<image::ImageFormat>,
) -> image::ImageReader<std::io::Cursor<&[u8]>> {
    let mut r = image::ImageReader::new(std::io::Cursor::new(bytes));
    if let Some(f) = format {
        r.set_format(f);
    }
    r
}

/// Whether [`read_display`] reads `path` as DICOM: extension `.dcm`, `.dicom` or none.
pub fn is_dicom_path(path: &Path) -> bool {
    matches!(
        crate::ingest::index::ext_of(path).as_str(),
        "dcm" | "dicom" | ""
    )
}

/// Any supported image as display grey values: DICOM by extension (`.dcm`, `.dicom`, or
/// none), JPG/PNG/PGM otherwise.
pub fn read_display(path: impl AsRef<Path>) -> Result<Gray> {
    let path = path.as_ref();
    if is_dicom_path(path) {
        read_image(path, 0)?.display()
    } else {
        read_picture(path)
    }
}

/// Any supported image as red, green and blue planes in [0, 1]: JPG/PNG/PGM in colour
/// ([`read_picture_rgb`]); a DICOM (a mammogram) as its display grey three times.
pub fn read_display_rgb(path: impl AsRef<Path>) -> Result<[Gray; 3]> {
    let path = path.as_ref();
    if is_dicom_path(path) {
        let g = read_image(path, 0)?.display()?;
        Ok([g.clone(), g.clone(), g])
    } else {
        read_picture_rgb(path)
    }
}

#[cfg(test)]
mod tests {
    use super::{packbits, rle_decode, samples};

    #[test]
    fn samples_are_masked_sign_extended_and_summed_exactly() {
        // 12 bits stored in 16, high bits set (garbage a reader must mask): 0x0FFF is -1
        // signed and 4095 unsigned; 0xF800 is 0x800 = -2048 signed.
        let data: Vec<u8> = [0xFFFFu16, 0xF800, 0x0001, 0x07FF]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let read = |b: [u8; 2]| u16::from_le_bytes(b) as u64;
        let (v, stats) = samples::<2>(&data, 4, 12, true, read);
        assert_eq!(v, [-1.0, -2048.0, 1.0, 2047.0]);
        assert_eq!(stats, (-2048.0, 2047.0, -1.0));
        let (v, stats) = samples::<2>(&data, 4, 12, false, read);
        assert_eq!(v, [4095.0, 2048.0, 1.0, 2047.0]);
        assert_eq!(stats, (1.0, 4095.0, 8191.0));
        // 32-bit signed: the extremes survive; a sum past 2^53 is not rounded per sample.
        let big = [i32::MIN as u32, i32::MAX as u32, u32::MAX];
        let data: Vec<u8> = big.iter().flat_map(|v| v.to_le_bytes()).collect();
        let (v, _) = samples::<4>(&data, 3, 32, true, le32);
        assert_eq!(v, [i32::MIN as f64, i32::MAX as f64, -1.0]);
        let n = 3 << 20;
        let data: Vec<u8> = (0..n).flat_map(|_| u32::MAX.to_le_bytes()).collect();
        let (_, (_, _, sum)) = samples::<4>(&data, n, 32, false, le32);
        assert_eq!(sum, n as f64 * u32::MAX as f64);
        // Nothing to read: no minimum or maximum.
        let (v, stats) = samples::<1>(&[], 0, 8, false, |b| b[0] as u64);
        assert!(v.is_empty());
        assert_eq!(stats, (f64::INFINITY, f64::NEG_INFINITY, 0.0));
    }

    fn le32(b: [u8; 4]) -> u64 {
        u32::from_le_bytes(b) as u64
    }

    /// A fragment with `segments` PackBits segments after the 64-byte offset header.
    fn fragment(segments: &[&[u8]]) -> Vec<u8> {
        let mut header = vec![0u8; 64];
        header[..4].copy_from_slice(&(segments.len() as u32).to_le_bytes());
        let mut at = 64u32;
        let mut body = vec![];
        for (i, s) in segments.iter().enumerate() {
            header[4 + 4 * i..8 + 4 * i].copy_from_slice(&at.to_le_bytes());
            at += s.len() as u32;
            body.extend_from_slice(s);
        }
        [header, body].concat()
    }

    #[test]
    fn packbits_literal_run_and_no_op() {
        // PS3.5 G.3.1: 2 literal bytes, 3 repeats of 9, a -128 no-op, 1 literal byte.
        assert_eq!(
            packbits(&[1, 7, 8, 0xFE, 9, 0x80, 0, 5], 100),
            [7, 8, 9, 9, 9, 5]
        );
        assert_eq!(
            packbits(&[0xFE, 9], 2),
            [9, 9, 9],
            "a run is not cut inside"
        );
        assert_eq!(
            packbits(&[5, 1, 2], 100),
            [1, 2],
            "a truncated literal ends the data"
        );
    }

    #[test]
    fn rle_segments_become_little_endian_interleaved_samples() {
        // Two pixels, one 32-bit sample: segment 0 holds the most significant bytes.
        let f = fragment(&[
            &[1, 0x12, 0xAB],
            &[1, 0x34, 0xCD],
            &[0xFF, 0x56],
            &[1, 0x78, 0x01],
        ]);
        let out = rle_decode(&f, 2, 1, 4).unwrap();
        assert_eq!(
            u32::from_le_bytes(out[..4].try_into().unwrap()),
            0x1234_5678
        );
        assert_eq!(
            u32::from_le_bytes(out[4..].try_into().unwrap()),
            0xABCD_5601
        );
        let e = rle_decode(&f, 3, 1, 4).unwrap_err();
        assert!(e.contains("decodes to 2 bytes, 3 needed"), "{e}");
        let e = rle_decode(&f, 2, 3, 4).unwrap_err();
        assert!(e.contains("names 4 segments"), "{e}");
        assert!(rle_decode(&f[..40], 2, 1, 4).is_err());
        let mut bad = f.clone();
        bad[8..12].copy_from_slice(&1000u32.to_le_bytes());
        let e = rle_decode(&bad, 2, 1, 4).unwrap_err();
        assert!(e.contains("outside the fragment"), "{e}");
    }
}
