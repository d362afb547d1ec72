//! P5/P6 benchmark, Rust side: training throughput of seed 001's CNN.
//!
//! Usage: `bench_train SIZE CHANNELS BATCH IMAGES EPOCHS [cpu|cuda]`. Trains on IMAGES
//! random images (seed 1) with Adam at 1e-3 and cross-entropy, EPOCHS epochs; prints one
//! JSON object with the images/s of each epoch (the first includes start-up) and the
//! seconds from the start of training to the end of the first step (on CUDA: kernel
//! compilation). Run it through `bash scripts/bench.sh p5` (CPU, against PyTorch) or
//! `benches/p6_cuda.py` (GPU, against PyTorch).

use std::time::Instant;

use clap::ValueEnum;
use mammolab::dataset::{Channels, Preprocess, Samples};
use mammolab::model::{
    keep_freed_memory, CnnConfig, ComputeDevice, ModelConfig, Progress, TrainConfig, Trainer,
};

/// Remembers when the first step finished.
struct FirstStep {
    start: Instant,
    first: Option<f64>,
}

impl Progress for FirstStep {
    fn on_step(&mut self, _epoch: usize, _step: usize, _loss: f64) {
        self.first.get_or_insert(self.start.elapsed().as_secs_f64());
    }
}

/// The recipe's channel setting for a channel count (1 grey, 3 RGB).
fn channels_of(n: usize) -> Result<Channels, Box<dyn std::error::Error>> {
    match n {
        1 => Ok(Channels::Grey),
        3 => Ok(Channels::Rgb),
        _ => Err(format!("CHANNELS is 1 or 3, not {n}").into()),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let device = ComputeDevice::from_str(args.get(5).map_or("cpu", |s| s.as_str()), true)?;
    // As the CLI does before training (see keep_freed_memory's docs).
    keep_freed_memory();
    let a: Vec<usize> = args
        .iter()
        .take(5)
        .map(|s| s.parse())
        .collect::<Result<_, _>>()?;
    let [size, channels, batch, images, epochs] = a[..] else {
        return Err("usage: bench_train SIZE CHANNELS BATCH IMAGES EPOCHS [cpu|cuda]".into());
    };
    let mut rng = mammolab::rng::Rng::new(1);
    let data: Vec<f32> = (0..images * channels * size * size)
        .map(|_| rng.f64() as f32)
        .collect();
    let labels: Vec<usize> = (0..images).map(|i| i % 2).collect();
    let samples = Samples::new(data, [images, channels, size, size], labels)?;
    let config = TrainConfig {
        epochs,
        batch_size: batch,
        ..TrainConfig::default()
    };
    let model = ModelConfig::Cnn(CnnConfig::seed001(2));
    let recipe = Preprocess::new(size, size).with_channels(channels_of(channels)?);
    let mut t = Trainer::new(model, recipe, config, device)?;
    let mut progress = FirstStep {
        start: Instant::now(),
        first: None,
    };
    t.fit(&samples, None, &mut progress)?;
    let ips: Vec<f64> = t
        .history()
        .epochs
        .iter()
        .map(|e| e.images_per_second)
        .collect();
    println!(
        "{{\"images_per_second\": {ips:?}, \"first_step_seconds\": {}, \"threads\": {}}}",
        progress.first.unwrap_or(f64::NAN),
        rayon::current_num_threads()
    );
    Ok(())
}
