//! A synthetic cohort's planted lesions, from its `ground_truth.json`, against what a model
//! made of the images: each saliency map's peak ([`LesionHit`]), and how much of each
//! lesion's contrast a VAE's reconstruction keeps ([`LesionContrast`]).

use std::collections::HashMap;
use std::path::Path;

use crate::dataset::{Part, Prepared, Samples};
use crate::error::{Error, IoContext, Result};
use crate::eval::{by_lesion_kind, median, LesionHit};
use crate::model::Saliency;
use crate::synth;
use polars::prelude::{Column, DataFrame};

/// Kind and circle (centre x, y and radius in image pixels) of each image's planted lesion
/// in `root`'s `ground_truth.json`, by file stem (`FILE0004`; `1833252185` for the RSNA
/// twin's `train_images/10283/1833252185.dcm`). A synthetic hospital cohort records
/// `lesion` and `lesion_xyr`; the RSNA twin `look` and `bbox` (`[x0, y0, x1, y1)`), read as
/// the circle inscribed in the box.
fn planted(root: &Path) -> Result<HashMap<String, (String, [f32; 3])>> {
    let path = root.join(synth::TRUTH);
    let text = std::fs::read_to_string(&path).at(&path)?;
    let truth: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::data(&path, e))?;
    let images = truth["images"]
        .as_array()
        .ok_or_else(|| Error::data(&path, "no `images` list"))?;
    let numbers = |v: &serde_json::Value| -> Option<Vec<f32>> {
        v.as_array()?
            .iter()
            .map(|x| Some(x.as_f64()? as f32))
            .collect()
    };
    let mut out = HashMap::new();
    for (n, i) in images.iter().enumerate() {
        let kind = i["lesion"].as_str().or_else(|| i["look"].as_str());
        let circle = match (numbers(&i["lesion_xyr"]), numbers(&i["bbox"])) {
            (Some(c), _) if c.len() == 3 => Some([c[0], c[1], c[2]]),
            (_, Some(b)) if b.len() == 4 => Some([
                (b[0] + b[2]) / 2.0,
                (b[1] + b[3]) / 2.0,
                (b[2] - b[0]).min(b[3] - b[1]) / 2.0,
            ]),
            _ => None,
        };
        let (Some(kind), Some(circle)) = (kind, circle) else {
            continue;
        };
        let stem = i["file"]
            .as_str()
            .and_then(|f| Path::new(f).file_stem()?.to_str())
            .ok_or_else(|| Error::data(&path, format!("image {n} with a lesion has no `file`")))?;
        out.insert(stem.to_string(), (kind.to_string(), circle));
    }
    Ok(out)
}

/// Each map of an image with a planted lesion, against the lesion's position in
/// `ground_truth.json` of the cohort in `root`. `maps` pairs each image file with its
/// [`Saliency`]; files are matched to the truth by name
/// (`FILE0004.jpg` and `FILE0004.dcm` are image `FILE0004`). Images without a lesion are
/// left out.
pub fn lesion_hits<P: AsRef<Path>>(root: &Path, maps: &[(P, Saliency)]) -> Result<Vec<LesionHit>> {
    let by_file = planted(root)?;
    Ok(maps
        .iter()
        .filter_map(|(file, s)| {
            let file = file.as_ref();
            let (kind, [x, y, r]) = by_file.get(file.file_stem()?.to_str()?)?;
            let (x0, y0, x1, y1) = s.placement.crop;
            Some(LesionHit::new(
                file.display().to_string(),
                kind.to_string(),
                [*x as f64, *y as f64, *r as f64],
                s.peak(),
                ((x1 - x0) * (y1 - y0)) as f64,
            ))
        })
        .collect())
}

/// One planted lesion's contrast in a model's input and in what the model made of it (a
/// VAE's reconstruction): the mean of the input pixels whose centres fall inside the
/// lesion's circle minus the mean of those in the ring out to twice its radius, in the
/// model's input units (normalised pixels); and how much of the input's variation around
/// the lesion the output reproduces. Contrast alone can be faked by an output full of
/// artefacts that happen to be brighter on the lesion: look at both.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LesionContrast {
    /// The image's position in the part (its sample index there).
    pub index: usize,
    /// The image file.
    pub file: String,
    /// The lesion's kind as the ground truth names it (`spiculated_mass`, `calcifications`,
    /// `benign_mass`; the RSNA twin's `suspicious_mass`, ...).
    pub lesion: String,
    /// Input pixels inside the circle.
    pub pixels: usize,
    /// Contrast in the input.
    pub input: f64,
    /// Contrast in the output.
    pub output: f64,
    /// Over the circle and its ring: 1 - (squared output - input differences) / (squared
    /// input deviations from their mean), the R^2 of the output as a prediction of the
    /// input there. 1: the lesion and its surroundings reproduced; 0: no better than their
    /// mean grey; below 0: worse.
    pub explained: f64,
}

impl LesionContrast {
    /// The share of the input's contrast the output keeps (1: all of it; 0: none).
    pub fn kept(&self) -> f64 {
        self.output / self.input
    }
}

/// Each planted lesion of `part` in the cohort at `root`: its contrast in the part's input
/// images and in `output` (the same images in the same order and shape, as a VAE
/// reconstructs them: [`crate::model::Trainer::reconstruct`] of every index of the part).
/// Each lesion's circle is carried into input pixels through the image's
/// [`crate::dataset::Placement`] (crop and mirroring), so each image is decoded again; images
/// without a lesion, and lesions that cover no input pixel, have no ring around them or
/// show no variation in the input, are left out.
pub fn lesion_contrast(
    root: &Path,
    data: &Prepared,
    part: Part,
    output: &Samples,
) -> Result<Vec<LesionContrast>> {
    // The part's input images are read where they are (`data.all`), not copied out.
    let indices = data.indices(part);
    let [_, c, h, w] = data.all.shape;
    let expected = [indices.len(), c, h, w];
    if output.shape != expected {
        return Err(Error::input(
            "lesion contrast",
            format!(
                "the output's shape {:?} is not the {} part's {expected:?}",
                output.shape,
                part.name(),
            ),
        ));
    }
    let by_file = planted(root)?;
    let per = c * h * w;
    let recipe = &data.options.preprocess;
    let mut out = vec![];
    for (k, &i) in indices.iter().enumerate() {
        let item = &data.items[i];
        let Some(stem) = item.path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let Some((kind, [x, y, r])) = by_file.get(stem) else {
            continue;
        };
        let planes = recipe.decode(&item.path)?;
        let placement = recipe.placement(&planes[0], item.is_right());
        let (x, y, r) = (*x as f64, *y as f64, *r as f64);
        let [mut inside, mut ring] = [vec![], vec![]];
        for v in 0..h {
            for u in 0..w {
                let (px, py) = placement.to_image(u, v);
                let d = (px - x).hypot(py - y);
                if d <= r {
                    inside.push(v * w + u);
                } else if d <= 2.0 * r {
                    ring.push(v * w + u);
                }
            }
        }
        if inside.is_empty() || ring.is_empty() {
            continue;
        }
        // Over every channel: the planes of one pixel share its position.
        let contrast = |values: &[f32]| {
            let mean = |at: &[usize]| {
                let s: f64 = (0..c)
                    .flat_map(|ch| at.iter().map(move |&p| values[ch * h * w + p] as f64))
                    .sum();
                s / (at.len() * c) as f64
            };
            mean(&inside) - mean(&ring)
        };
        let a = &data.all.data[i * per..(i + 1) * per];
        let b = &output.data[k * per..(k + 1) * per];
        let window: Vec<usize> = (0..c)
            .flat_map(|ch| inside.iter().chain(&ring).map(move |&p| ch * h * w + p))
            .collect();
        let mean = window.iter().map(|&p| a[p] as f64).sum::<f64>() / window.len() as f64;
        let (mut sse, mut sst) = (0.0, 0.0);
        for &p in &window {
            sse += (b[p] as f64 - a[p] as f64).powi(2);
            sst += (a[p] as f64 - mean).powi(2);
        }
        if sst <= 0.0 {
            continue;
        }
        out.push(LesionContrast {
            index: k,
            file: item.path.display().to_string(),
            lesion: kind.clone(),
            pixels: inside.len(),
            input: contrast(a),
            output: contrast(b),
            explained: 1.0 - sse / sst,
        });
    }
    Ok(out)
}

/// [`LesionContrast`]s per lesion kind and over all (`all`, the last row): how many, and the
/// medians of the pixels inside the circle, the input's and the output's contrast, the
/// share kept and R^2 (`explained`).
pub fn lesion_contrast_table(lesions: &[LesionContrast]) -> Result<DataFrame> {
    let groups = by_lesion_kind(lesions, |l| &l.lesion);
    let median_of = |f: fn(&LesionContrast) -> f64| -> Vec<f64> {
        groups
            .iter()
            .map(|(_, g)| median(g.iter().map(|l| f(l)).collect()))
            .collect()
    };
    DataFrame::new_infer_height(vec![
        Column::new(
            "lesion".into(),
            groups.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        ),
        Column::new(
            "lesions".into(),
            groups
                .iter()
                .map(|(_, g)| g.len() as u32)
                .collect::<Vec<_>>(),
        ),
        Column::new("pixels".into(), median_of(|l| l.pixels as f64)),
        Column::new("input_contrast".into(), median_of(|l| l.input)),
        Column::new("output_contrast".into(), median_of(|l| l.output)),
        Column::new("kept".into(), median_of(LesionContrast::kept)),
        Column::new("explained".into(), median_of(|l| l.explained)),
    ])
    .map_err(|e| Error::table("lesion contrast", e))
}
