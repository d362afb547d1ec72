//! P4 benchmark, Rust side: ROC AUC + average precision on raw arrays.
//!
//! Usage: `bench_metrics LABELS.u8 SCORES.f64 REPEATS` (files as written by
//! benches/p4_metrics.py). Prints one JSON object: values and best-of-REPEATS seconds.
//! Run it through `bash scripts/bench.sh p4`, which compares with scikit-learn.

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        return Err("usage: bench_metrics LABELS.u8 SCORES.f64 REPEATS".into());
    }
    let labels: Vec<bool> = std::fs::read(&args[1])?
        .into_iter()
        .map(|b| b != 0)
        .collect();
    let scores: Vec<f64> = std::fs::read(&args[2])?
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect();
    let repeats: usize = args[3].parse()?;
    let mut best = f64::INFINITY;
    let (mut auc, mut ap) = (0.0, 0.0);
    for _ in 0..repeats {
        let t = Instant::now();
        auc = mammolab::eval::roc_auc(&labels, &scores)?;
        ap = mammolab::eval::average_precision(&labels, &scores)?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{{\"roc_auc\": {auc:?}, \"average_precision\": {ap:?}, \"seconds\": {best}, \"threads\": {}}}",
        rayon::current_num_threads()
    );
    Ok(())
}
