//! Writing the twin's files: the case-description CSVs and each case's DICOM files.

use std::path::Path;

use dicom_core::value::PrimitiveValue;
use dicom_core::{smallvec::SmallVec, DataElement, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;

use super::plan::{Abnormality, CbisSpec, Image, Series, CROP_SERIES, FULL_SERIES, ROI_SERIES};
use crate::error::Result;

/// Write one CSV: the header, then a row per abnormality (RFC 4180 quoting where a cell
/// holds a comma, a quote or a line break).
pub(super) fn csv(path: &Path, columns: &[&str], rows: &[(&Image, &Abnormality)]) -> Result<()> {
    let mut text = String::new();
    let line = |text: &mut String, cells: &mut dyn Iterator<Item = String>| {
        let cells: Vec<String> = cells.map(|c| quote(&c)).collect();
        text.push_str(&cells.join(","));
        text.push('\n');
    };
    line(&mut text, &mut columns.iter().map(|c| c.to_string()));
    for (img, a) in rows {
        line(&mut text, &mut img.csv_row(a).into_iter());
    }
    crate::outlock::write_atomic(path, text.as_bytes())
}

fn quote(cell: &str) -> String {
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}

/// Render the film of `img` and write its full mammogram and each abnormality's mask and
/// crop; returns the masks' bounding boxes in abnormality order.
pub(super) fn case(out: &Path, img: &Image, spec: &CbisSpec, seed: u64) -> Result<Vec<[usize; 4]>> {
    let super::film::Film { stored, masks } = super::render(img, spec, seed);
    let (h, w) = (spec.image_rows, spec.image_cols);
    let header = Header {
        patient: img.case(),
        series: &img.full,
        series_uid: &img.full.series_uid,
        description: FULL_SERIES,
        instance: 1,
        laterality: if img.right { "R" } else { "L" },
        orientation: img.view.code(),
        sop: sop_uid(seed, img.stream, 0),
    };
    let mut boxes = vec![];
    for (a, mask) in img.abnormalities.iter().zip(masks) {
        boxes.push(mask.bbox);
        let sop = |k: u64| sop_uid(seed, img.stream, 2 * a.id as u64 - 1 + k);
        let mask_header = Header {
            patient: img.roi_case(a),
            series: &a.roi,
            series_uid: &a.roi.series_uid,
            description: ROI_SERIES,
            instance: if a.mask_first || a.crop_series.is_some() {
                1
            } else {
                2
            },
            sop: sop(0),
            ..header
        };
        let [x0, y0, x1, y1] = crop_box(mask.bbox, w, h);
        let crop: Vec<u16> = (y0..y1)
            .flat_map(|y| stored[y * w + x0..y * w + x1].iter().copied())
            .collect();
        let mask_path = out.join(img.mask_path(a));
        write_dicom(&mask_path, &mask_header, h, w, Pixels::U8(mask.pixels))?;
        let crop_header = match &a.crop_series {
            Some(uid) => Header {
                series_uid: uid,
                description: CROP_SERIES,
                instance: 1,
                sop: sop(1),
                ..mask_header
            },
            None => Header {
                instance: 3 - mask_header.instance,
                sop: sop(1),
                ..mask_header
            },
        };
        let crop_path = out.join(img.crop_path(a));
        write_dicom(
            &crop_path,
            &crop_header,
            y1 - y0,
            x1 - x0,
            Pixels::U16(crop),
        )?;
    }
    // Last, so the film's pixels move into the file instead of being copied.
    write_dicom(
        &out.join(img.full_path()),
        &header,
        h,
        w,
        Pixels::U16(stored),
    )?;
    Ok(boxes)
}

/// The crop of a mask's box: the box with a margin of a tenth of its size, an even width
/// (Pixel Data has even length), inside the image.
fn crop_box([x0, y0, x1, y1]: [usize; 4], w: usize, h: usize) -> [usize; 4] {
    let mx = (x1 - x0) / 10 + 1;
    let my = (y1 - y0) / 10 + 1;
    let (x0, x1) = (x0.saturating_sub(mx), (x1 + mx).min(w));
    let (y0, y1) = (y0.saturating_sub(my), (y1 + my).min(h));
    let x1 = if (x1 - x0) % 2 == 1 {
        if x1 < w {
            x1 + 1
        } else {
            x1 - 1
        }
    } else {
        x1
    };
    [x0, y0, x1, y1]
}

fn sop_uid(seed: u64, stream: u64, k: u64) -> String {
    super::super::dicom::uid(seed, 0xC3, stream * 64 + k)
}

#[derive(Clone)]
struct Header<'a> {
    patient: String,
    series: &'a Series,
    series_uid: &'a str,
    description: &'static str,
    instance: u32,
    laterality: &'static str,
    orientation: &'static str,
    sop: String,
}

enum Pixels {
    U16(Vec<u16>),
    U8(Vec<u8>),
}

/// Write one file (and its folders) as the TCIA download stores it: Implicit VR Little
/// Endian, Secondary Capture, the case folder as patient, no birth date or sex.
fn write_dicom(
    path: &Path,
    hd: &Header<'_>,
    rows: usize,
    cols: usize,
    pixels: Pixels,
) -> Result<()> {
    let s = |tag, vr, v: &str| DataElement::new(tag, vr, PrimitiveValue::from(v.to_string()));
    let us = |tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
    let date = hd.series.date.compact();
    let time = hd.series.time.compact();
    let (bits, lo, hi, data) = match pixels {
        Pixels::U16(v) => {
            let lo = v.iter().copied().min().unwrap_or(0);
            let hi = v.iter().copied().max().unwrap_or(0);
            (16u16, lo, hi, PrimitiveValue::U16(SmallVec::from_vec(v)))
        }
        Pixels::U8(v) => {
            let lo = v.iter().copied().min().unwrap_or(0) as u16;
            let hi = v.iter().copied().max().unwrap_or(0) as u16;
            (8u16, lo, hi, PrimitiveValue::U8(SmallVec::from_vec(v)))
        }
    };
    let obj = InMemDicomObject::from_element_iter([
        s(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 100"),
        s(
            tags::SOP_CLASS_UID,
            VR::UI,
            uids::SECONDARY_CAPTURE_IMAGE_STORAGE,
        ),
        s(tags::SOP_INSTANCE_UID, VR::UI, &hd.sop),
        s(tags::STUDY_DATE, VR::DA, &date),
        s(tags::CONTENT_DATE, VR::DA, &date),
        s(tags::STUDY_TIME, VR::TM, &time),
        s(tags::CONTENT_TIME, VR::TM, &time),
        s(tags::ACCESSION_NUMBER, VR::SH, ""),
        s(tags::MODALITY, VR::CS, "MG"),
        s(tags::CONVERSION_TYPE, VR::CS, "WSD"),
        s(tags::REFERRING_PHYSICIAN_NAME, VR::PN, ""),
        s(tags::SERIES_DESCRIPTION, VR::LO, hd.description),
        s(tags::PATIENT_NAME, VR::PN, &hd.patient),
        s(tags::PATIENT_ID, VR::LO, &hd.patient),
        s(tags::PATIENT_BIRTH_DATE, VR::DA, ""),
        s(tags::PATIENT_SEX, VR::CS, ""),
        // TCIA's de-identification (CTP) leaves a private block naming the collection.
        s(Tag(0x0013, 0x0010), VR::LO, "CTP"),
        s(Tag(0x0013, 0x1010), VR::LO, "CBIS-DDSM "),
        s(tags::BODY_PART_EXAMINED, VR::CS, "BREAST"),
        s(tags::STUDY_INSTANCE_UID, VR::UI, &hd.series.study_uid),
        s(tags::SERIES_INSTANCE_UID, VR::UI, hd.series_uid),
        s(tags::STUDY_ID, VR::SH, "DDSM"),
        s(tags::SERIES_NUMBER, VR::IS, "1"),
        s(tags::INSTANCE_NUMBER, VR::IS, &hd.instance.to_string()),
        s(tags::PATIENT_ORIENTATION, VR::CS, hd.orientation),
        s(tags::LATERALITY, VR::CS, hd.laterality),
        us(tags::SAMPLES_PER_PIXEL, 1),
        s(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
        us(tags::ROWS, rows as u16),
        us(tags::COLUMNS, cols as u16),
        us(tags::BITS_ALLOCATED, bits),
        us(tags::BITS_STORED, bits),
        us(tags::HIGH_BIT, bits - 1),
        us(tags::PIXEL_REPRESENTATION, 0),
        us(tags::SMALLEST_IMAGE_PIXEL_VALUE, lo),
        us(tags::LARGEST_IMAGE_PIXEL_VALUE, hi),
        DataElement::new(
            tags::PIXEL_DATA,
            if bits == 16 { VR::OW } else { VR::OB },
            data,
        ),
    ]);
    super::mkdir(path.parent().expect("a file path has a folder"))?;
    super::super::dicom::save(obj, uids::IMPLICIT_VR_LITTLE_ENDIAN, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_follows_rfc_4180() {
        assert_eq!(quote("P_00001"), "P_00001");
        assert_eq!(quote("a/b.dcm\n"), "\"a/b.dcm\n\"");
        assert_eq!(quote("x,\"y\""), "\"x,\"\"y\"\"\"");
    }

    #[test]
    fn crop_boxes_stay_inside_with_even_width() {
        for (b, w, h) in [
            ([0, 0, 5, 5], 40, 40),
            ([30, 30, 40, 40], 40, 40),
            ([3, 4, 10, 9], 11, 12),
        ] {
            let [x0, y0, x1, y1] = crop_box(b, w, h);
            assert!(x0 <= b[0] && y0 <= b[1] && x1 <= w && y1 <= h && x0 < x1 && y0 < y1);
            assert_eq!((x1 - x0) % 2, 0);
        }
    }
}
