//! The transfer syntax UIDs (DICOM PS3.6 Annex A) that mammography files use, each named
//! once: the pixel reader ([`super::dicom`]) chooses its decoder by them and the length
//! walk that runs before it (`dicom_bounds`) its byte order and VR rules.

/// Implicit VR little endian, DICOM's default.
pub const IMPLICIT_LE: &str = "1.2.840.10008.1.2";
/// Explicit VR little endian.
pub const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
/// Deflated explicit VR little endian: the data set after the meta group is a raw deflate
/// stream.
pub const DEFLATED: &str = "1.2.840.10008.1.2.1.99";
/// Explicit VR big endian (retired, still met in old archives).
pub const EXPLICIT_BE: &str = "1.2.840.10008.1.2.2";
/// JPEG baseline (process 1), 8 bits.
pub const JPEG_BASELINE: &str = "1.2.840.10008.1.2.4.50";
/// JPEG extended (processes 2 and 4), 8 or 12 bits.
pub const JPEG_EXTENDED: &str = "1.2.840.10008.1.2.4.51";
/// JPEG lossless (process 14).
pub const JPEG_LOSSLESS: &str = "1.2.840.10008.1.2.4.57";
/// JPEG lossless, first-order prediction (process 14, selection value 1).
pub const JPEG_LOSSLESS_SV1: &str = "1.2.840.10008.1.2.4.70";
/// JPEG-LS lossless.
pub const JPEG_LS_LOSSLESS: &str = "1.2.840.10008.1.2.4.80";
/// JPEG-LS near-lossless.
pub const JPEG_LS_NEAR_LOSSLESS: &str = "1.2.840.10008.1.2.4.81";
/// JPEG 2000, lossless only.
pub const JPEG_2000_LOSSLESS: &str = "1.2.840.10008.1.2.4.90";
/// JPEG 2000, lossless or lossy.
pub const JPEG_2000: &str = "1.2.840.10008.1.2.4.91";
/// RLE lossless.
pub const RLE_LOSSLESS: &str = "1.2.840.10008.1.2.5";

/// The uncompressed transfer syntaxes whose pixel data's size the header gives (the
/// deflated one is left out: its size is known only after inflating).
pub const NATIVE: [&str; 3] = [IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE];

/// A transfer syntax's name as PS3.6 gives it, shortened (`JPEG 2000 lossless`), for the
/// UIDs above; `None` for others.
pub fn name(uid: &str) -> Option<&'static str> {
    Some(match uid {
        IMPLICIT_LE => "implicit VR little endian",
        EXPLICIT_LE => "explicit VR little endian",
        DEFLATED => "deflated explicit VR little endian",
        EXPLICIT_BE => "explicit VR big endian",
        JPEG_BASELINE => "JPEG baseline",
        JPEG_EXTENDED => "JPEG extended",
        JPEG_LOSSLESS => "JPEG lossless",
        JPEG_LOSSLESS_SV1 => "JPEG lossless SV1",
        JPEG_LS_LOSSLESS => "JPEG-LS lossless",
        JPEG_LS_NEAR_LOSSLESS => "JPEG-LS near-lossless",
        JPEG_2000_LOSSLESS => "JPEG 2000 lossless",
        JPEG_2000 => "JPEG 2000",
        RLE_LOSSLESS => "RLE lossless",
        _ => return None,
    })
}
