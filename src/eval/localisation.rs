//! Does a saliency map point at the lesion? The peak of each map against a lesion whose
//! position is known (a synthetic cohort's ground truth), beside what chance would score.

use polars::prelude::{Column, DataFrame};

use crate::error::{Error, Result};

/// One saliency map's peak against a lesion whose position is known
/// ([`crate::pipeline::lesion_hits`] measures a synthetic cohort's).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LesionHit {
    /// The image file.
    pub file: String,
    /// `spiculated_mass`, `calcifications` or `benign_mass`.
    pub lesion: String,
    /// Lesion centre and radius in image pixels.
    pub circle: [f64; 3],
    /// The map's peak in image pixels (`None`: nothing in the map was positive).
    pub peak: Option<(f64, f64)>,
    /// Peak to lesion centre, in radii.
    pub distance_in_radii: Option<f64>,
    /// The probability that a point drawn uniformly in the model's crop box falls inside
    /// the lesion: what "inside" scores by chance.
    pub chance: f64,
}

impl LesionHit {
    /// The peak `peak` (image pixels; `None`: nothing in the map was positive) of `file`'s
    /// map against its `lesion` at `circle` (centre x, y and radius in image pixels; a radius
    /// below 1e-9 is taken as 1e-9), in a crop box of `crop_area` pixels (at least 1).
    pub fn new(
        file: String,
        lesion: String,
        circle: [f64; 3],
        peak: Option<(f64, f64)>,
        crop_area: f64,
    ) -> Self {
        let [x, y, r] = circle;
        let r = r.max(1e-9);
        Self {
            file,
            lesion,
            circle: [x, y, r],
            peak,
            distance_in_radii: peak.map(|(px, py)| (px - x).hypot(py - y) / r),
            chance: (std::f64::consts::PI * r * r / crop_area.max(1.0)).min(1.0),
        }
    }

    /// The peak lies inside the lesion's circle.
    pub fn inside(&self) -> bool {
        self.within(1.0)
    }

    /// The peak lies within `k` radii of the lesion's centre (a map as coarse as Grad-CAM's
    /// 12 x 12 cells at 64 px, ~20 image pixels each, rarely peaks inside a lesion of radius 8
    /// even when it is centred on it: `within(2.0)` allows for that).
    pub fn within(&self, k: f64) -> bool {
        self.distance_in_radii.is_some_and(|d| d <= k)
    }
}

/// `items` grouped by their lesion kind (`kind`), kinds in name order, then every item as
/// the group `all`: the rows of a per-lesion table.
pub(crate) fn by_lesion_kind<T>(items: &[T], kind: impl Fn(&T) -> &str) -> Vec<(String, Vec<&T>)> {
    let mut kinds: Vec<&str> = items.iter().map(&kind).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let mut groups: Vec<(String, Vec<&T>)> = kinds
        .into_iter()
        .map(|k| {
            (
                k.to_string(),
                items.iter().filter(|i| kind(i) == k).collect(),
            )
        })
        .collect();
    groups.push(("all".into(), items.iter().collect()));
    groups
}

/// The median of `v` (NaN when it is empty).
pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        f64::NAN
    } else {
        super::quantile_sorted(&v, 0.5)
    }
}

/// [`LesionHit`]s of one or more methods (`(name, hits)`), per lesion kind and over all:
/// images, maps without a positive value (`no_peak`, counted as misses), the fraction of
/// peaks inside the lesion and within two radii of its centre, each beside its chance (the
/// mean over images of the circle's share of the crop box), and the median peak distance in
/// radii (of the maps with a peak).
pub fn lesion_hit_table(methods: &[(&str, &[LesionHit])]) -> Result<DataFrame> {
    let mut groups: Vec<(String, String, Vec<&LesionHit>)> = vec![];
    for (method, hits) in methods {
        for (kind, g) in by_lesion_kind(hits, |h| &h.lesion) {
            groups.push((method.to_string(), kind, g));
        }
    }
    let n: Vec<u32> = groups.iter().map(|(_, _, g)| g.len() as u32).collect();
    let within = |k: f64| -> Vec<f64> {
        groups
            .iter()
            .map(|(_, _, g)| {
                g.iter().filter(|h| h.within(k)).count() as f64 / g.len().max(1) as f64
            })
            .collect()
    };
    let chance = |k: f64| -> Vec<f64> {
        groups
            .iter()
            .map(|(_, _, g)| {
                let c: f64 = g.iter().map(|h| (h.chance * k * k).min(1.0)).sum();
                c / g.len().max(1) as f64
            })
            .collect()
    };
    let no_peak: Vec<u32> = groups
        .iter()
        .map(|(_, _, g)| g.iter().filter(|h| h.peak.is_none()).count() as u32)
        .collect();
    let text = |f: fn(&(String, String, Vec<&LesionHit>)) -> String| {
        groups.iter().map(f).collect::<Vec<_>>()
    };
    DataFrame::new_infer_height(vec![
        Column::new("method".into(), text(|g| g.0.clone())),
        Column::new("lesion".into(), text(|g| g.1.clone())),
        Column::new("images".into(), n),
        Column::new("no_peak".into(), no_peak),
        Column::new("inside".into(), within(1.0)),
        Column::new("chance_inside".into(), chance(1.0)),
        Column::new("within_2r".into(), within(2.0)),
        Column::new("chance_2r".into(), chance(2.0)),
        Column::new(
            "median_distance_radii".into(),
            groups
                .iter()
                .map(|(_, _, g)| median(g.iter().filter_map(|h| h.distance_in_radii).collect()))
                .collect::<Vec<_>>(),
        ),
    ])
    .map_err(|e| Error::table("lesion hits", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One row per method and lesion kind (kinds in name order), then the method's `all`;
    /// counts and median peak distances per row.
    #[test]
    fn the_hit_table_groups_by_method_then_kind() {
        let hit = |kind: &str, peak: Option<(f64, f64)>| {
            LesionHit::new("f".into(), kind.into(), [10.0, 10.0, 2.0], peak, 400.0)
        };
        let a = [
            hit("spiculated_mass", Some((10.0, 12.0))),
            hit("benign_mass", Some((10.0, 18.0))),
            hit("spiculated_mass", Some((10.0, 16.0))),
            hit("spiculated_mass", None),
        ];
        let b = [hit("calcifications", Some((10.0, 10.0)))];
        let t = lesion_hit_table(&[("gradcam", &a), ("occlusion", &b)]).unwrap();
        let text = |c: &str| -> Vec<String> {
            t.column(c)
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .map(|v| v.unwrap().to_string())
                .collect()
        };
        assert_eq!(
            text("method"),
            ["gradcam", "gradcam", "gradcam", "occlusion", "occlusion"]
        );
        assert_eq!(
            text("lesion"),
            [
                "benign_mass",
                "spiculated_mass",
                "all",
                "calcifications",
                "all"
            ]
        );
        let n: Vec<u32> = t
            .column("images")
            .unwrap()
            .u32()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(n, [1, 3, 4, 1, 1]);
        let d: Vec<f64> = t
            .column("median_distance_radii")
            .unwrap()
            .f64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        // spiculated: distances 1 and 3 radii (the miss has none): median 2.
        assert_eq!(d, [4.0, 2.0, 3.0, 0.0, 0.0]);
        assert!(median(vec![]).is_nan());
    }
}
