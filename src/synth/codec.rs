//! Lossless encoders for the compressed transfer syntaxes a twin writes, and the encapsulated
//! pixel data element that carries their output.
//!
//! - [`jpeg_lossless_sv1`]: JPEG lossless, non-hierarchical, first-order prediction (ITU T.81
//!   process 14, selection value 1), DICOM's `1.2.840.10008.1.2.4.70`. Written here: one
//!   optimal Huffman table (T.81 Annex K.2), no restart intervals.
//! - [`j2k_lossless`]: a JPEG 2000 codestream with the reversible 5/3 wavelet and one quality
//!   layer, DICOM's `1.2.840.10008.1.2.4.90`, encoded by OpenJPEG (its Rust port, `openjp2`,
//!   the decoder dicom-rs already uses).
//!
//! Both are lossless, so the stored values a reader decodes are the ones passed in; the tests
//! decode them again with dicom-rs here and with pydicom (pylibjpeg, Pillow) in
//! `tests/python/test_rsna_twin.py`.

use dicom_core::value::{PixelFragmentSequence, Value};
use dicom_core::{DataElement, Length, VR};
use dicom_dictionary_std::tags;
use dicom_object::mem::InMemElement;

/// `1.2.840.10008.1.2.4.70`: JPEG Lossless, Non-Hierarchical, First-Order Prediction.
pub const JPEG_LOSSLESS_SV1: &str = "1.2.840.10008.1.2.4.70";
/// `1.2.840.10008.1.2.4.90`: JPEG 2000 Image Compression (Lossless Only).
pub const JPEG_2000_LOSSLESS: &str = "1.2.840.10008.1.2.4.90";

/// The pixel data element of one frame in an encapsulated transfer syntax: an empty basic
/// offset table, then the frame as one fragment padded to an even length.
pub fn encapsulated_pixel_data(mut frame: Vec<u8>) -> InMemElement {
    if frame.len() % 2 == 1 {
        frame.push(0);
    }
    let value: Value<_, _> = PixelFragmentSequence::new(Vec::<u32>::new(), vec![frame]).into();
    DataElement::new_with_len(tags::PIXEL_DATA, VR::OB, Length::UNDEFINED, value)
}

/// Encode one grayscale frame (`rows * cols` samples, row-major, each below
/// `2^precision`) as a JPEG lossless SV1 stream.
pub fn jpeg_lossless_sv1(samples: &[u16], cols: usize, rows: usize, precision: u8) -> Vec<u8> {
    assert_eq!(samples.len(), rows * cols, "samples must fill the frame");
    assert!((2..=16).contains(&precision), "precision 2 to 16 bits");
    // Differences from the prediction (left neighbour; above for a row's first sample;
    // 2^(P-1) for the first sample), modulo 2^16 as T.81 H.1.2.1 defines them.
    let at = |r: usize, c: usize| i32::from(samples[r * cols + c]);
    let mut diffs = Vec::with_capacity(samples.len());
    for r in 0..rows {
        for c in 0..cols {
            let prediction = match (r, c) {
                (0, 0) => 1 << (precision - 1),
                (_, 0) => at(r - 1, 0),
                _ => at(r, c - 1),
            };
            let d = (at(r, c) - prediction).rem_euclid(1 << 16);
            diffs.push(if d > 32768 { d - 65536 } else { d });
        }
    }
    let category = |d: i32| {
        if d == 0 {
            0
        } else {
            32 - d.unsigned_abs().leading_zeros()
        }
    };
    let mut freq = [0u64; 17];
    for &d in &diffs {
        freq[category(d) as usize] += 1;
    }
    let (bits, values) = huffman_table(&freq);
    let mut codes = [(0u32, 0u8); 17];
    let mut code = 0u32;
    let mut k = 0;
    for (len, &n) in bits.iter().enumerate() {
        for _ in 0..n {
            codes[values[k] as usize] = (code, len as u8 + 1);
            code += 1;
            k += 1;
        }
        code <<= 1;
    }

    let mut out = vec![0xFF, 0xD8];
    // SOF3: precision, lines, samples per line, one component (id 1, 1x1 sampling).
    let (r16, c16) = (rows as u16, cols as u16);
    out.extend([0xFF, 0xC3, 0, 11, precision]);
    out.extend(r16.to_be_bytes());
    out.extend(c16.to_be_bytes());
    out.extend([1, 1, 0x11, 0]);
    // DHT: DC table 0.
    let dht_len = (2 + 1 + 16 + values.len()) as u16;
    out.extend([0xFF, 0xC4]);
    out.extend(dht_len.to_be_bytes());
    out.push(0x00);
    out.extend(bits);
    out.extend(&values);
    // SOS: component 1 with table 0; Ss = 1 (the predictor), Se = 0, Ah = Al = 0.
    out.extend([0xFF, 0xDA, 0, 8, 1, 1, 0x00, 1, 0, 0]);
    let mut w = BitWriter { out, acc: 0, n: 0 };
    for &d in &diffs {
        let s = category(d);
        let (code, len) = codes[s as usize];
        w.put(code, u32::from(len));
        if (1..16).contains(&s) {
            let extra = if d > 0 { d } else { d - 1 } as u32 & ((1 << s) - 1);
            w.put(extra, s);
        }
    }
    let mut out = w.finish();
    out.extend([0xFF, 0xD9]);
    out
}

/// Code lengths for `freq` limited to 16 bits (T.81 Annex K.2, as libjpeg builds an optimal
/// table): the count of codes of each length and the symbols in code order.
fn huffman_table(freq: &[u64; 17]) -> ([u8; 16], Vec<u8>) {
    // Symbol 17 is the reserved one that keeps any code from being all ones.
    let mut f: Vec<u64> = freq.iter().copied().chain([1]).collect();
    let mut size = [0usize; 18];
    let mut others = [usize::MAX; 18];
    loop {
        let least = |skip: usize| -> Option<usize> {
            (0..18)
                .filter(|&i| f[i] > 0 && i != skip)
                .min_by_key(|&i| (f[i], std::cmp::Reverse(i)))
        };
        let Some(v1) = least(usize::MAX) else { break };
        let Some(v2) = least(v1) else { break };
        f[v1] += f[v2];
        f[v2] = 0;
        for start in [v1, v2] {
            let mut v = start;
            size[v] += 1;
            while others[v] != usize::MAX {
                v = others[v];
                size[v] += 1;
            }
        }
        let mut v = v1;
        while others[v] != usize::MAX {
            v = others[v];
        }
        others[v] = v2;
    }
    let mut bits = [0usize; 33];
    for &s in &size {
        if s > 0 {
            bits[s] += 1;
        }
    }
    for i in (17..=32).rev() {
        while bits[i] > 0 {
            let mut j = i - 2;
            while bits[j] == 0 {
                j -= 1;
            }
            bits[i] -= 2;
            bits[i - 1] += 1;
            bits[j + 1] += 2;
            bits[j] -= 1;
        }
    }
    let mut longest = 16;
    while bits[longest] == 0 {
        longest -= 1;
    }
    bits[longest] -= 1;
    let mut values = vec![];
    for len in 1..=32 {
        values.extend((0..17u8).filter(|&s| size[s as usize] == len));
    }
    let mut counts = [0u8; 16];
    for (c, &b) in counts.iter_mut().zip(&bits[1..=16]) {
        *c = b as u8;
    }
    (counts, values)
}

/// Entropy-coded bits, most significant first, with a zero byte stuffed after each 0xFF.
struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl BitWriter {
    fn put(&mut self, value: u32, len: u32) {
        self.acc = (self.acc << len) | u64::from(value & ((1u64 << len) - 1) as u32);
        self.n += len;
        while self.n >= 8 {
            self.n -= 8;
            let byte = (self.acc >> self.n) as u8;
            self.out.push(byte);
            if byte == 0xFF {
                self.out.push(0);
            }
        }
        self.acc &= (1u64 << self.n) - 1;
    }

    /// Pad the last byte with ones (T.81 F.1.2.3).
    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            let pad = 8 - self.n;
            self.put((1 << pad) - 1, pad);
        }
        self.out
    }
}

/// Encode one grayscale frame as a lossless JPEG 2000 codestream (reversible 5/3 wavelet,
/// six resolutions, one layer), or OpenJPEG's refusal as text.
pub fn j2k_lossless(
    samples: &[u16],
    cols: usize,
    rows: usize,
    precision: u8,
) -> std::result::Result<Vec<u8>, String> {
    use openjp2::openjpeg::*;
    use openjp2::{opj_image, opj_image_comptparm, OPJ_CLRSPC_GRAY, OPJ_CODEC_J2K};
    assert_eq!(samples.len(), rows * cols, "samples must fill the frame");
    let param = opj_image_comptparm {
        dx: 1,
        dy: 1,
        w: cols as u32,
        h: rows as u32,
        x0: 0,
        y0: 0,
        prec: u32::from(precision),
        bpp: u32::from(precision),
        sgnd: 0,
    };
    let mut image = opj_image::create(&[param], OPJ_CLRSPC_GRAY)
        .ok_or("OpenJPEG could not allocate the image")?;
    image.x1 = cols as u32;
    image.y1 = rows as u32;
    let plane = image
        .comps_data_mut_iter()
        .and_then(|mut it| it.next())
        .ok_or("OpenJPEG image has no component")?;
    for (d, &s) in plane.iter_mut().zip(samples) {
        *d = i32::from(s);
    }
    let mut params = openjp2::opj_cparameters_t::default();
    let mut out: Box<std::io::Cursor<Vec<u8>>> = Box::default();
    // SAFETY: every pointer handed to OpenJPEG below lives until the codec and the stream
    // are destroyed at the end of this block; the stream's user data is `out`, a boxed
    // cursor that outlives the stream, and no callback frees it.
    let ok = unsafe {
        opj_set_default_encoder_parameters(&mut params);
        params.tcp_numlayers = 1;
        params.tcp_rates[0] = 0.0;
        params.cp_disto_alloc = 1;
        params.irreversible = 0;
        let codec = opj_create_compress(OPJ_CODEC_J2K);
        let stream = opj_stream_create(1 << 16, 0);
        opj_stream_set_user_data(
            stream,
            (&mut *out as *mut std::io::Cursor<Vec<u8>>).cast(),
            None,
        );
        opj_stream_set_write_function(stream, Some(write_to_cursor));
        opj_stream_set_skip_function(stream, Some(skip_in_cursor));
        opj_stream_set_seek_function(stream, Some(seek_in_cursor));
        let image: *mut opj_image = &mut *image;
        let ok = opj_setup_encoder(codec, &mut params, image) == 1
            && opj_start_compress(codec, image, stream) == 1
            && opj_encode(codec, stream) == 1
            && opj_end_compress(codec, stream) == 1;
        opj_stream_destroy(stream);
        opj_destroy_codec(codec);
        ok
    };
    if !ok {
        return Err(format!(
            "OpenJPEG refused a {cols}x{rows} {precision}-bit frame"
        ));
    }
    Ok(out.into_inner())
}

/// OpenJPEG's write callback: append to the cursor.
unsafe extern "C" fn write_to_cursor(
    buf: *mut std::ffi::c_void,
    len: usize,
    user: *mut std::ffi::c_void,
) -> usize {
    use std::io::Write;
    // SAFETY: `user` is the cursor set in `j2k_lossless`; `buf` holds `len` bytes.
    let (cursor, bytes) = unsafe {
        (
            &mut *user.cast::<std::io::Cursor<Vec<u8>>>(),
            std::slice::from_raw_parts(buf.cast::<u8>(), len),
        )
    };
    match cursor.write_all(bytes) {
        Ok(()) => len,
        Err(_) => usize::MAX,
    }
}

/// OpenJPEG's skip callback: move forward (or back) by `n` bytes.
unsafe extern "C" fn skip_in_cursor(n: i64, user: *mut std::ffi::c_void) -> i64 {
    // SAFETY: `user` is the cursor set in `j2k_lossless`.
    let cursor = unsafe { &mut *user.cast::<std::io::Cursor<Vec<u8>>>() };
    let to = cursor.position() as i64 + n;
    if to < 0 {
        return -1;
    }
    cursor.set_position(to as u64);
    n
}

/// OpenJPEG's seek callback: go to byte `at`.
unsafe extern "C" fn seek_in_cursor(at: i64, user: *mut std::ffi::c_void) -> i32 {
    // SAFETY: `user` is the cursor set in `j2k_lossless`.
    let cursor = unsafe { &mut *user.cast::<std::io::Cursor<Vec<u8>>>() };
    if at < 0 {
        return 0;
    }
    cursor.set_position(at as u64);
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huffman_lengths_fit_16_bits_and_leave_the_all_ones_code_free() {
        // Geometric frequencies force long codes before the limit.
        let mut freq = [0u64; 17];
        for (i, f) in freq.iter_mut().enumerate() {
            *f = 1 << (40 - 2 * i as u32).min(40);
        }
        let (bits, values) = huffman_table(&freq);
        assert_eq!(values.len(), 17);
        assert_eq!(bits.iter().map(|&b| b as usize).sum::<usize>(), 17);
        // Kraft sum strictly below 1: the all-ones code of the longest length is unused.
        let kraft: f64 = bits
            .iter()
            .enumerate()
            .map(|(l, &n)| n as f64 / 2f64.powi(l as i32 + 1))
            .sum();
        assert!(kraft < 1.0, "{kraft}");
    }

    #[test]
    fn one_symbol_gets_a_one_bit_code() {
        let mut freq = [0u64; 17];
        freq[0] = 100;
        let (bits, values) = huffman_table(&freq);
        assert_eq!((bits[0], values), (1, vec![0]));
    }

    /// A 12-bit frame with smooth regions, edges, noise and both extremes.
    fn frame(cols: usize, rows: usize, precision: u8) -> Vec<u16> {
        let max = (1u32 << precision) - 1;
        let mut rng = crate::rng::Rng::derive(7, 11);
        (0..rows * cols)
            .map(|i| {
                let (r, c) = (i / cols, i % cols);
                let v = match (r / 8 + c / 8) % 4 {
                    0 => 0,
                    1 => max,
                    2 => (r * 37 + c * 11) as u32 % (max + 1),
                    _ => rng.range_i64(0, i64::from(max)) as u32,
                };
                v as u16
            })
            .collect()
    }

    fn round_trip(ts: &str, precision: u8, encode: impl Fn(&[u16], usize, usize) -> Vec<u8>) {
        use dicom_core::value::PrimitiveValue;
        use dicom_dictionary_std::uids;
        use dicom_object::InMemDicomObject;
        let (cols, rows) = (77, 64);
        let samples = frame(cols, rows, precision);
        let s = |tag, vr, v: &str| DataElement::new(tag, vr, PrimitiveValue::from(v.to_string()));
        let us = |tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
        let obj = InMemDicomObject::from_element_iter([
            s(
                tags::SOP_CLASS_UID,
                VR::UI,
                uids::DIGITAL_MAMMOGRAPHY_X_RAY_IMAGE_STORAGE_FOR_PRESENTATION,
            ),
            s(tags::SOP_INSTANCE_UID, VR::UI, "2.25.1"),
            us(tags::SAMPLES_PER_PIXEL, 1),
            s(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
            us(tags::ROWS, rows as u16),
            us(tags::COLUMNS, cols as u16),
            us(tags::BITS_ALLOCATED, 16),
            us(tags::BITS_STORED, u16::from(precision)),
            us(tags::HIGH_BIT, u16::from(precision) - 1),
            us(tags::PIXEL_REPRESENTATION, 0),
            encapsulated_pixel_data(encode(&samples, cols, rows)),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.dcm");
        crate::synth::dicom::save(obj, ts, &path).unwrap();
        let image = crate::ingest::dicom::read_image(&path, 0).unwrap();
        assert_eq!(image.info.transfer_syntax, ts);
        let expected: Vec<f64> = samples.iter().map(|&v| f64::from(v)).collect();
        assert!(
            image.stored == expected,
            "{ts} at {precision} bits is not lossless"
        );
    }

    #[test]
    fn jpeg_lossless_frames_decode_to_the_stored_values_in_dicom_rs() {
        for precision in [12, 16] {
            round_trip(JPEG_LOSSLESS_SV1, precision, |s, c, r| {
                jpeg_lossless_sv1(s, c, r, precision)
            });
        }
    }

    #[test]
    fn jpeg_2000_frames_decode_to_the_stored_values_in_dicom_rs() {
        for precision in [12, 16] {
            round_trip(JPEG_2000_LOSSLESS, precision, |s, c, r| {
                j2k_lossless(s, c, r, precision).unwrap()
            });
        }
    }
}
