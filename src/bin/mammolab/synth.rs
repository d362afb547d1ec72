//! `mammolab synth`:
//! Generate a synthetic cohort shaped like seed 001's hospital export.

use std::path::PathBuf;
use std::time::Instant;

use clap::ValueEnum;
use mammolab::pipeline::report;
use mammolab::synth::{self, Profile, SynthOptions};

use crate::args::Twin;
use crate::output::print_json_with_seconds;

/// `mammolab synth`'s options.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// What to imitate: hospital-export (seed 001's workbooks and image folders) or one of
    /// the public downloads listed below; ci, default and large are short for
    /// hospital-export at that scale.
    #[arg(long, default_value = "default")]
    profile: Twin,
    /// ci (small, for tests and CI), default (seed 001's sizes; CBIS-DDSM: 2560 x 1600
    /// films) or large (hospital export only: 5x, for benchmarks).
    #[arg(long)]
    scale: Option<Profile>,
    /// Output folder (created; must be empty unless --force).
    #[arg(long)]
    out: PathBuf,
    /// Generator seed: the same profile and seed give byte-identical files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Lesion contrast multiplier (1.0 = the profile's; lower is harder).
    #[arg(long)]
    conspicuity: Option<f32>,
    /// Replace a cohort already in --out (only the files synth writes).
    #[arg(long)]
    force: bool,
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let Args {
        profile,
        scale,
        out,
        seed,
        conspicuity,
        force,
        json,
    } = args;
    let (twin, scale) = twin_and_scale(profile, scale)?;
    if conspicuity.is_some() && !matches!(twin, Twin::HospitalExport | Twin::CbisDdsm) {
        anyhow::bail!("--conspicuity is for the hospital-export and cbis-ddsm twins");
    }
    // A public download's twin at `scale` (its generator's first step).
    let public = || synth::TwinOptions::new(scale).map(|o| o.with_seed(seed).with_overwrite(force));
    match twin {
        Twin::ThreeSources => synth_twin(
            json,
            || synth::sources::generate(&public()?, &out),
            report::three_sources,
            |s| {
                let files = s.cbis_ddsm.files + s.inbreast.files + s.mini_mias.files + 1;
                let bytes = s.cbis_ddsm.bytes + s.inbreast.bytes + s.mini_mias.bytes;
                (files, bytes)
            },
        ),
        Twin::Inbreast => synth_twin(
            json,
            || synth::inbreast::generate(&public()?, &out),
            report::inbreast_twin,
            |s| (s.files, s.bytes),
        ),
        Twin::Rsna => synth_twin(
            json,
            || synth::rsna::generate(&public()?, &out),
            report::rsna_twin,
            |s| (s.files, s.bytes),
        ),
        Twin::Idc => synth_twin(
            json,
            || synth::idc::generate(&public()?, &out),
            report::idc_twin,
            |s| (s.files, s.bytes),
        ),
        Twin::MiniMias => synth_twin(
            json,
            || synth::mias::generate(&public()?, &out),
            report::mias_twin,
            |s| (s.files, s.bytes),
        ),
        Twin::Ddsm => synth_twin(
            json,
            || synth::ddsm::generate(&public()?, &out),
            report::ddsm_twin,
            |s| (s.written, s.bytes),
        ),
        Twin::CbisDdsm => {
            let mut opts = synth::cbis::CbisOptions::of(public()?);
            if let Some(c) = conspicuity {
                opts = opts.with_conspicuity(c);
            }
            synth_twin(
                json,
                || synth::cbis::generate(&opts, &out),
                report::cbis_twin,
                |s| (s.files, s.bytes),
            )
        }
        Twin::HospitalExport | Twin::Ci | Twin::Default | Twin::Large => {
            let mut opts = SynthOptions::new(scale)
                .with_seed(seed)
                .with_overwrite(force);
            if let Some(c) = conspicuity {
                opts = opts.with_conspicuity(c);
            }
            synth_twin(
                json,
                || synth::generate(&opts, &out),
                report::hospital_cohort,
                |s| (s.files, s.bytes),
            )
        }
    }
}

/// The twin and scale `--profile` and `--scale` name: `ci`, `default` and `large` are the
/// hospital export at that scale (and take no `--scale`); another twin is at `--scale`
/// (default: `default`).
fn twin_and_scale(profile: Twin, scale: Option<Profile>) -> anyhow::Result<(Twin, Profile)> {
    Ok(match (profile, scale) {
        (Twin::Ci | Twin::Default | Twin::Large, Some(_)) => anyhow::bail!(
            "--profile {} names a scale already; use --profile hospital-export --scale ...",
            profile
                .to_possible_value()
                .expect("no skipped values")
                .get_name()
        ),
        (Twin::Ci, None) => (Twin::HospitalExport, Profile::Ci),
        (Twin::Default, None) => (Twin::HospitalExport, Profile::Default),
        (Twin::Large, None) => (Twin::HospitalExport, Profile::Large),
        (t, s) => (t, s.unwrap_or(Profile::Default)),
    })
}

/// `synth` of a public-download twin whose report lives in `pipeline::report`: generate,
/// then print the summary as JSON (with the seconds) or as `text`'s report and the size line
/// (`size`: files and bytes written).
pub(crate) fn synth_twin<S: serde::Serialize>(
    json: bool,
    generate: impl FnOnce() -> mammolab::Result<S>,
    text: impl Fn(&S) -> String,
    size: impl Fn(&S) -> (usize, u64),
) -> anyhow::Result<()> {
    let t = Instant::now();
    let s = generate()?;
    let seconds = t.elapsed().as_secs_f64();
    if json {
        return print_json_with_seconds(&s, seconds);
    }
    print!("{}", text(&s));
    let (files, bytes) = size(&s);
    println!("{}", report::files_written(files, bytes, seconds));
    Ok(())
}
