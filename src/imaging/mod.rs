//! Pixel math with no I/O: the DICOM display pipeline, resizing, normalisation, hashing.
//!
//! The DICOM pipeline follows PS3.4 / PS3.3 C.11 in this order:
//!
//! 1. stored values (what pydicom's `pixel_array` returns),
//! 2. modality LUT: `value * RescaleSlope + RescaleIntercept`,
//! 3. VOI: window centre/width (LINEAR, LINEAR_EXACT or SIGMOID) or a VOI LUT table, or
//!    the full range of the image when the file has neither,
//! 4. MONOCHROME1 inverted so that bright always means dense tissue.
//!
//! Output is `f32` in [0, 1], row-major: `[height, width]`.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A single-channel image of `f32` values, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Gray {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `height * width` values.
    pub pixels: Vec<f32>,
}

/// How stored values become display values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Voi {
    /// Window centre and width with the DICOM LINEAR function (the default).
    Linear {
        /// Window centre.
        center: f64,
        /// Window width (> 0; values <= 1 are treated as 1).
        width: f64,
    },
    /// LINEAR_EXACT: `(x - (c - w/2)) / w` without the DICOM half-pixel offsets.
    LinearExact {
        /// Window centre.
        center: f64,
        /// Window width.
        width: f64,
    },
    /// SIGMOID: `1 / (1 + exp(-4 (x - c) / w))`.
    Sigmoid {
        /// Window centre.
        center: f64,
        /// Window width.
        width: f64,
    },
    /// A VOI LUT: values at or below `first` map to `table[0]`, beyond the end to the last.
    Table {
        /// Input value of the first entry.
        first: f64,
        /// Output values.
        table: Vec<f64>,
        /// Largest possible output (`2^bits - 1`).
        max: f64,
    },
    /// The image's own minimum to maximum (for files without a window).
    MinMax,
}

/// Modality LUT parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rescale {
    /// Rescale slope (1 when absent).
    pub slope: f64,
    /// Rescale intercept (0 when absent).
    pub intercept: f64,
}

impl Default for Rescale {
    fn default() -> Self {
        Self {
            slope: 1.0,
            intercept: 0.0,
        }
    }
}

/// Rescale, apply the VOI and (for MONOCHROME1) invert: the display image in [0, 1].
///
/// Stored values are whole numbers (they come from integer samples); when they span at most
/// [`DISPLAY_TABLE_MAX`] values the map is computed once per value in their range and each
/// pixel is a table lookup (a SIGMOID window is one `exp` per value, not per pixel). Same
/// result as mapping each pixel: the table holds exactly what the map gives.
pub fn display(
    stored: &[f64],
    width: usize,
    height: usize,
    rescale: Rescale,
    voi: &Voi,
    invert: bool,
) -> Result<Gray> {
    check_size(stored, width, height)?;
    let (mut lo, mut hi, mut whole) = (f64::INFINITY, f64::NEG_INFINITY, true);
    for &x in stored {
        lo = lo.min(x);
        hi = hi.max(x);
        whole &= (x as i64) as f64 == x;
    }
    Ok(Gray {
        width,
        height,
        pixels: display_values(stored, rescale, voi, invert, (lo, hi), whole),
    })
}

/// [`display`] for stored values known to be whole numbers from `range.0` to `range.1` (a
/// grey DICOM's samples, whose range the decoder has counted): no scan of the values first.
pub(crate) fn display_whole(
    stored: &[f64],
    width: usize,
    height: usize,
    rescale: Rescale,
    voi: &Voi,
    invert: bool,
    range: (f64, f64),
) -> Result<Gray> {
    check_size(stored, width, height)?;
    Ok(Gray {
        width,
        height,
        pixels: display_values(stored, rescale, voi, invert, range, true),
    })
}

/// Each stored value's display value: through a table over `range` when the values are
/// `whole` and span at most [`DISPLAY_TABLE_MAX`] values, else one by one.
fn display_values(
    stored: &[f64],
    rescale: Rescale,
    voi: &Voi,
    invert: bool,
    (lo, hi): (f64, f64),
    whole: bool,
) -> Vec<f32> {
    let map = DisplayMap::new(rescale, voi, invert, (lo, hi));
    if whole && lo.is_finite() && hi - lo < DISPLAY_TABLE_MAX as f64 {
        let table: Vec<f32> = (0..=(hi - lo) as usize)
            .map(|i| map.value(lo + i as f64))
            .collect();
        let (first, last) = (lo as i64, table.len() - 1);
        stored
            .iter()
            .map(|&x| table[((x as i64 - first) as usize).min(last)])
            .collect()
    } else {
        stored.iter().map(|&x| map.value(x)).collect()
    }
}

/// `stored` fills a `width` x `height` image.
fn check_size(stored: &[f64], width: usize, height: usize) -> Result<()> {
    if stored.len() != width * height {
        return Err(Error::input(
            "imaging::display",
            format!("{} values for a {width}x{height} image", stored.len()),
        ));
    }
    Ok(())
}

/// The most distinct stored values [`display`] tabulates (16-bit samples; wider ranges are
/// mapped pixel by pixel).
pub const DISPLAY_TABLE_MAX: usize = 1 << 16;

/// One stored value's display value: rescale, VOI, clamp to [0, 1], invert.
struct DisplayMap<'a> {
    rescale: Rescale,
    voi: &'a Voi,
    invert: bool,
    /// The rescaled range of the image, for [`Voi::MinMax`].
    range: (f64, f64),
}

impl<'a> DisplayMap<'a> {
    /// `stored` is the smallest and largest stored value of the image.
    fn new(rescale: Rescale, voi: &'a Voi, invert: bool, stored: (f64, f64)) -> Self {
        // The rescale is monotonic, also in floating point (each rounding step is), so the
        // rescaled range is the rescaled ends, swapped for a negative slope.
        let (a, b) = (rescale.apply(stored.0), rescale.apply(stored.1));
        Self {
            rescale,
            voi,
            invert,
            range: (a.min(b), a.max(b)),
        }
    }

    fn value(&self, x: f64) -> f32 {
        let y = self.rescale.apply(x);
        let v = match self.voi {
            Voi::Linear { center, width } => {
                // PS3.3 C.11.2.1.2.1, scaled to [0, 1].
                let w = width.max(1.0);
                let (c, w1) = (center - 0.5, w - 1.0);
                if y <= c - w1 / 2.0 {
                    0.0
                } else if y > c + w1 / 2.0 {
                    1.0
                } else if w1 == 0.0 {
                    0.5
                } else {
                    (y - c) / w1 + 0.5
                }
            }
            Voi::LinearExact { center, width } => {
                ((y - (center - width / 2.0)) / width).clamp(0.0, 1.0)
            }
            Voi::Sigmoid { center, width } => 1.0 / (1.0 + (-4.0 * (y - center) / width).exp()),
            Voi::Table { first, table, max } => {
                let i = (y - first).round().clamp(0.0, (table.len() - 1) as f64) as usize;
                table[i] / max
            }
            Voi::MinMax => {
                let (lo, hi) = self.range;
                if hi > lo {
                    (y - lo) / (hi - lo)
                } else {
                    0.0
                }
            }
        };
        let v = v.clamp(0.0, 1.0) as f32;
        if self.invert {
            1.0 - v
        } else {
            v
        }
    }
}

impl Rescale {
    /// The modality LUT: `x * slope + intercept`.
    pub fn apply(self, x: f64) -> f64 {
        x * self.slope + self.intercept
    }
}

/// Max-pool resampling: output pixel `(x, y)` is the largest source pixel whose centre
/// falls in its box `[x * sw / w, (x + 1) * sw / w)` (at least the one nearest pixel when
/// upscaling). Both sizes must be non-zero.
pub fn resize_max(img: &Gray, width: usize, height: usize) -> Gray {
    let span = |o: usize, out: usize, src: usize| {
        let lo = o * src / out;
        let hi = ((o + 1) * src).div_ceil(out).max(lo + 1).min(src);
        lo..hi
    };
    let cols: Vec<_> = (0..width).map(|x| span(x, width, img.width)).collect();
    let mut pixels = Vec::with_capacity(width * height);
    for y in 0..height {
        let rows = span(y, height, img.height);
        for c in &cols {
            let mut m = f32::NEG_INFINITY;
            for r in rows.clone() {
                let row = &img.pixels[r * img.width..(r + 1) * img.width];
                m = row[c.clone()].iter().copied().fold(m, f32::max);
            }
            pixels.push(m);
        }
    }
    Gray {
        width,
        height,
        pixels,
    }
}

/// Bilinear resampling of `values` (row-major `[h, w]`) to `[out_h, out_w]` with PyTorch's
/// `F.interpolate(mode="bilinear", align_corners=False)` convention: output pixel centres map
/// to `(o + 0.5) * in / out - 0.5`, clamped to the first pixel below 0 and to the last one at
/// the end. No antialiasing (for enlarging saliency maps; [`resize`] is for images).
pub fn upsample_bilinear(
    values: &[f32],
    [h, w]: [usize; 2],
    [out_h, out_w]: [usize; 2],
) -> Result<Gray> {
    if h == 0 || w == 0 || out_h == 0 || out_w == 0 || values.len() != h * w {
        return Err(Error::input(
            "imaging::upsample_bilinear",
            format!("{} values for {w}x{h}, to {out_w}x{out_h}", values.len()),
        ));
    }
    let axis = |o: usize, out: usize, src: usize| {
        let s = ((o as f64 + 0.5) * src as f64 / out as f64 - 0.5).max(0.0);
        let i0 = (s.floor() as usize).min(src - 1);
        let i1 = (i0 + 1).min(src - 1);
        (i0, i1, (s - i0 as f64) as f32)
    };
    let cols: Vec<_> = (0..out_w).map(|x| axis(x, out_w, w)).collect();
    let mut pixels = Vec::with_capacity(out_h * out_w);
    for y in 0..out_h {
        let (y0, y1, ly) = axis(y, out_h, h);
        for &(x0, x1, lx) in &cols {
            let at = |yy: usize, xx: usize| values[yy * w + xx];
            let top = at(y0, x0) * (1.0 - lx) + at(y0, x1) * lx;
            let bottom = at(y1, x0) * (1.0 - lx) + at(y1, x1) * lx;
            pixels.push(top * (1.0 - ly) + bottom * ly);
        }
    }
    Ok(Gray {
        width: out_w,
        height: out_h,
        pixels,
    })
}

/// Resampling filter for [`resize`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum Filter {
    /// Nearest neighbour.
    Nearest,
    /// Bilinear.
    Bilinear,
    /// Lanczos3 (sharp; the default for downscaling mammograms).
    Lanczos3,
    /// The brightest source pixel of each output pixel's box: keeps a bright dot of one
    /// source pixel (a calcification) that averaging filters dilute by the square of the
    /// scale factor.
    Max,
}

/// The grey of an image given as planes: one plane as it is, red, green and blue with the
/// ITU-R 601 weights (0.299, 0.587, 0.114), any other count their mean. The planes share one
/// size.
pub fn luma(planes: &[Gray]) -> Gray {
    let weights: Vec<f32> = match planes.len() {
        3 => vec![0.299, 0.587, 0.114],
        n => vec![1.0 / n.max(1) as f32; n],
    };
    let (width, height) = planes.first().map_or((0, 0), |p| (p.width, p.height));
    let mut pixels = vec![0f32; width * height];
    for (plane, w) in planes.iter().zip(weights) {
        for (out, v) in pixels.iter_mut().zip(&plane.pixels) {
            *out += w * v;
        }
    }
    Gray {
        width,
        height,
        pixels,
    }
}

/// Resize with fast_image_resize (SIMD convolution), as `f32`; [`Filter::Max`] by
/// [`resize_max`].
pub fn resize(img: &Gray, width: usize, height: usize, filter: Filter) -> Result<Gray> {
    use fast_image_resize as fr;
    if width == 0 || height == 0 || img.width == 0 || img.height == 0 {
        return Err(Error::input(
            "imaging::resize",
            format!(
                "cannot resize {}x{} to {width}x{height}",
                img.width, img.height
            ),
        ));
    }
    let alg = match filter {
        Filter::Nearest => fr::ResizeAlg::Nearest,
        Filter::Bilinear => fr::ResizeAlg::Convolution(fr::FilterType::Bilinear),
        Filter::Lanczos3 => fr::ResizeAlg::Convolution(fr::FilterType::Lanczos3),
        Filter::Max => return Ok(resize_max(img, width, height)),
    };
    // The pixels as fast_image_resize's F32 image, borrowed (no copy).
    let src = fr::images::ImageRef::new(
        img.width as u32,
        img.height as u32,
        bytemuck::cast_slice(&img.pixels),
        fr::PixelType::F32,
    )
    .map_err(|e| Error::input("imaging::resize", e.to_string()))?;
    let mut dst = fr::images::Image::new(width as u32, height as u32, fr::PixelType::F32);
    fr::Resizer::new()
        .resize(&src, &mut dst, &fr::ResizeOptions::new().resize_alg(alg))
        .map_err(|e| Error::input("imaging::resize", e.to_string()))?;
    let pixels = dst
        .buffer()
        .chunks_exact(4)
        .map(|c| f32::from_ne_bytes([c[0], c[1], c[2], c[3]]).clamp(0.0, 1.0))
        .collect();
    Ok(Gray {
        width,
        height,
        pixels,
    })
}

impl Gray {
    /// Mirror left-right (to put every breast on the same side).
    pub fn flip_horizontal(&mut self) {
        for row in self.pixels.chunks_exact_mut(self.width) {
            row.reverse();
        }
    }

    /// Bounding box `(x0, y0, x1, y1)` (exclusive ends) of pixels above `threshold`,
    /// or the whole image when none are.
    pub fn foreground_box(&self, threshold: f32) -> (usize, usize, usize, usize) {
        let (mut x0, mut y0, mut x1, mut y1) = (self.width, self.height, 0, 0);
        for y in 0..self.height {
            for x in 0..self.width {
                if self.pixels[y * self.width + x] > threshold {
                    (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1));
                }
            }
        }
        if x1 == 0 {
            (0, 0, self.width, self.height)
        } else {
            (x0, y0, x1, y1)
        }
    }

    /// The sub-image `x0..x1, y0..y1`.
    pub fn crop(&self, (x0, y0, x1, y1): (usize, usize, usize, usize)) -> Gray {
        let (x1, y1) = (x1.min(self.width), y1.min(self.height));
        let mut pixels = Vec::with_capacity((x1 - x0) * (y1 - y0));
        for y in y0..y1 {
            pixels.extend_from_slice(&self.pixels[y * self.width + x0..y * self.width + x1]);
        }
        Gray {
            width: x1 - x0,
            height: y1 - y0,
            pixels,
        }
    }

    /// `values` (row-major, `width * height`) scaled min-max into [0, 1]: how a viewer that
    /// ignores the file's window (and MONOCHROME1) shows stored DICOM values. A constant
    /// image is all 0.
    pub fn min_max(values: &[f64], width: usize, height: usize) -> Result<Gray> {
        if values.len() != width * height {
            return Err(Error::input(
                "image",
                format!("{} values do not fill {width} x {height}", values.len()),
            ));
        }
        let (lo, hi) = values
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        let span = if hi > lo { hi - lo } else { 1.0 };
        Ok(Gray {
            width,
            height,
            pixels: values.iter().map(|&v| ((v - lo) / span) as f32).collect(),
        })
    }

    /// Mean absolute difference of two images of the same size (e.g. a DICOM's display
    /// image against its JPG export: 1/255 = 0.0039 is one step of 8-bit rounding).
    pub fn mean_abs_diff(&self, other: &Gray) -> Result<f64> {
        if (self.width, self.height) != (other.width, other.height) {
            return Err(Error::input(
                "image",
                format!(
                    "{} x {} and {} x {} cannot be compared",
                    self.width, self.height, other.width, other.height
                ),
            ));
        }
        let sum: f64 = self
            .pixels
            .iter()
            .zip(&other.pixels)
            .map(|(a, b)| (a - b).abs() as f64)
            .sum();
        Ok(sum / self.pixels.len().max(1) as f64)
    }

    /// Subtract `mean` and divide by `std` in place (e.g. ImageNet-style normalisation).
    pub fn normalise(&mut self, mean: f32, std: f32) {
        for v in &mut self.pixels {
            *v = (*v - mean) / std;
        }
    }

    /// A 64-bit difference hash (dHash) on a 9x8 thumbnail: near-identical images differ
    /// in few bits, so [`leakage`](crate::dataset::leakage) can find duplicates.
    pub fn dhash(&self) -> Result<u64> {
        let t = resize(self, 9, 8, Filter::Bilinear)?;
        let mut h = 0u64;
        for y in 0..8 {
            for x in 0..8 {
                h = (h << 1) | u64::from(t.pixels[y * 9 + x] > t.pixels[y * 9 + x + 1]);
            }
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_display_table_gives_what_each_pixel_would() {
        // Whole stored values (the table path) against each value mapped on its own, for
        // every VOI, a negative slope and MONOCHROME1: equal to the bit.
        let stored: Vec<f64> = (0..600)
            .map(|i| ((i * 37) % 4096) as f64 - 1000.0)
            .collect();
        let rescale = Rescale {
            slope: -0.75,
            intercept: 12.5,
        };
        let vois = [
            Voi::Linear {
                center: 300.0,
                width: 900.0,
            },
            Voi::LinearExact {
                center: -40.0,
                width: 2000.0,
            },
            Voi::Sigmoid {
                center: 100.0,
                width: 700.0,
            },
            Voi::Table {
                first: -2000.0,
                table: (0..3000).map(|i| (i % 256) as f64).collect(),
                max: 255.0,
            },
            Voi::MinMax,
        ];
        for voi in &vois {
            for invert in [false, true] {
                let g = display(&stored, 600, 1, rescale, voi, invert).unwrap();
                let (lo, hi) = stored
                    .iter()
                    .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
                let map = DisplayMap::new(rescale, voi, invert, (lo, hi));
                let each: Vec<f32> = stored.iter().map(|&x| map.value(x)).collect();
                assert_eq!(g.pixels, each, "{voi:?} invert {invert}");
                assert!(g.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
            }
        }
        // A range wider than the table and fractional values take the per-pixel path, and
        // 32-bit values past i32 the table: same map.
        let wide = [0.0, 70_000.0, 35_000.0, 1.0];
        let half = [0.5, 10.0, 3.25, 7.0];
        let high = [3e9, 3e9 + 10.0, 3e9 + 2.0, 3e9 + 7.0];
        for values in [&wide[..], &half[..], &high[..]] {
            let g = display(values, 4, 1, Rescale::default(), &Voi::MinMax, false).unwrap();
            let (lo, hi) = values
                .iter()
                .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
            let want: Vec<f32> = values
                .iter()
                .map(|&v| ((v - lo) / (hi - lo)) as f32)
                .collect();
            assert_eq!(g.pixels, want);
        }
    }

    #[test]
    fn linear_window_follows_the_standard() {
        // Centre 2048, width 4096 on 12-bit data: 0 -> 0, 4095 -> 1, middle -> 0.5.
        let g = display(
            &[0.0, 2047.5, 4095.0, 5000.0],
            4,
            1,
            Rescale::default(),
            &Voi::Linear {
                center: 2048.0,
                width: 4096.0,
            },
            false,
        )
        .unwrap();
        assert_eq!(g.pixels[0], 0.0);
        assert!((g.pixels[1] - 0.5).abs() < 1e-6);
        assert_eq!(g.pixels[3], 1.0);
        let inv = display(&[0.0], 1, 1, Rescale::default(), &Voi::MinMax, true).unwrap();
        assert_eq!(inv.pixels[0], 1.0);
    }

    #[test]
    fn crop_flip_and_hash() {
        let mut g = Gray {
            width: 4,
            height: 2,
            pixels: vec![0.0, 0.0, 0.9, 0.8, 0.0, 0.0, 0.7, 0.0],
        };
        assert_eq!(g.foreground_box(0.5), (2, 0, 4, 2));
        assert_eq!(g.crop((2, 0, 4, 2)).pixels, vec![0.9, 0.8, 0.7, 0.0]);
        g.flip_horizontal();
        assert_eq!(&g.pixels[..4], &[0.8, 0.9, 0.0, 0.0]);
        assert_eq!(g.dhash().unwrap(), g.clone().dhash().unwrap());
    }
}
