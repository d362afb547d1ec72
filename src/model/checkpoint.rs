//! Checkpoints on disk: weights as safetensors in PyTorch's layout, the configs (with the
//! seed) and history as JSON, and the optimiser state for resuming.
//!
//! A checkpoint is a directory:
//!
//! | file | what |
//! |---|---|
//! | `config.json` | [`CheckpointInfo`]: crate version, model and training configs (seed included), device, history, the input recipe ([`Preprocess`]), the class names and the chosen decision threshold |
//! | `model.safetensors` | the weights to use (best epoch under early stopping), PyTorch names and layout |
//! | `resume/model.bpk` | the latest weights with their parameter ids (burnpack) |
//! | `resume/optimizer.bpk` | the optimiser state (Adam moments / SGD velocity) |
//! | `resume/best.bpk` | the best epoch's weights, under early stopping |
//!
//! `model.safetensors` loads into a PyTorch module with the same attribute names
//! (`blocks.0.conv.weight`, `dense.weight`, ...): linear weights are stored `[out, in]` and
//! batch-norm scale/shift as `weight`/`bias`, as PyTorch keeps them (burn-store's
//! `BurnToPyTorchAdapter`); enum wrappers are left out of the names.
//!
//! Writing is atomic for the directory as a whole: everything is written into a sibling
//! `<dir>.partial`, which then replaces `<dir>` by two renames, so a reader sees the old
//! checkpoint or the new one, never a mix.

use std::collections::BTreeMap;
use std::path::Path;

use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use burn::store::{
    BurnToPyTorchAdapter, BurnpackStore, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore,
};
use serde::{Deserialize, Serialize};

use super::history::History;
use super::{ComputeDevice, Model, ModelConfig, TrainConfig};
use crate::classes::Classes;
use crate::dataset::Preprocess;
use crate::error::IoContext;
use crate::error::{Error, Result};

/// `config.json` of a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointInfo {
    /// mammolab version that wrote it.
    pub mammolab: String,
    /// The network.
    pub model: ModelConfig,
    /// How it was trained (with its seed).
    pub train: TrainConfig,
    /// Where it was trained.
    pub device: ComputeDevice,
    /// Epochs so far.
    pub history: History,
    /// The monitored value of the best epoch (early stopping).
    pub best_value: Option<f64>,
    /// How images are made from files for this model (crop, flip, resize, normalise), and
    /// so its input shape ([`Preprocess::input_shape`]): the model config holds none.
    pub input: Preprocess,
    /// The decision threshold chosen on validation data ([`Trainer::set_threshold`](super::Trainer::set_threshold)).
    #[serde(default)]
    pub threshold: Option<crate::eval::DecisionThreshold>,
    /// The classes of the outputs and the positive one ([`Trainer::with_classes`](super::Trainer::with_classes); the
    /// keys `classes` and `positive` in `config.json`, see [`crate::classes`]).
    #[serde(flatten)]
    pub classes: Classes,
}

/// Both savers write `model.valid()`: burn's batch norm keeps its newest running statistics
/// per thread until something synchronises them, and saving a training model as it is
/// wrote them one step late (found by tests/it/model.rs's ResNet test).
fn save_bpk(model: &Model, path: &Path) -> Result<()> {
    let mut store = BurnpackStore::from_file(path).overwrite(true);
    model
        .valid()
        .save_into(&mut store)
        .map_err(|e| Error::data(path, e))
}

fn load_bpk(model: &mut Model, path: &Path) -> Result<()> {
    let mut store = BurnpackStore::from_file(path);
    model
        .load_from(&mut store)
        .map(|_| ())
        .map_err(|e| Error::data(path, e))
}

/// Write `model`'s weights to `path` as safetensors in PyTorch's names and layout.
pub fn save_safetensors(model: &Model, path: &Path) -> Result<()> {
    let store = SafetensorsStore::from_file(path)
        .with_to_adapter(BurnToPyTorchAdapter)
        .skip_enum_variants(true)
        .overwrite(true)
        .metadata("producer", "mammolab");
    let mut store = torchvision_names_out(store);
    model
        .valid()
        .save_into(&mut store)
        .map_err(|e| Error::data(path, e))
}

/// Load PyTorch-layout safetensors written by [`save_safetensors`] (or by PyTorch from a
/// module with the same names) into `model`.
pub fn load_safetensors(model: &mut Model, path: &Path) -> Result<()> {
    if !path.is_file() {
        return Err(Error::data(path, "no such weights file"));
    }
    let store = SafetensorsStore::from_file(path)
        .with_from_adapter(PyTorchToBurnAdapter)
        .skip_enum_variants(true);
    let mut store = torchvision_names_in(store);
    let r = model
        .load_from(&mut store)
        .map_err(|e| Error::data(path, e))?;
    if !r.missing.is_empty() {
        return Err(Error::data(
            path,
            format!(
                "weights missing for {}",
                r.missing
                    .iter()
                    .map(|m| m.0.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(())
}

/// torchvision keeps a shortcut's convolution and batch norm in a `Sequential`
/// (`downsample.0`, `downsample.1`); [`ResNet`](super::resnet::ResNet) names them
/// `downsample.conv` / `downsample.bn`. Reading maps the file's names to the module's...
pub(crate) fn torchvision_names_in(store: SafetensorsStore) -> SafetensorsStore {
    store
        .with_key_remapping(r"\.downsample\.0\.", ".downsample.conv.")
        .with_key_remapping(r"\.downsample\.1\.", ".downsample.bn.")
}

/// ... and writing maps them back.
fn torchvision_names_out(store: SafetensorsStore) -> SafetensorsStore {
    store
        .with_key_remapping(r"\.downsample\.conv\.", ".downsample.0.")
        .with_key_remapping(r"\.downsample\.bn\.", ".downsample.1.")
}

/// `dir/config.json`, checked against the model config it names.
pub(crate) fn read_info(dir: &Path) -> Result<CheckpointInfo> {
    let p = dir.join("config.json");
    let text = std::fs::read_to_string(&p).at(&p)?;
    let info: CheckpointInfo = serde_json::from_str(&text).map_err(|e| Error::data(&p, e))?;
    match info.model.class_mismatch(&info.classes) {
        Some(why) => Err(Error::data(&p, why)),
        None => Ok(info),
    }
}

/// Replace `dir` with the checkpoint `write` puts into a fresh `<dir>.partial`.
fn atomic_dir(dir: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let name = dir
        .file_name()
        .ok_or_else(|| Error::data(dir, "a checkpoint needs a directory name"))?
        .to_string_lossy()
        .to_string();
    let partial = dir.with_file_name(format!("{name}.partial"));
    let old = dir.with_file_name(format!("{name}.old"));
    for p in [&partial, &old] {
        if p.exists() {
            std::fs::remove_dir_all(p).at(p)?;
        }
    }
    std::fs::create_dir_all(partial.join("resume")).at(&partial)?;
    write(&partial)?;
    if dir.exists() {
        std::fs::rename(dir, &old).at(dir)?;
    }
    std::fs::rename(&partial, dir).at(&partial)?;
    if old.exists() {
        std::fs::remove_dir_all(&old).at(&old)?;
    }
    Ok(())
}

/// Write a checkpoint into `dir` (see the module docs): `weights` as the model to use
/// (`model.safetensors`), `latest` and `best` (the best epoch's, under early stopping) and
/// the optimiser's state for resuming, `info` as `config.json`.
pub(crate) fn write(
    dir: &Path,
    info: &CheckpointInfo,
    weights: &Model,
    latest: &Model,
    best: Option<&Model>,
    optim: &ModuleOptimizer,
) -> Result<()> {
    atomic_dir(dir, |d| {
        save_safetensors(weights, &d.join("model.safetensors"))?;
        save_bpk(latest, &d.join("resume/model.bpk"))?;
        if let Some(best) = best {
            save_bpk(best, &d.join("resume/best.bpk"))?;
        }
        let p = d.join("resume/optimizer.bpk");
        optim.save(&p).map_err(|e| Error::data(&p, e))?;
        crate::outlock::write_json(info, &d.join("config.json"))
    })
}

/// What resuming needs from a checkpoint beside its [`CheckpointInfo`].
pub(crate) struct TrainingState {
    /// The latest weights.
    pub model: Model,
    /// The best epoch's weights and monitored value, under early stopping.
    pub best: Option<(f64, Model)>,
    /// The optimiser with its state.
    pub optim: ModuleOptimizer,
}

/// The [`TrainingState`] that [`write`] wrote into `dir` with `info`, on `device`; `optim`
/// is a fresh optimiser of `info.train` to load the state into.
pub(crate) fn read_state(
    dir: &Path,
    info: &CheckpointInfo,
    device: &Device,
    optim: ModuleOptimizer,
) -> Result<TrainingState> {
    // Building the modules draws initial weights from burn's process-wide generator (they
    // are overwritten at once): hold its lock, so a trainer in another thread keeps its
    // reproducible draws.
    let _rng = super::rng_lock();
    let mut model = info.model.init(info.input.input_shape(), device)?;
    load_bpk(&mut model, &dir.join("resume/model.bpk"))?;
    let best = match info.best_value {
        Some(v) => {
            let mut b = info.model.init(info.input.input_shape(), device)?;
            load_bpk(&mut b, &dir.join("resume/best.bpk"))?;
            Some((v, b))
        }
        None => None,
    };
    let p = dir.join("resume/optimizer.bpk");
    let optim = optim.load(&p).map_err(|e| Error::data(&p, e))?;
    Ok(TrainingState { model, best, optim })
}

/// A checkpoint's model, ready for inference on `compute`, with its `config.json`.
pub fn load_model(dir: &Path, compute: ComputeDevice) -> Result<(CheckpointInfo, Model)> {
    let info = read_info(dir)?;
    let device = compute.device()?;
    // Building the modules may draw initial weights from burn's process-wide generator:
    // hold its lock, so a trainer in another thread keeps its reproducible draws.
    let _rng = super::rng_lock();
    let mut model = info.model.init(info.input.input_shape(), &device)?;
    load_safetensors(&mut model, &dir.join("model.safetensors"))?;
    Ok((info, model.valid()))
}

/// Write named f32 tensors as one safetensors file (e.g. inputs and logits for checking
/// a port of a model to another framework).
pub fn write_tensors(path: &Path, tensors: &[(&str, Vec<usize>, &[f32])]) -> Result<()> {
    crate::outlock::write_atomic(path, &tensor_bytes(path, tensors)?)
}

/// The bytes of a safetensors file holding `tensors` (f32, little endian); `path` only
/// names the file in errors.
pub(crate) fn tensor_bytes(path: &Path, tensors: &[(&str, Vec<usize>, &[f32])]) -> Result<Vec<u8>> {
    let mut header = serde_json::Map::new();
    let mut offset = 0usize;
    for (name, shape, data) in tensors {
        if shape.iter().product::<usize>() != data.len() {
            return Err(Error::data(
                path,
                format!(
                    "tensor {name}: shape {shape:?} does not hold {} values",
                    data.len()
                ),
            ));
        }
        let end = offset + 4 * data.len();
        header.insert(
            name.to_string(),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [offset, end]}),
        );
        offset = end;
    }
    let mut h = serde_json::to_vec(&header).map_err(|e| Error::data(path, e))?;
    while h.len() % 8 != 0 {
        h.push(b' ');
    }
    let mut bytes = Vec::with_capacity(8 + h.len() + offset);
    bytes.extend_from_slice(&(h.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&h);
    for (_, _, data) in tensors {
        for v in *data {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    Ok(bytes)
}

/// Tensors by name: `(shape, row-major f32 values)`.
pub type NamedTensors = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

/// The floating-point tensors of a safetensors file (F32, F16, BF16, F64) by name, as
/// `(shape, values)` in f32 (row-major); integer tensors (batch norm's
/// `num_batches_tracked`) are left out. Reads what [`write_tensors`] and PyTorch's
/// `safetensors.torch.save_file` write.
pub fn read_tensors(path: &Path) -> Result<NamedTensors> {
    let bytes = std::fs::read(path).at(path)?;
    let bad = |m: String| Error::data(path, m);
    if bytes.len() < 8 {
        return Err(bad(
            "not a safetensors file (shorter than its header)".into()
        ));
    }
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let body = 8usize
        .checked_add(n)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| bad(format!("header of {n} bytes runs past the end of the file")))?;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes[8..body])
            .map_err(|e| bad(format!("safetensors header: {e}")))?;
    let data = &bytes[body..];
    let mut out = BTreeMap::new();
    for (name, v) in header {
        if name == "__metadata__" {
            continue;
        }
        let dtype = v["dtype"].as_str().unwrap_or("");
        let usizes = |key: &str| -> Option<Vec<usize>> {
            v[key]
                .as_array()?
                .iter()
                .map(|d| d.as_u64().map(|d| d as usize))
                .collect()
        };
        let shape = usizes("shape").ok_or_else(|| bad(format!("tensor {name}: no shape")))?;
        let offs = usizes("data_offsets").unwrap_or_default();
        let [a, b] = offs[..] else {
            return Err(bad(format!("tensor {name}: no data_offsets")));
        };
        let raw = data
            .get(a..b)
            .filter(|_| a <= b)
            .ok_or_else(|| bad(format!("tensor {name}: data {a}..{b} outside the file")))?;
        let width = match dtype {
            "F32" => 4,
            "F16" | "BF16" => 2,
            "F64" => 8,
            _ => continue,
        };
        let count: usize = shape.iter().product();
        if raw.len() != count * width {
            return Err(bad(format!(
                "tensor {name}: {} bytes for shape {shape:?} of {dtype}",
                raw.len()
            )));
        }
        let data: Vec<f32> = match dtype {
            "F32" => raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4")))
                .collect(),
            "F64" => raw
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8")) as f32)
                .collect(),
            "BF16" => raw
                .chunks_exact(2)
                .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16))
                .collect(),
            _ => raw
                .chunks_exact(2)
                .map(|c| half_to_f32(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
        };
        out.insert(name, (shape, data));
    }
    Ok(out)
}

/// IEEE 754 half precision to f32.
fn half_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, f) => {
            // subnormal: renormalise
            let mut e = 127 - 15 + 1;
            let mut f = f;
            while f & 0x400 == 0 {
                f <<= 1;
                e -= 1;
            }
            sign | (e << 23) | ((f & 0x3ff) << 13)
        }
        (0x1f, f) => sign | 0x7f80_0000 | (f << 13),
        (e, f) => sign | ((e + 127 - 15) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}
