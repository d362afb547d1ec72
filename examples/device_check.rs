//! Issue 7's CPU-vs-GPU check: the same weights and batch on the CPU (Flex) and on CUDA.
//!
//! Usage: `device_check [SIZE]` (default 224). Builds seed 001's CNN and the CNN-VAE from
//! seed 42 on the CPU, moves the very same weights to CUDA, runs one batch of 8 random
//! images through both in inference mode and prints one JSON object with the largest
//! absolute difference of the logits (and of the VAE reconstructions). Needs a build with
//! `--features cuda` and a GPU; elsewhere it exits with the one-line device error.

use burn::prelude::*;
use mammolab::dataset::Preprocess;
use mammolab::dataset::Samples;
use mammolab::model::batch::images_tensor;
use mammolab::model::{CnnConfig, ComputeDevice, Model, ModelConfig, VaeConfig};

fn max_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Result<f64, Box<dyn std::error::Error>> {
    let a = a
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| format!("{e:?}"))?;
    let b = b
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| format!("{e:?}"))?;
    Ok(a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs() as f64)
        .fold(0.0, f64::max))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let size: usize = std::env::args().nth(1).map_or(Ok(224), |s| s.parse())?;
    let cpu = ComputeDevice::Cpu.device()?;
    let gpu = ComputeDevice::Cuda.device()?;
    let mut rng = mammolab::rng::Rng::new(3);
    let n = 8;
    let data: Vec<f32> = (0..n * size * size).map(|_| rng.f64() as f32).collect();
    let batch = Samples::new(data, [n, 1, size, size], vec![0; n])?;
    let idx: Vec<usize> = (0..n).collect();
    let mut out = serde_json::Map::new();
    for config in [
        ModelConfig::Cnn(CnnConfig::seed001(2)),
        ModelConfig::Vae(VaeConfig::new(2)),
    ] {
        cpu.seed(42);
        let on_cpu = config
            .init(Preprocess::new(size, size).input_shape(), &cpu)?
            .valid();
        let on_gpu = on_cpu.clone().to_device(&gpu);
        let logits = max_diff(
            on_cpu.logits(images_tensor(&batch, &idx, &cpu)),
            on_gpu
                .logits(images_tensor(&batch, &idx, &gpu))
                .to_device(&cpu),
        )?;
        out.insert(
            format!("{}_logits_max_abs_diff", config.name()),
            logits.into(),
        );
        if let (Model::Vae(c), Model::Vae(g)) = (&on_cpu, &on_gpu) {
            let r = max_diff(
                c.forward(images_tensor(&batch, &idx, &cpu), false)
                    .reconstruction,
                g.forward(images_tensor(&batch, &idx, &gpu), false)
                    .reconstruction
                    .to_device(&cpu),
            )?;
            out.insert("vae_reconstruction_max_abs_diff".into(), r.into());
        }
    }
    println!("{}", serde_json::Value::Object(out));
    Ok(())
}
