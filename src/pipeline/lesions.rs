//! Saliency maps of a synthetic cohort checked against its ground truth: where each planted
//! lesion is, from `ground_truth.json`, against each map's peak ([`LesionHit`]).

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, IoContext, Result};
use crate::eval::LesionHit;
use crate::model::Saliency;
use crate::synth;

/// Each map of an image with a planted lesion, against the lesion's position in
/// `ground_truth.json` of the cohort in `root`. `maps` pairs each image file with its
/// [`Saliency`]; files are matched to the truth by name
/// (`FILE0004.jpg` and `FILE0004.dcm` are image `FILE0004`). Images without a lesion are
/// left out.
pub fn lesion_hits<P: AsRef<Path>>(root: &Path, maps: &[(P, Saliency)]) -> Result<Vec<LesionHit>> {
    let path = root.join(synth::TRUTH);
    let text = std::fs::read_to_string(&path).at(&path)?;
    let truth: synth::truth::GroundTruth =
        serde_json::from_str(&text).map_err(|e| Error::data(&path, e))?;
    let by_file: HashMap<&str, (&String, [f32; 3])> = truth
        .images
        .iter()
        .filter_map(|i| Some((i.file.as_str(), (i.lesion.as_ref()?, i.lesion_xyr?))))
        .collect();
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
