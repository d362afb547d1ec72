//! P5 benchmark, Rust side: training throughput of seed 001's CNN on burn's Flex CPU backend.
//!
//! Usage: `bench_train SIZE CHANNELS BATCH IMAGES EPOCHS`. Trains on IMAGES random images
//! (seed 1) with Adam at 1e-3 and cross-entropy, EPOCHS epochs; prints one JSON object with
//! the images/s of each epoch (the first includes start-up). Run it through
//! `bash scripts/bench.sh p5`, which runs PyTorch on the same network, input and batch.

use mammolab::model::train::Silent;
use mammolab::model::{CnnConfig, ComputeDevice, ModelConfig, Samples, TrainConfig, Trainer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<usize> = std::env::args()
        .skip(1)
        .map(|s| s.parse())
        .collect::<Result<_, _>>()?;
    let [size, channels, batch, images, epochs] = a[..] else {
        return Err("usage: bench_train SIZE CHANNELS BATCH IMAGES EPOCHS".into());
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
    let model = ModelConfig::Cnn(CnnConfig::seed001(size, channels, 2));
    let mut t = Trainer::new(model, config, ComputeDevice::Cpu)?;
    t.fit(&samples, None, &mut Silent)?;
    let ips: Vec<f64> = t
        .history()
        .epochs
        .iter()
        .map(|e| e.images_per_second)
        .collect();
    println!(
        "{{\"images_per_second\": {ips:?}, \"threads\": {}}}",
        rayon::current_num_threads()
    );
    Ok(())
}
