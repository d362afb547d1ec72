//! Image files into a batch tensor: decode (DICOM or JPG/PNG), crop, flip, resize,
//! normalise, in parallel, with a disk cache so a notebook re-run does not decode again.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::IoContext;
use crate::error::{Error, Result};
use crate::hash::sha256_bytes;
use crate::imaging::{luma, resize, Filter, Gray};
use crate::ingest::dicom::{read_display, read_display_rgb};

/// How images become model input: the recipe saved in `run.json` and in every
/// checkpoint, so a saved model decodes new images exactly as it was trained. Also
/// serialised into the cache key, so any change here invalidates the cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocess {
    /// Output width.
    pub width: usize,
    /// Output height.
    pub height: usize,
    /// Resampling filter.
    pub filter: Filter,
    /// Crop to the breast (pixels above `crop_threshold`) before resizing.
    pub crop_threshold: Option<f32>,
    /// Mirror right breasts so every breast faces the same way (needs laterality).
    pub flip_right: bool,
    /// Decide the mirroring from the pixels instead of the laterality: an image whose right
    /// half is brighter than its left (the breast lies on the right, the chest wall at the
    /// right edge) is mirrored, whatever the record says. For downloads that do not say which
    /// breast a film shows (mini-MIAS, CBIS-DDSM's films read without their CSV column), so
    /// that every source reaches the model facing one way ([`Orient::Pixels`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub flip_by_pixels: bool,
    /// Subtract this mean and divide by this std after resizing.
    pub normalise: Option<(f32, f32)>,
    /// The channels the model sees: one grey (the default: mammograms) or red, green and
    /// blue (histology). Crop and mirroring are decided on the grey of a colour image.
    #[serde(default, skip_serializing_if = "Channels::is_grey")]
    pub channels: Channels,
}

/// Which channels a recipe keeps ([`Preprocess::channels`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Channels {
    /// One grey channel; a colour file is converted with the luma weights.
    #[default]
    Grey,
    /// Red, green and blue planes; a DICOM gives its display grey three times.
    Rgb,
}

impl Channels {
    /// 1 or 3.
    pub fn count(self) -> usize {
        match self {
            Channels::Grey => 1,
            Channels::Rgb => 3,
        }
    }

    fn is_grey(&self) -> bool {
        *self == Channels::Grey
    }
}

impl Preprocess {
    /// `width` x `height`, Lanczos3, no crop, no flip, no normalisation.
    pub fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            filter: Filter::Lanczos3,
            crop_threshold: None,
            flip_right: false,
            flip_by_pixels: false,
            normalise: None,
            channels: Channels::Grey,
        }
    }
    /// `[channels, height, width]` of the images it makes: the input shape of a model
    /// trained on them ([`crate::model::Trainer::new`] builds the network for it).
    pub fn input_shape(&self) -> [usize; 3] {
        [self.channels.count(), self.height, self.width]
    }
    /// Keep these channels.
    pub fn with_channels(mut self, channels: Channels) -> Self {
        self.channels = channels;
        self
    }
    /// Crop to pixels brighter than `threshold` (e.g. 0.05) first.
    pub fn with_crop(mut self, threshold: f32) -> Self {
        self.crop_threshold = Some(threshold);
        self
    }
    /// Mirror images whose laterality is `R`.
    pub fn with_flip_right(mut self) -> Self {
        self.flip_right = true;
        self
    }
    /// Mirror by the pixels ([`Orient::Pixels`]) or by the laterality ([`Orient::Laterality`],
    /// with [`Preprocess::with_flip_right`]).
    pub fn with_orient(mut self, orient: Orient) -> Self {
        self.flip_by_pixels = orient == Orient::Pixels;
        self
    }
    /// Whether the input made from `img` (`right`: the record says right breast) is mirrored.
    pub fn mirrors(&self, img: &Gray, right: bool) -> bool {
        match self.flip_by_pixels {
            true => breast_on_right(img),
            false => self.flip_right && right,
        }
    }
    /// Normalise with `(x - mean) / std`.
    pub fn with_normalise(mut self, mean: f32, std: f32) -> Self {
        self.normalise = Some((mean, std));
        self
    }
    /// Use this filter.
    pub fn with_filter(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }

    /// Model input values (`width * height`, after [`Preprocess::apply`]) back as a [0, 1]
    /// image for display: the normalisation undone.
    pub fn unapply(&self, values: &[f32]) -> Gray {
        let (m, s) = self.normalise.unwrap_or((0.0, 1.0));
        Gray {
            width: self.width,
            height: self.height,
            pixels: values.iter().map(|v| v * s + m).collect(),
        }
    }

    /// Decode an image file ([`read_display`]) and preprocess it (`right`: a right breast).
    pub fn read(&self, path: &Path, right: bool) -> Result<Gray> {
        self.apply(&read_display(path)?, right)
    }

    /// Decode the film `path`, cut it to the lesion box of the ROI mask `mask` (a file the
    /// film's size: [`lesion_box`]) and preprocess the cut: CBIS-DDSM's lesion seen on the
    /// film itself, with its surroundings, at the film's contrast.
    pub fn read_region(&self, path: &Path, mask: &Path, right: bool) -> Result<Gray> {
        let film = read_display(path)?;
        let b = region_box(path, &film, mask)?;
        self.apply(&film.crop(b), right)
    }

    /// Decode the file `path` as the recipe's channels: one grey plane, or the red, green
    /// and blue planes.
    pub fn decode(&self, path: &Path) -> Result<Vec<Gray>> {
        Ok(match self.channels {
            Channels::Grey => vec![read_display(path)?],
            Channels::Rgb => read_display_rgb(path)?.into(),
        })
    }

    /// The model input made from the file `path` as its planes, one per channel
    /// ([`Preprocess::channels`]): [`Preprocess::read`] for grey; for rgb the red, green and
    /// blue planes each cropped, resized, mirrored and normalised as the grey of the image
    /// decides.
    pub fn read_input(&self, path: &Path, right: bool) -> Result<Vec<Gray>> {
        self.apply_planes(&self.decode(path)?, right)
    }

    /// [`Preprocess::read_region`] as planes, one per channel.
    pub fn read_region_input(&self, path: &Path, mask: &Path, right: bool) -> Result<Vec<Gray>> {
        let planes = self.decode(path)?;
        let b = region_box(path, &planes[0], mask)?;
        let cut: Vec<Gray> = planes.iter().map(|p| p.crop(b)).collect();
        self.apply_planes(&cut, right)
    }

    /// Preprocess an image given as planes (one grey, or red, green and blue): one plane as
    /// [`Preprocess::apply`] does; several each the same way, the crop box and the mirroring
    /// decided on their grey ([`luma`]) so the planes stay aligned.
    pub fn apply_planes(&self, planes: &[Gray], right: bool) -> Result<Vec<Gray>> {
        if let [one] = planes {
            return Ok(vec![self.apply(one, right)?]);
        }
        let grey = luma(planes);
        planes
            .iter()
            .map(|p| self.apply_guided(p, &grey, right))
            .collect()
    }

    /// Where the model input made from `img` comes from in `img`: the crop box and the flip.
    pub fn placement(&self, img: &Gray, right: bool) -> Placement {
        Placement {
            crop: match self.crop_threshold {
                Some(t) => img.foreground_box(t),
                None => (0, 0, img.width, img.height),
            },
            flipped: self.mirrors(img, right),
            input: [self.width, self.height],
            image: [img.width, img.height],
        }
    }

    /// Preprocess one decoded image.
    pub fn apply(&self, img: &Gray, right: bool) -> Result<Gray> {
        self.apply_guided(img, img, right)
    }

    /// Preprocess `img` with the crop box and mirroring that `guide` (the same size: the
    /// image's grey) decides.
    fn apply_guided(&self, img: &Gray, guide: &Gray, right: bool) -> Result<Gray> {
        let cropped;
        let mut src = img;
        if let Some(t) = self.crop_threshold {
            cropped = img.crop(guide.foreground_box(t));
            src = &cropped;
        }
        let mut out = resize(src, self.width, self.height, self.filter)?;
        if self.mirrors(guide, right) {
            out.flip_horizontal();
        }
        if let Some((m, s)) = self.normalise {
            out.normalise(m, s);
        }
        Ok(out)
    }
}

/// The lesion box of the ROI mask file `mask` on `film` (decoded from `path`): the mask must
/// be the film's size and mark at least one pixel.
fn region_box(path: &Path, film: &Gray, mask: &Path) -> Result<(usize, usize, usize, usize)> {
    let m = read_display(mask)?;
    if (m.width, m.height) != (film.width, film.height) {
        return Err(Error::data(
            mask,
            format!(
                "the ROI mask is {}x{} but its film {} is {}x{}",
                m.width,
                m.height,
                path.display(),
                film.width,
                film.height
            ),
        ));
    }
    lesion_box(&m).ok_or_else(|| Error::data(mask, "the ROI mask marks no pixel"))
}

/// How the recipe makes every breast face one way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Orient {
    /// Mirror the films the record calls right breasts (its `Laterality`); a film whose
    /// record does not say stays as it is.
    #[default]
    Laterality,
    /// Mirror every film whose right half is brighter than its left, whatever the record
    /// says: one orientation for downloads that do not all say which breast a film shows.
    Pixels,
}

/// The box `(x0, y0, x1, y1)` (exclusive ends) around a ROI mask's marked pixels (above 0.5),
/// widened by half its size on each side (at least 32 pixels) so the lesion's margin and
/// surroundings are in, clamped to the image; `None` when the mask marks nothing.
pub fn lesion_box(mask: &Gray) -> Option<(usize, usize, usize, usize)> {
    if !mask.pixels.iter().any(|&v| v > 0.5) {
        return None;
    }
    let (x0, y0, x1, y1) = mask.foreground_box(0.5);
    let mx = ((x1 - x0) / 2).max(32);
    let my = ((y1 - y0) / 2).max(32);
    Some((
        x0.saturating_sub(mx),
        y0.saturating_sub(my),
        (x1 + mx).min(mask.width),
        (y1 + my).min(mask.height),
    ))
}

/// Whether the breast of a mammogram lies on the image's right: its right half holds more
/// brightness than its left (air is dark; the chest wall side is the bright one).
pub fn breast_on_right(img: &Gray) -> bool {
    let half = img.width / 2;
    let (mut left, mut right) = (0f64, 0f64);
    for row in img.pixels.chunks_exact(img.width.max(1)) {
        left += row[..half].iter().map(|&v| f64::from(v)).sum::<f64>();
        right += row[img.width - half..]
            .iter()
            .map(|&v| f64::from(v))
            .sum::<f64>();
    }
    right > left
}

/// How a model input sits in the decoded image it was made from ([`Preprocess::placement`]):
/// maps and points at the input's size go back onto the mammogram, for overlays and for
/// comparing a saliency peak with a lesion position given in image pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// The crop box `(x0, y0, x1, y1)` in image pixels, exclusive ends (the whole image
    /// without a crop).
    pub crop: (usize, usize, usize, usize),
    /// Whether the input was mirrored (a right breast with `flip_right`).
    pub flipped: bool,
    /// Model input `[width, height]`.
    pub input: [usize; 2],
    /// Decoded image `[width, height]`.
    pub image: [usize; 2],
}

impl Placement {
    /// Image coordinates (pixel units, continuous) of the centre of input pixel `(u, v)`.
    pub fn to_image(&self, u: usize, v: usize) -> (f64, f64) {
        let [iw, ih] = self.input;
        let u = if self.flipped {
            iw - 1 - u.min(iw - 1)
        } else {
            u
        };
        let (x0, y0, x1, y1) = self.crop;
        (
            x0 as f64 + (u as f64 + 0.5) * (x1 - x0) as f64 / iw as f64,
            y0 as f64 + (v as f64 + 0.5) * (y1 - y0) as f64 / ih as f64,
        )
    }

    /// A map at the input size (`input` width x height) laid over the decoded image: resized
    /// to the crop box ([`upsample_bilinear`](crate::imaging::upsample_bilinear)), mirrored
    /// back, 0 outside the box.
    pub fn to_image_map(&self, map: &Gray) -> Result<Gray> {
        let [iw, ih] = self.input;
        if map.width != iw || map.height != ih {
            return Err(Error::input(
                "placement",
                format!(
                    "map is {}x{}, the model input {iw}x{ih}",
                    map.width, map.height
                ),
            ));
        }
        let (x0, y0, x1, y1) = self.crop;
        let mut boxed =
            crate::imaging::upsample_bilinear(&map.pixels, [ih, iw], [y1 - y0, x1 - x0])?;
        if self.flipped {
            boxed.flip_horizontal();
        }
        let [w, h] = self.image;
        let mut pixels = vec![0f32; w * h];
        for (y, row) in boxed.pixels.chunks_exact(boxed.width).enumerate() {
            pixels[(y0 + y) * w + x0..(y0 + y) * w + x0 + row.len()].copy_from_slice(row);
        }
        Ok(Gray {
            width: w,
            height: h,
            pixels,
        })
    }
}

/// Where decoded images are cached, from the values of `MAMMOLAB_CACHE` and `HOME`:
/// `$MAMMOLAB_CACHE/images`, else `$HOME/.cache/mammolab/images`, else none. The caller
/// reads the environment (the library does not).
pub fn default_image_cache(
    mammolab_cache: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> Option<PathBuf> {
    mammolab_cache
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| home.map(|h| PathBuf::from(h).join(".cache/mammolab")))
        .map(|d| d.join("images"))
}

/// A batch of images, `[n, channels, height, width]` row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageBatch {
    /// `n * channels * height * width` values.
    pub data: Vec<f32>,
    /// Number of images.
    pub n: usize,
    /// Channels per image (1 grey, 3 rgb: [`Preprocess::channels`]).
    pub channels: usize,
    /// Height.
    pub height: usize,
    /// Width.
    pub width: usize,
    /// Whether the batch came from the disk cache.
    pub from_cache: bool,
}

impl ImageBatch {
    /// Each image as a [`Gray`] (a grey batch only: one channel).
    pub fn grey_images(&self) -> Result<Vec<Gray>> {
        if self.channels != 1 {
            return Err(Error::input(
                "images",
                format!(
                    "{} channels a pixel; one grey image each needs 1",
                    self.channels
                ),
            ));
        }
        let side = self.height * self.width;
        Ok(self
            .data
            .chunks(side.max(1))
            .take(self.n)
            .map(|px| Gray {
                width: self.width,
                height: self.height,
                pixels: px.to_vec(),
            })
            .collect())
    }
}

/// Load `files` (paths, with `true` for right-breast images) through `pre`, in parallel.
///
/// With `cache_dir`, the batch is stored as `<key>.f32` there, the key being the sha256 of
/// `cache_tag` (e.g. the manifest's table checksums), the preprocessing parameters and the
/// file list; a later call with the same inputs reads it back instead of decoding. The
/// file ends with the sha256 of its values: a truncated or corrupted cache file is
/// detected, decoded again and rewritten, never used.
pub fn load_images(
    files: &[(PathBuf, bool)],
    pre: &Preprocess,
    cache_dir: Option<&Path>,
    cache_tag: &str,
) -> Result<ImageBatch> {
    let files: Vec<(PathBuf, Option<PathBuf>, bool)> =
        files.iter().map(|(f, r)| (f.clone(), None, *r)).collect();
    load_regions(&files, pre, cache_dir, cache_tag)
}

/// [`load_images`] where a file may come with a ROI mask: `(film, Some(mask), right)` is
/// the film cut to the mask's lesion box ([`Preprocess::read_region`]). The cache key names
/// the mask too.
pub fn load_regions(
    files: &[(PathBuf, Option<PathBuf>, bool)],
    pre: &Preprocess,
    cache_dir: Option<&Path>,
    cache_tag: &str,
) -> Result<ImageBatch> {
    let key = {
        let mut s = String::from(cache_tag);
        s.push_str(&serde_json::to_string(pre).unwrap_or_default());
        for (f, m, r) in files {
            s.push_str(&format!("\n{}:{r}", f.display()));
            if let Some(m) = m {
                s.push_str(&format!("|{}", m.display()));
            }
        }
        sha256_bytes(s.as_bytes())
    };
    let channels = pre.channels.count();
    let per = channels * pre.width * pre.height;
    if let Some(dir) = cache_dir {
        let p = dir.join(format!("{key}.f32"));
        if let Ok(bytes) = std::fs::read(&p) {
            let n = files.len() * per * 4;
            let intact = bytes.len() == n + 32 && bytes[n..] == Sha256::digest(&bytes[..n])[..];
            if intact {
                let data = bytes[..n]
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                return Ok(ImageBatch {
                    data,
                    n: files.len(),
                    channels,
                    height: pre.height,
                    width: pre.width,
                    from_cache: true,
                });
            }
        }
    }
    let imgs: Vec<Vec<Gray>> = files
        .par_iter()
        .map(|(f, mask, right)| match mask {
            Some(m) => pre.read_region_input(f, m, *right),
            None => pre.read_input(f, *right),
        })
        .collect::<Result<_>>()?;
    let mut data = Vec::with_capacity(files.len() * per);
    for g in imgs.iter().flatten() {
        data.extend_from_slice(&g.pixels);
    }
    if let Some(dir) = cache_dir {
        std::fs::create_dir_all(dir).at(dir)?;
        let p = dir.join(format!("{key}.f32"));
        let mut bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        let sum = Sha256::digest(&bytes);
        bytes.extend_from_slice(&sum);
        // Written whole, then renamed: a crash never leaves a half cache file.
        crate::outlock::write_atomic(&p, &bytes)?;
    }
    Ok(ImageBatch {
        data,
        n: files.len(),
        channels,
        height: pre.height,
        width: pre.width,
        from_cache: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(width: usize, height: usize, f: impl Fn(usize, usize) -> f32) -> Gray {
        Gray {
            width,
            height,
            pixels: (0..height)
                .flat_map(|y| (0..width).map(move |x| (x, y)))
                .map(|(x, y)| f(x, y))
                .collect(),
        }
    }

    #[test]
    fn colour_planes_are_cropped_and_mirrored_together_as_their_grey_decides() {
        // A bright object in columns 4..8 of an 8 x 4 image: only the red plane marks its
        // first column, so the planes must move together for red to stay on its edge.
        let inside = |x: usize| (4..8).contains(&x);
        let red = plane(8, 4, |x, _| {
            if x == 4 {
                1.0
            } else if inside(x) {
                0.5
            } else {
                0.0
            }
        });
        let green = plane(8, 4, |x, _| if inside(x) { 0.6 } else { 0.0 });
        let blue = plane(8, 4, |x, _| if inside(x) { 0.4 } else { 0.0 });
        let pre = Preprocess::new(4, 4)
            .with_filter(Filter::Nearest)
            .with_crop(0.05)
            .with_orient(Orient::Pixels)
            .with_channels(Channels::Rgb);
        let planes = [red, green, blue];
        let out = pre.apply_planes(&planes, false).unwrap();
        assert_eq!(out.len(), 3);
        // Cropped to columns 4..8, then mirrored (the object is on the right in the grey):
        // red's marked column ends up last.
        assert_eq!(out[0].pixels[..4], [0.5, 0.5, 0.5, 1.0]);
        assert_eq!(out[1].pixels[..4], [0.6; 4]);
        assert_eq!(out[2].pixels[..4], [0.4; 4]);
        // The grey recipe on the grey of the same image crops and mirrors the same way.
        let grey = pre.clone().with_channels(Channels::Grey);
        let g = grey.apply(&luma(&planes), false).unwrap();
        assert_eq!(g.pixels, luma(&out).pixels);
        assert_eq!(Channels::Rgb.count(), 3);
        // A grey recipe serialises as before (no `channels` key: old caches and checkpoints
        // keep their keys); a colour one says so.
        let json = serde_json::to_string(&grey).unwrap();
        assert!(!json.contains("channels"), "{json}");
        assert!(serde_json::to_string(&pre)
            .unwrap()
            .contains(r#""channels":"rgb""#));
    }
}
