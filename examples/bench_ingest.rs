//! P1-P3 benchmarks, Rust side. Run through `bash scripts/bench.sh p1 p2 p3`, which
//! compares with pandas / os.walk / pydicom in the same run.
//!
//! - `bench_ingest sheets REPEATS WORKBOOK...`: read every sheet into DataFrames.
//! - `bench_ingest sheets-cached REPEATS DIR WORKBOOK...`: the same, a second time, from the
//!   cache in DIR (filled by one read first; `SheetOptions::with_cache`).
//! - `bench_ingest merge REPEATS MANIFEST`: the whole audited merge with image resolution
//!   and DICOM header checks.
//! - `bench_ingest pixels REPEATS SIZE FILE...`: decode + window + resize to SIZE x SIZE.
//!
//! Prints one JSON object: best-of-REPEATS seconds and a checksum of the work done.

use std::path::PathBuf;
use std::time::Instant;

use mammolab::dataset::{load_images, Preprocess};
use mammolab::imaging::Filter;
use mammolab::ingest::merge::merge;
use mammolab::ingest::sheets::{read_all, SheetOptions};
use mammolab::manifest::Manifest;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: bench_ingest sheets|sheets-cached|merge|pixels REPEATS ...";
    let (what, repeats) = match args.get(1..3) {
        Some([w, r]) => (w.as_str(), r.parse::<usize>()?),
        _ => return Err(usage.into()),
    };
    let sheets =
        |options: &SheetOptions, books: &[String]| -> Result<usize, Box<dyn std::error::Error>> {
            let mut cells = 0;
            for f in books {
                for s in read_all(f, options)? {
                    let df = s.to_dataframe()?;
                    cells += df.height() * df.width();
                }
            }
            Ok(cells)
        };
    let cached = SheetOptions::default().with_cache(args.get(3).cloned().unwrap_or_default());
    if what == "sheets-cached" {
        sheets(&cached, &args[4..])?;
    }
    let mut best = f64::INFINITY;
    let mut check = 0usize;
    for _ in 0..repeats {
        let t = Instant::now();
        check = match what {
            "sheets" => sheets(&SheetOptions::default(), &args[3..])?,
            "sheets-cached" => sheets(&cached, &args[4..])?,
            "merge" => {
                let m = Manifest::open(&args[3])?;
                let r = merge(&m)?;
                r.summary.images.resolved
            }
            "pixels" => {
                let size: usize = args[3].parse()?;
                let files: Vec<(PathBuf, bool)> = args[4..]
                    .iter()
                    .map(|f| (PathBuf::from(f), false))
                    .collect();
                let pre = Preprocess::new(size, size).with_filter(Filter::Bilinear);
                load_images(&files, &pre, None, "")?.n
            }
            _ => return Err(usage.into()),
        };
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{{\"seconds\": {best}, \"check\": {check}, \"threads\": {}}}",
        rayon::current_num_threads()
    );
    Ok(())
}
