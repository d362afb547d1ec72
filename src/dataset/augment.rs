//! Seeded, on-the-fly augmentation of training images: flips, rotation, shift and zoom, a
//! random resized crop, and brightness / contrast / gamma jitter.
//!
//! An [`Augment`] is part of [`TrainConfig`](crate::model::TrainConfig) (saved with every
//! checkpoint); the trainer applies it to each training batch as it is drawn, never to
//! validation or test images. Every image of every epoch gets its own random stream,
//! derived from the run's seed, the epoch and the image's position in the epoch's order, so a
//! run (and a resumed run) sees exactly the same augmented images again.
//!
//! # What one image goes through
//! 1. **Geometry**, one bilinear resampling of the whole chain: a random resized crop (a box
//!    of `crop..1` of the area, aspect ratio 3/4..4/3 on a log scale, as torchvision's
//!    `RandomResizedCrop`, stretched back to the full size), then the flips, then a rotation
//!    of up to `rotate` degrees, a zoom of `1 - zoom .. 1 + zoom` and a shift of up to
//!    `translate` of each side, about the image's centre. Pixels that come from outside the
//!    image are black (0 before normalisation: the background of a mammogram).
//! 2. **Intensity**, on the [0, 1] image (the recipe's normalisation undone and redone):
//!    gamma `x^g` with `ln g` uniform in `[-gamma, gamma]`, contrast (distance from the
//!    image's mean times `1 - contrast .. 1 + contrast`), brightness (`+ -brightness ..
//!    brightness`), clipped to [0, 1]. Gamma and contrast are torchvision's
//!    `adjust_gamma` and `adjust_contrast`; brightness is additive (albumentations'),
//!    not torchvision's multiplicative factor.
//!
//! The geometry is torchvision's `affine` (bilinear, zeros outside: `fill=None`, which is
//! `grid_sample`'s padding) with the angle's sign turned:
//! `rotate` is counter-clockwise on screen, as Pillow's and torchvision's `rotate`. Both
//! are checked against torchvision's own output (`tests/data/torch_reference.json`, made by
//! `tests/python/make_torch_reference.py`) to 1e-5.
//!
//! An image whose draws all come out as the identity is left bit for bit as it was.
//!
//! # Mammograms and flips
//! `train` mirrors right breasts so that every breast faces the same way
//! ([`Preprocess::flip_right`](super::Preprocess::flip_right)); a horizontal flip would undo
//! that, so [`Augment::standard`] leaves `hflip` at 0 and flips vertically (the CC view's
//! lateral / medial halves, the MLO's upper / lower) instead.
//!
//! ```
//! use mammolab::dataset::Augment;
//!
//! # fn main() -> mammolab::Result<()> {
//! let a: Augment = "standard,crop=0.8".parse()?;
//! assert_eq!(a.crop, 0.8);
//! assert_eq!(a.to_string(), "vflip=0.5,rotate=10,translate=0.05,zoom=0.1,crop=0.8,brightness=0.1,contrast=0.2,gamma=0.2");
//!
//! // Four 8 x 8 single-channel images, augmented with the streams of epoch 3.
//! let mut data = vec![0.5f32; 4 * 64];
//! a.apply_batch(&mut data, [4, 1, 8, 8], None, a.epoch_seed(42, 3), 0);
//! assert!(data.iter().all(|v| v.is_finite()));
//! # Ok(()) }
//! ```

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::rng::Rng;

/// Which random transforms each training image goes through, and how strong they are.
/// Zero (or `crop` 1) turns a transform off; [`Augment::default`] turns all off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Augment {
    /// Probability of mirroring left-right.
    pub hflip: f64,
    /// Probability of mirroring top-bottom.
    pub vflip: f64,
    /// Largest rotation, degrees (uniform in `[-rotate, rotate]`).
    pub rotate: f64,
    /// Largest shift as a share of the side, on each axis.
    pub translate: f64,
    /// Largest zoom: the scale is uniform in `[1 - zoom, 1 + zoom]`.
    pub zoom: f64,
    /// Random resized crop: the smallest share of the image's area kept (1: no crop).
    pub crop: f64,
    /// Largest brightness shift, in units of the [0, 1] image.
    pub brightness: f64,
    /// Largest contrast change: the factor is uniform in `[1 - contrast, 1 + contrast]`.
    pub contrast: f64,
    /// Largest gamma change: `ln(gamma)` uniform in `[-gamma, gamma]`.
    pub gamma: f64,
}

impl Default for Augment {
    /// Nothing changes.
    fn default() -> Self {
        Self {
            hflip: 0.0,
            vflip: 0.0,
            rotate: 0.0,
            translate: 0.0,
            zoom: 0.0,
            crop: 1.0,
            brightness: 0.0,
            contrast: 0.0,
            gamma: 0.0,
        }
    }
}

/// The settings in the order [`Augment`]'s text form lists them, with their ranges.
const KEYS: [(&str, f64, f64); 9] = [
    ("hflip", 0.0, 1.0),
    ("vflip", 0.0, 1.0),
    ("rotate", 0.0, 180.0),
    ("translate", 0.0, 0.5),
    ("zoom", 0.0, 0.9),
    ("crop", 0.05, 1.0),
    ("brightness", 0.0, 1.0),
    ("contrast", 0.0, 1.0),
    ("gamma", 0.0, 2.0),
];

impl Augment {
    /// For mammograms whose right breasts were mirrored: vertical flip 0.5, rotation 10
    /// degrees, shift 5 %, zoom 10 %, no crop, brightness 0.1, contrast 0.2, gamma 0.2.
    pub fn standard() -> Self {
        Self {
            vflip: 0.5,
            rotate: 10.0,
            translate: 0.05,
            zoom: 0.1,
            brightness: 0.1,
            contrast: 0.2,
            gamma: 0.2,
            ..Self::default()
        }
    }

    /// Whether no transform is on.
    pub fn is_identity(&self) -> bool {
        *self == Self::default()
    }

    fn values(&self) -> [f64; 9] {
        [
            self.hflip,
            self.vflip,
            self.rotate,
            self.translate,
            self.zoom,
            self.crop,
            self.brightness,
            self.contrast,
            self.gamma,
        ]
    }

    fn value_mut(&mut self, key: &str) -> Option<&mut f64> {
        Some(match key {
            "hflip" => &mut self.hflip,
            "vflip" => &mut self.vflip,
            "rotate" => &mut self.rotate,
            "translate" => &mut self.translate,
            "zoom" => &mut self.zoom,
            "crop" => &mut self.crop,
            "brightness" => &mut self.brightness,
            "contrast" => &mut self.contrast,
            "gamma" => &mut self.gamma,
            _ => return None,
        })
    }

    /// Check every setting against its range (one line naming the first that is not).
    pub fn validate(&self) -> Result<()> {
        for ((key, lo, hi), v) in KEYS.iter().zip(self.values()) {
            if !(v >= *lo && v <= *hi) {
                return Err(Error::Param {
                    name: "augment",
                    message: format!("{key}={v} is not in [{lo}, {hi}]"),
                });
            }
        }
        Ok(())
    }

    /// The stream seed of epoch `epoch` (0-based) of a run seeded `seed`: pass it to
    /// [`Augment::apply_batch`].
    pub fn epoch_seed(&self, seed: u64, epoch: usize) -> u64 {
        Rng::derive(seed, 0xa097_0000 + epoch as u64).next_u64()
    }

    /// Augment `n` images `[n, c, h, w]` in place, image `i` with the stream
    /// `first + i` of `seed` (its position in the epoch's order). `normalise` is the
    /// `(mean, std)` the images were normalised with (`None`: they are [0, 1] images).
    pub fn apply_batch(
        &self,
        data: &mut [f32],
        shape: [usize; 4],
        normalise: Option<(f32, f32)>,
        seed: u64,
        first: usize,
    ) {
        let [n, c, h, w] = shape;
        let per = c * h * w;
        if self.is_identity() || per == 0 {
            return;
        }
        debug_assert_eq!(data.len(), n * per);
        data.par_chunks_mut(per).enumerate().for_each(|(i, img)| {
            let mut rng = Rng::derive(seed, (first + i) as u64);
            self.draw(w, h, &mut rng).apply(img, [c, h, w], normalise);
        });
    }

    /// One image's random transform, for a `width` x `height` image, from `rng`.
    pub fn draw(&self, width: usize, height: usize, rng: &mut Rng) -> Draw {
        let (w, h) = (width as f64, height as f64);
        // Every value is drawn in a fixed order, whether or not its transform is on.
        let hflip = rng.f64() < self.hflip;
        let vflip = rng.f64() < self.vflip;
        let rotate = rng.range_f64(-self.rotate, self.rotate);
        let scale = 1.0 + rng.range_f64(-self.zoom, self.zoom);
        let shift = [
            rng.range_f64(-self.translate, self.translate) * w,
            rng.range_f64(-self.translate, self.translate) * h,
        ];
        let area = rng.range_f64(self.crop, 1.0);
        let aspect = rng
            .range_f64((3.0f64 / 4.0).ln(), (4.0f64 / 3.0).ln())
            .exp();
        let place = [rng.f64(), rng.f64()];
        let gamma = rng.range_f64(-self.gamma, self.gamma).exp();
        let contrast = 1.0 + rng.range_f64(-self.contrast, self.contrast);
        let brightness = rng.range_f64(-self.brightness, self.brightness);
        let crop = (self.crop < 1.0).then(|| {
            let bw = ((area * aspect).sqrt() * w).min(w);
            let bh = ((area / aspect).sqrt() * h).min(h);
            [place[0] * (w - bw), place[1] * (h - bh), bw, bh]
        });
        Draw {
            hflip,
            vflip,
            rotate,
            scale,
            shift,
            crop,
            gamma,
            contrast,
            brightness,
        }
    }
}

/// One image's random transform, as [`Augment::draw`] chose it; [`Draw::apply`] applies it.
#[derive(Debug, Clone, PartialEq)]
pub struct Draw {
    /// Mirror left-right.
    pub hflip: bool,
    /// Mirror top-bottom.
    pub vflip: bool,
    /// Rotation, degrees (counter-clockwise on screen, y pointing down).
    pub rotate: f64,
    /// Zoom factor (above 1 enlarges).
    pub scale: f64,
    /// Shift `[x, y]`, pixels.
    pub shift: [f64; 2],
    /// Crop box `[left, top, width, height]` in pixels, stretched to the whole image.
    pub crop: Option<[f64; 4]>,
    /// Gamma exponent.
    pub gamma: f64,
    /// Contrast factor about the image's mean.
    pub contrast: f64,
    /// Brightness shift ([0, 1] units).
    pub brightness: f64,
}

impl Default for Draw {
    /// The identity.
    fn default() -> Self {
        Self {
            hflip: false,
            vflip: false,
            rotate: 0.0,
            scale: 1.0,
            shift: [0.0, 0.0],
            crop: None,
            gamma: 1.0,
            contrast: 1.0,
            brightness: 0.0,
        }
    }
}

impl Draw {
    /// Transform one image `[c, h, w]` in place (every channel alike); `normalise` as in
    /// [`Augment::apply_batch`].
    pub fn apply(&self, image: &mut [f32], shape: [usize; 3], normalise: Option<(f32, f32)>) {
        let [_, h, w] = shape;
        let (mean, std) = normalise.unwrap_or((0.0, 1.0));
        let moved = self.hflip
            || self.vflip
            || self.rotate != 0.0
            || self.scale != 1.0
            || self.shift != [0.0, 0.0]
            || self.crop.is_some();
        if moved {
            let fill = (0.0 - mean) / std;
            for plane in image.chunks_mut(h * w) {
                self.resample(plane, w, h, fill);
            }
        }
        if self.gamma != 1.0 || self.contrast != 1.0 || self.brightness != 0.0 {
            for plane in image.chunks_mut(h * w) {
                let x: Vec<f64> = plane
                    .iter()
                    .map(|&v| ((v * std + mean) as f64).clamp(0.0, 1.0).powf(self.gamma))
                    .collect();
                let m = x.iter().sum::<f64>() / x.len() as f64;
                for (v, x) in plane.iter_mut().zip(x) {
                    let y = ((x - m) * self.contrast + m + self.brightness).clamp(0.0, 1.0);
                    *v = (y as f32 - mean) / std;
                }
            }
        }
    }

    /// The source position (pixel centres at integers) of output pixel `(x, y)` of a
    /// `w` x `h` image.
    fn source(&self, x: f64, y: f64, w: f64, h: f64) -> (f64, f64) {
        let (cx, cy) = ((w - 1.0) / 2.0, (h - 1.0) / 2.0);
        let (sin, cos) = self.rotate.to_radians().sin_cos();
        // Undo shift, zoom and rotation about the centre.
        let dx = (x - cx - self.shift[0]) / self.scale;
        let dy = (y - cy - self.shift[1]) / self.scale;
        let mut u = cos * dx - sin * dy + cx;
        let mut v = sin * dx + cos * dy + cy;
        if self.hflip {
            u = w - 1.0 - u;
        }
        if self.vflip {
            v = h - 1.0 - v;
        }
        // Undo the crop's stretch.
        match self.crop {
            Some([x0, y0, bw, bh]) => {
                (x0 + (u + 0.5) * bw / w - 0.5, y0 + (v + 0.5) * bh / h - 0.5)
            }
            None => (u, v),
        }
    }

    /// Resample one `w` x `h` plane in place, bilinearly; outside the image reads `fill`.
    fn resample(&self, plane: &mut [f32], w: usize, h: usize, fill: f32) {
        let src = plane.to_vec();
        let at = |x: isize, y: isize| -> f32 {
            if x < 0 || y < 0 || x >= w as isize || y >= h as isize {
                fill
            } else {
                src[y as usize * w + x as usize]
            }
        };
        for y in 0..h {
            for x in 0..w {
                let (u, v) = self.source(x as f64, y as f64, w as f64, h as f64);
                let (x0, y0) = (u.floor(), v.floor());
                let (fx, fy) = ((u - x0) as f32, (v - y0) as f32);
                let (x0, y0) = (x0 as isize, y0 as isize);
                let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1, y0) * fx;
                let bottom = at(x0, y0 + 1) * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx;
                plane[y * w + x] = top * (1.0 - fy) + bottom * fy;
            }
        }
    }
}

impl std::fmt::Display for Draw {
    /// A short caption of what changed, e.g. `vflip rot -4.2 zoom 1.07 g 0.91 c 1.10 b
    /// +0.02` (g, c, b: gamma, contrast, brightness; `identity` when nothing changed).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = vec![];
        if self.hflip {
            parts.push("hflip".to_string());
        }
        if self.vflip {
            parts.push("vflip".to_string());
        }
        if self.rotate != 0.0 {
            parts.push(format!("rot {:.1}", self.rotate));
        }
        if self.scale != 1.0 {
            parts.push(format!("zoom {:.2}", self.scale));
        }
        if self.shift != [0.0, 0.0] {
            let [x, y] = self.shift.map(|v| v.round() + 0.0); // no "-0"
            parts.push(format!("shift {x},{y}"));
        }
        if let Some([.., w, h]) = self.crop {
            parts.push(format!("crop {w:.0}x{h:.0}"));
        }
        if self.gamma != 1.0 {
            parts.push(format!("g {:.2}", self.gamma));
        }
        if self.contrast != 1.0 {
            parts.push(format!("c {:.2}", self.contrast));
        }
        if self.brightness != 0.0 {
            parts.push(format!("b {:+.2}", self.brightness));
        }
        if parts.is_empty() {
            f.write_str("identity")
        } else {
            f.write_str(&parts.join(" "))
        }
    }
}

impl std::str::FromStr for Augment {
    type Err = Error;

    /// `none`, `standard`, or comma-separated `key=value` settings on top of either
    /// (`standard,crop=0.8`; `hflip=0.5,rotate=15`): keys as [`Augment`]'s fields.
    fn from_str(s: &str) -> Result<Self> {
        let bad = |message: String| Error::Param {
            name: "augment",
            message,
        };
        let mut a = Self::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "none" => a = Self::default(),
                "standard" => a = Self::standard(),
                _ => {
                    let (key, value) = part.split_once('=').ok_or_else(|| {
                        bad(format!(
                            "`{part}` is not `none`, `standard` or key=value (keys: {})",
                            key_list()
                        ))
                    })?;
                    let key = key.trim();
                    let slot = a.value_mut(key).ok_or_else(|| {
                        bad(format!("unknown setting `{key}` (keys: {})", key_list()))
                    })?;
                    *slot = value
                        .trim()
                        .parse()
                        .map_err(|_| bad(format!("{key}=`{}` is not a number", value.trim())))?;
                }
            }
        }
        a.validate()?;
        Ok(a)
    }
}

fn key_list() -> String {
    KEYS.iter().map(|k| k.0).collect::<Vec<_>>().join(", ")
}

impl std::fmt::Display for Augment {
    /// The settings that differ from [`Augment::default`], as `key=value` (what
    /// [`str::parse`] reads back); `none` when all are off.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let off = Self::default().values();
        let on: Vec<String> = KEYS
            .iter()
            .zip(self.values())
            .zip(off)
            .filter(|((_, v), o)| v != o)
            .map(|(((k, _, _), v), _)| format!("{k}={v}"))
            .collect();
        if on.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&on.join(","))
        }
    }
}
