//! Writing one synthetic mammogram as a DICOM file (dicom-rs) and as its JPG export.

use std::path::Path;

use dicom_core::value::PrimitiveValue;
use dicom_core::{smallvec::SmallVec, DataElement, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{meta::FileMetaTableBuilder, InMemDicomObject};

use super::plan::{Device, ImagePlan, Patient, Study};
use crate::error::{Error, Result};

/// Our implementation class UID (a UUID-derived `2.25` root: no registration needed).
const IMPLEMENTATION_CLASS_UID: &str = "2.25.179414381893236413459837312104093386091";

/// A `2.25.` UID from 128 bits of a hash of `(seed, kind, index)`.
pub fn uid(seed: u64, kind: u64, index: u64) -> String {
    let mut r = super::rng::Rng::derive(seed ^ kind.rotate_left(17), index);
    let v = ((r.next_u64() as u128) << 64) | r.next_u64() as u128;
    // A leading zero is not allowed in a UID component; u128 decimal has none.
    format!("2.25.{v}")
}

/// Stored values (as the modality writes them) for brightness `px` in [0, 1].
pub fn stored_values(px: &[f32], img: &ImagePlan, dev: &Device) -> Vec<u16> {
    let maxv = ((1u32 << dev.bits_stored) - 1) as f64;
    px.iter()
        .map(|&b| {
            let v = img.acq.lo + b as f64 * (img.acq.hi - img.acq.lo);
            let v = if dev.monochrome1 { maxv - v } else { v };
            v.round().clamp(0.0, maxv) as u16
        })
        .collect()
}

/// What a DICOM-to-JPG converter shows: modality LUT, linear VOI window (PS3.3 C.11.2.1.2.1),
/// inversion for MONOCHROME1, 8 bits.
pub fn display_8bit(stored: &[u16], img: &ImagePlan, dev: &Device) -> Vec<u8> {
    let (c, w) = (img.acq.window_center, img.acq.window_width);
    stored
        .iter()
        .map(|&s| {
            let x = s as f64 * dev.slope + dev.intercept;
            let y = if x <= c - 0.5 - (w - 1.0) / 2.0 {
                0.0
            } else if x > c - 0.5 + (w - 1.0) / 2.0 {
                255.0
            } else {
                ((x - (c - 0.5)) / (w - 1.0) + 0.5) * 255.0
            };
            let y = if dev.monochrome1 { 255.0 - y } else { y };
            y.round().clamp(0.0, 255.0) as u8
        })
        .collect()
}

/// Everything the header needs besides the plan entries.
pub struct HeaderContext<'a> {
    /// Generator seed (for UIDs).
    pub seed: u64,
    /// The image.
    pub img: &'a ImagePlan,
    /// Its study.
    pub study: &'a Study,
    /// Study index (for study/series UIDs).
    pub study_index: usize,
    /// Its patient.
    pub patient: &'a Patient,
    /// Its device.
    pub device: &'a Device,
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
}

/// Write a DICOM file with explicit VR little endian encoding.
pub fn write_dicom(path: &Path, ctx: &HeaderContext<'_>, stored: Vec<u16>) -> Result<()> {
    let HeaderContext {
        seed,
        img,
        study,
        study_index,
        patient,
        device,
        rows,
        cols,
    } = *ctx;
    let age = study.date.y - patient.birth_year;
    let laterality = if img.faults.wrong_header_laterality {
        img.side.other()
    } else {
        img.side
    };
    let spacing = format!("{:.4}", 240.0 / rows as f64);
    let s = |tag, vr, v: String| DataElement::new(tag, vr, PrimitiveValue::from(v));
    let u16e = |tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
    let sop_instance = uid(seed, 1, img.stream);
    let file_number: String = img.file.trim_start_matches("FILE").to_string();
    let obj = InMemDicomObject::from_element_iter([
        s(tags::IMAGE_TYPE, VR::CS, "ORIGINAL\\PRIMARY".into()),
        s(
            tags::SOP_CLASS_UID,
            VR::UI,
            uids::DIGITAL_MAMMOGRAPHY_X_RAY_IMAGE_STORAGE_FOR_PRESENTATION.into(),
        ),
        s(tags::SOP_INSTANCE_UID, VR::UI, sop_instance),
        s(tags::STUDY_DATE, VR::DA, study.date.compact()),
        s(tags::CONTENT_DATE, VR::DA, study.date.compact()),
        s(tags::STUDY_TIME, VR::TM, study.time.compact()),
        s(tags::CONTENT_TIME, VR::TM, study.time.compact()),
        s(tags::ACCESSION_NUMBER, VR::SH, study.accession.clone()),
        s(tags::MODALITY, VR::CS, "MG".into()),
        s(
            tags::PRESENTATION_INTENT_TYPE,
            VR::CS,
            "FOR PRESENTATION".into(),
        ),
        s(tags::MANUFACTURER, VR::LO, device.manufacturer.into()),
        s(tags::STUDY_DESCRIPTION, VR::LO, study.description.into()),
        s(tags::MANUFACTURER_MODEL_NAME, VR::LO, device.model.into()),
        s(
            tags::PATIENT_NAME,
            VR::PN,
            format!("SYNTHETIC^{}", patient.pseudonym),
        ),
        s(tags::PATIENT_ID, VR::LO, patient.id.clone()),
        s(tags::PATIENT_BIRTH_DATE, VR::DA, patient.birth_date()),
        s(tags::PATIENT_SEX, VR::CS, "F".into()),
        s(tags::PATIENT_AGE, VR::AS, format!("{age:03}Y")),
        s(tags::PATIENT_IDENTITY_REMOVED, VR::CS, "YES".into()),
        s(
            tags::DEIDENTIFICATION_METHOD,
            VR::LO,
            "synthetic: generated by mammolab".into(),
        ),
        s(tags::BODY_PART_EXAMINED, VR::CS, "BREAST".into()),
        s(
            tags::BODY_PART_THICKNESS,
            VR::DS,
            format!("{:.1}", img.acq.thickness),
        ),
        s(tags::KVP, VR::DS, format!("{}", img.acq.kvp)),
        s(tags::EXPOSURE, VR::IS, img.acq.mas.to_string()),
        s(
            tags::COMPRESSION_FORCE,
            VR::DS,
            format!("{:.1}", img.acq.force),
        ),
        s(tags::VIEW_POSITION, VR::CS, img.view.code().into()),
        s(
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            uid(seed, 2, study_index as u64),
        ),
        s(tags::SERIES_INSTANCE_UID, VR::UI, uid(seed, 3, img.stream)),
        s(tags::STUDY_ID, VR::SH, format!("{}", study_index + 1)),
        s(tags::SERIES_NUMBER, VR::IS, "1".into()),
        s(
            tags::INSTANCE_NUMBER,
            VR::IS,
            file_number.trim_start_matches('0').to_string(),
        ),
        s(tags::IMAGE_LATERALITY, VR::CS, laterality.code().into()),
        u16e(tags::SAMPLES_PER_PIXEL, 1),
        s(
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            if device.monochrome1 {
                "MONOCHROME1"
            } else {
                "MONOCHROME2"
            }
            .into(),
        ),
        u16e(tags::ROWS, rows as u16),
        u16e(tags::COLUMNS, cols as u16),
        s(tags::PIXEL_SPACING, VR::DS, format!("{spacing}\\{spacing}")),
        u16e(tags::BITS_ALLOCATED, 16),
        u16e(tags::BITS_STORED, device.bits_stored),
        u16e(tags::HIGH_BIT, device.bits_stored - 1),
        u16e(tags::PIXEL_REPRESENTATION, 0),
        s(tags::BURNED_IN_ANNOTATION, VR::CS, "NO".into()),
        s(
            tags::WINDOW_CENTER,
            VR::DS,
            format!("{}", img.acq.window_center),
        ),
        s(
            tags::WINDOW_WIDTH,
            VR::DS,
            format!("{}", img.acq.window_width),
        ),
        s(
            tags::RESCALE_INTERCEPT,
            VR::DS,
            format!("{}", device.intercept),
        ),
        s(tags::RESCALE_SLOPE, VR::DS, format!("{}", device.slope)),
        s(tags::RESCALE_TYPE, VR::LO, "US".into()),
        DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U16(SmallVec::from_vec(stored)),
        ),
    ]);
    save(obj, uids::EXPLICIT_VR_LITTLE_ENDIAN, path)
}

/// Write `obj` as a DICOM file (preamble, file meta with mammolab's implementation UID, data
/// set) in the given transfer syntax; one write for the whole file.
pub fn save(obj: InMemDicomObject, transfer_syntax: &str, path: &Path) -> Result<()> {
    let err = |message: String| Error::DicomWrite {
        path: path.to_path_buf(),
        message,
    };
    let file = obj
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax(transfer_syntax)
                .implementation_class_uid(IMPLEMENTATION_CLASS_UID)
                .implementation_version_name(concat!("MAMMOLAB_", env!("CARGO_PKG_VERSION"))),
        )
        .map_err(|e| err(e.to_string()))?;
    let mut bytes = vec![];
    file.write_all(&mut bytes).map_err(|e| err(e.to_string()))?;
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

/// Write the 8-bit JPG export (grayscale, quality 90).
pub fn write_jpg(path: &Path, pixels: &[u8], rows: usize, cols: usize) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut out = std::io::BufWriter::new(file);
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90);
    image::ImageEncoder::write_image(
        enc,
        pixels,
        cols as u32,
        rows as u32,
        image::ExtendedColorType::L8,
    )
    .map_err(|source| Error::ImageWrite {
        path: path.to_path_buf(),
        source,
    })
}
