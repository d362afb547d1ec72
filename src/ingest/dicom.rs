//! DICOM files (dicom-rs) and JPG/PNG exports (image) into pixels.
//!
//! Decoding supports what dicom-pixeldata 0.10 decodes with the features mammolab enables:
//! uncompressed little and big endian, deflated, RLE lossless, JPEG baseline/extended/
//! lossless and JPEG 2000 (pure-Rust OpenJPEG port). JPEG-LS needs the CharLS C++ library
//! and is reported as unsupported. Stored values follow pydicom's `pixel_array`: masked to
//! Bits Stored and sign-extended when Pixel Representation is 1.

use std::path::Path;

use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, OpenFileOptions};
use dicom_pixeldata::PixelDecoder;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::imaging::{self, Gray, Rescale, Voi};

fn dicom_err(path: &Path, message: impl std::fmt::Display) -> Error {
    Error::Dicom {
        path: path.to_path_buf(),
        message: message.to_string().replace('\n', " "),
    }
}

/// Header fields that the merge checks against the spreadsheets.
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
    /// Set when the file is too short to hold its uncompressed pixel data.
    pub truncated: Option<String>,
}

/// Uncompressed transfer syntaxes, whose pixel data size is known from the header.
const NATIVE: [&str; 3] = [
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.2",
];

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
    OpenFileOptions::new()
        .read_until(tags::PIXEL_DATA)
        .open_file(path)
        .map_err(|e| dicom_err(path, e))
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
    /// Header summary and pixel statistics.
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
        imaging::display(
            &self.stored,
            self.info.columns as usize,
            self.info.rows as usize,
            self.rescale,
            &self.voi,
            self.info.photometric_interpretation == "MONOCHROME1",
        )
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

/// Decode frame `frame` (0-based) of a DICOM file.
pub fn read_image(path: impl AsRef<Path>, frame: u32) -> Result<DicomImage> {
    let path = path.as_ref();
    if !path.is_file() {
        return Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        ));
    }
    let obj = dicom_object::open_file(path).map_err(|e| dicom_err(path, e))?;
    let ts = obj
        .meta()
        .transfer_syntax()
        .trim_end_matches('\0')
        .to_string();
    if obj.element_opt(tags::PIXEL_DATA).ok().flatten().is_none() {
        return Err(dicom_err(path, "no pixel data (7FE0,0010)"));
    }
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
    let mask: u64 = if bits_stored >= 64 {
        u64::MAX
    } else {
        (1u64 << bits_stored) - 1
    };
    if !matches!(bytes, 1 | 2 | 4) {
        return Err(dicom_err(
            path,
            format!("{bits_allocated} bits allocated is not supported"),
        ));
    }
    // Statistics over every sample, as over pydicom's pixel_array.
    let all = |k: usize| -> f64 {
        let raw = match bytes {
            1 => data[k] as u64,
            2 => u16::from_le_bytes([data[2 * k], data[2 * k + 1]]) as u64,
            _ => u32::from_le_bytes([
                data[4 * k],
                data[4 * k + 1],
                data[4 * k + 2],
                data[4 * k + 3],
            ]) as u64,
        } & mask;
        if signed && raw >> (bits_stored - 1) & 1 == 1 {
            (raw as i64 - (1i64 << bits_stored)) as f64
        } else {
            raw as f64
        }
    };
    // Sample 0 of each pixel (colour images keep their first channel).
    let stored: Vec<f64> = (0..n)
        .map(|i| all(if plane_first { i } else { i * spp }))
        .collect();
    let (mut min, mut max, mut sum) = (f64::INFINITY, f64::NEG_INFINITY, 0.0);
    for k in 0..n * spp {
        let v = all(k);
        (min, max, sum) = (min.min(v), max.max(v), sum + v);
    }
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
    let frames = text(&obj, tags::NUMBER_OF_FRAMES)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    Ok(DicomImage {
        info: DicomInfo {
            transfer_syntax: ts,
            modality: text(&obj, tags::MODALITY),
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
    })
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
    let path = path.as_ref();
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
    let img = reader.decode().map_err(|e| Error::Data {
        file: path.to_path_buf(),
        message: format!("cannot decode image: {e}"),
    })?;
    let g = img.to_luma32f();
    Ok(Gray {
        width: g.width() as usize,
        height: g.height() as usize,
        pixels: g.into_raw(),
    })
}

/// Any supported image as display grey values: DICOM by extension (`.dcm`, `.dicom`, or
/// none), JPG/PNG/PGM otherwise.
pub fn read_display(path: impl AsRef<Path>) -> Result<Gray> {
    let path = path.as_ref();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_lowercase();
    if matches!(ext.as_str(), "dcm" | "dicom" | "") {
        read_image(path, 0)?.display()
    } else {
        read_picture(path)
    }
}
