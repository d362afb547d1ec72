//! Values of the command line's options that clap parses into more than a string.

use clap::ValueEnum;

/// `--class-weights`: the two settings the CLI offers of [`ClassWeights`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Weights {
    /// `n / (k * n_c)` per class (scikit-learn's "balanced").
    #[value(alias = "balanced")]
    Auto,
    /// Every class weighs 1 (seed 001's setup).
    None,
}

/// `synth --profile`: which download the generated folder imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Twin {
    /// The hospital export at the ci scale.
    Ci,
    /// The hospital export at the default scale.
    Default,
    /// The hospital export at the large scale.
    Large,
    /// Seed 001's hospital export (`--scale`, default `default`).
    HospitalExport,
    /// The CBIS-DDSM download (`--scale ci|default`, default `default`).
    CbisDdsm,
    /// Kaggle's DDSM Mammography download, seed 004's (`--scale ci|default`): 299 x 299
    /// patches in five TFRecord shards and two NumPy array pairs.
    Ddsm,
    /// The mini-MIAS download, seed 002's third source (`--scale ci|default`): `Info.txt`
    /// and `all-mias/mdb001.pgm` ...
    MiniMias,
    /// The INbreast release, seed 002's second source (`--scale ci|default`): `INbreast.xls`
    /// and `AllDICOMs/<File Name>_<patient>_MG_<side>_<view>_ANON.dcm`.
    Inbreast,
    /// Kaggle's IDC histology patches, seed 003's (`--scale ci|default`):
    /// `IDC_regular_ps50_idx5/<patient>/<0|1>/<patient>_idx5_x<X>_y<Y>_class<0|1>.png`.
    Idc,
    /// Seed 002's cohort (`--scale ci|default`): the CBIS-DDSM, INbreast and mini-MIAS twins
    /// side by side and one manifest joining them in three classes.
    ThreeSources,
    /// The RSNA Screening Mammography download, seed 000's (`--scale ci|default`):
    /// `train.csv`, `train_images/<patient_id>/<image_id>.dcm` in JPEG 2000 lossless (site 1)
    /// and JPEG lossless (site 2), `test.csv`, `sample_submission.csv`.
    Rsna,
}

/// `--fractions`: three shares adding up to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FractionsArg(pub(crate) mammolab::dataset::Fractions);

impl std::str::FromStr for FractionsArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let v: Vec<f64> = s
            .split(',')
            .map(|p| p.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| format!("`{s}` is not three numbers separated by commas"))?;
        let [train, val, test] = v[..] else {
            return Err(format!("`{s}` is not three numbers separated by commas"));
        };
        mammolab::dataset::Fractions::new(train, val, test)
            .map(Self)
            .map_err(|e| e.to_string())
    }
}

/// `--grad-clip`: a positive number, or `none`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Clip(pub(crate) Option<f64>);

impl std::str::FromStr for Clip {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("none") {
            return Ok(Self(None));
        }
        match s.parse::<f64>() {
            Ok(n) if n > 0.0 && n.is_finite() => Ok(Self(Some(n))),
            _ => Err(format!("`{s}` is not a positive number or `none`")),
        }
    }
}

/// `--seeds`: `1..5` (inclusive) or `1,4,9`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Seeds(pub(crate) Vec<u64>);

impl std::str::FromStr for Seeds {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let num = |t: &str| {
            t.trim()
                .parse::<u64>()
                .map_err(|_| format!("`{t}` is not a seed (a whole number)"))
        };
        let seeds = match s.split_once("..") {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b.trim_start_matches('='))?);
                if b < a || b - a >= 1000 {
                    return Err(format!("`{s}`: give a rising range of at most 1000 seeds"));
                }
                (a..=b).collect()
            }
            None => s.split(',').map(num).collect::<Result<Vec<_>, _>>()?,
        };
        Ok(Self(seeds))
    }
}
