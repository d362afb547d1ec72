//! ResNet-18/34/50/101/152 in torchvision's layout, for transfer learning from PyTorch
//! weights (seed 001's "ResNet50 with ImageNet weights" experiment).
//!
//! The module tree, parameter names and shapes are torchvision's (`torchvision.models.
//! resnet18()` etc., v1.5: the stride of a bottleneck sits on its 3x3 convolution):
//! `conv1` (7x7, stride 2, no bias), `bn1`, ReLU, 3x3 max-pool (stride 2, padding 1),
//! `layer1` ... `layer4` of basic (two 3x3) or bottleneck (1x1, 3x3, 1x1, x4 expansion)
//! blocks with `downsample.0` (1x1 conv) / `downsample.1` (batch norm) where the shape
//! changes, global average pooling and `fc`. So a torchvision state dict saved as
//! safetensors loads name for name ([`load_torchvision`]), and this model's
//! `model.safetensors` loads back into torchvision with `load_state_dict(strict=True)`
//! (tests/torch/test_resnet.py compares the logits: tolerance 1e-4 relative to the logits'
//! scale).
//!
//! Mammograms have one channel: [`load_torchvision`] sums the first convolution's RGB
//! filters into one (as timm and fastai do for grey input), which gives the ImageNet
//! network exactly the response it would have to a grey image replicated into three
//! channels. A new head for `k` classes starts from fresh weights when the file's `fc` has
//! another number of classes.
//!
//! # Shapes
//! - input: `[batch, channels, size, size]`, size >= 32 (the last stage is then 1 x 1)
//! - [`ResNet::features`]: `layer4`'s output, `[batch, 512 * expansion, size / 32, size / 32]`
//! - output: `[batch, classes]` logits

use std::path::Path;

use burn::module::Initializer;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Shape of a [`ResNet`]. Serialisable: saved beside every checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResNetConfig {
    /// 18, 34, 50, 101 or 152 (torchvision's `resnet<depth>`).
    pub depth: usize,
    /// Number of classes (the `fc` layer's outputs).
    pub classes: usize,
}

/// Blocks per stage and whether they are bottlenecks, for a torchvision depth.
fn stages(depth: usize) -> Option<([usize; 4], bool)> {
    Some(match depth {
        18 => ([2, 2, 2, 2], false),
        34 => ([3, 4, 6, 3], false),
        50 => ([3, 4, 6, 3], true),
        101 => ([3, 4, 23, 3], true),
        152 => ([3, 8, 36, 3], true),
        _ => return None,
    })
}

/// torchvision's convolution initialisation (`kaiming_normal_`, fan out, ReLU gain).
fn conv(i: usize, o: usize, k: usize, stride: usize, device: &Device) -> Conv2d {
    let p = k / 2;
    Conv2dConfig::new([i, o], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
        .with_bias(false)
        .with_initializer(Initializer::KaimingNormal {
            gain: 2f64.sqrt(),
            fan_out_only: true,
        })
        .init(device)
}

fn bn(n: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(n).init(device)
}

impl ResNetConfig {
    /// torchvision's `resnet<depth>` with `classes` classes.
    pub fn new(depth: usize, classes: usize) -> Self {
        Self { depth, classes }
    }

    /// Build the model for images of `channels` x `size` x `size` (any size >= 32; 1
    /// channel for mammograms, ImageNet weights are adapted on loading) with freshly
    /// initialised weights on `device` (torchvision's initialisation: Kaiming-normal
    /// convolutions, batch norm 1 / 0).
    pub fn init(&self, channels: usize, size: usize, device: &Device) -> Result<ResNet> {
        let Some((blocks, bottleneck)) = stages(self.depth) else {
            return Err(Error::Param {
                name: "resnet",
                message: format!(
                    "depth {} is not one of torchvision's 18, 34, 50, 101, 152",
                    self.depth
                ),
            });
        };
        if size < 32 || channels == 0 || self.classes < 2 {
            return Err(Error::Param {
                name: "resnet",
                message: format!(
                    "need size >= 32, >= 1 channel, >= 2 classes; got size {size}, {channels} channels, {} classes",
                    self.classes
                ),
            });
        }
        let expansion = if bottleneck { 4 } else { 1 };
        let mut inplanes = 64;
        let mut layers = Vec::with_capacity(4);
        for (stage, &n) in blocks.iter().enumerate() {
            let planes = 64 << stage;
            let stride = if stage == 0 { 1 } else { 2 };
            let mut layer = Vec::with_capacity(n);
            for b in 0..n {
                let s = if b == 0 { stride } else { 1 };
                let out = planes * expansion;
                let downsample = (s != 1 || inplanes != out).then(|| Downsample {
                    conv: conv(inplanes, out, 1, s, device),
                    bn: bn(out, device),
                });
                layer.push(if bottleneck {
                    Block::Bottleneck(Bottleneck {
                        conv1: conv(inplanes, planes, 1, 1, device),
                        bn1: bn(planes, device),
                        conv2: conv(planes, planes, 3, s, device),
                        bn2: bn(planes, device),
                        conv3: conv(planes, out, 1, 1, device),
                        bn3: bn(out, device),
                        downsample,
                    })
                } else {
                    Block::Basic(BasicBlock {
                        conv1: conv(inplanes, planes, 3, s, device),
                        bn1: bn(planes, device),
                        conv2: conv(planes, planes, 3, 1, device),
                        bn2: bn(planes, device),
                        downsample,
                    })
                });
                inplanes = out;
            }
            layers.push(layer);
        }
        let mut layers = layers.into_iter();
        let mut next = || layers.next().expect("four stages");
        Ok(ResNet {
            conv1: conv(channels, 64, 7, 2, device),
            bn1: bn(64, device),
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            layer1: next(),
            layer2: next(),
            layer3: next(),
            layer4: next(),
            avgpool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            fc: LinearConfig::new(inplanes, self.classes).init(device),
        })
    }
}

/// The 1x1 convolution + batch norm of a shortcut that changes shape (torchvision's
/// `downsample` Sequential: `downsample.0`, `downsample.1` in the exported names).
#[derive(Module, Debug)]
struct Downsample {
    conv: Conv2d,
    bn: BatchNorm,
}

impl Downsample {
    fn shortcut(d: &Option<Downsample>, x: Tensor<4>) -> Tensor<4> {
        match d {
            Some(d) => d.bn.forward(d.conv.forward(x)),
            None => x,
        }
    }
}

/// Two 3x3 convolutions (ResNet-18/34).
#[derive(Module, Debug)]
struct BasicBlock {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    downsample: Option<Downsample>,
}

/// 1x1 -> 3x3 -> 1x1 with 4x expansion (ResNet-50/101/152).
#[derive(Module, Debug)]
struct Bottleneck {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    conv3: Conv2d,
    bn3: BatchNorm,
    downsample: Option<Downsample>,
}

/// A residual block (the variant names are left out of the exported names). The variants
/// hold module handles, not weights: their size difference is a few hundred bytes per block.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
enum Block {
    Basic(BasicBlock),
    Bottleneck(Bottleneck),
}

impl Block {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Self::Basic(b) => {
                let f = relu(b.bn1.forward(b.conv1.forward(x.clone())));
                let f = b.bn2.forward(b.conv2.forward(f));
                relu(f + Downsample::shortcut(&b.downsample, x))
            }
            Self::Bottleneck(b) => {
                let f = relu(b.bn1.forward(b.conv1.forward(x.clone())));
                let f = relu(b.bn2.forward(b.conv2.forward(f)));
                let f = b.bn3.forward(b.conv3.forward(f));
                relu(f + Downsample::shortcut(&b.downsample, x))
            }
        }
    }
}

/// torchvision's ResNet (see the module docs).
#[derive(Module, Debug)]
pub struct ResNet {
    conv1: Conv2d,
    bn1: BatchNorm,
    maxpool: MaxPool2d,
    layer1: Vec<Block>,
    layer2: Vec<Block>,
    layer3: Vec<Block>,
    layer4: Vec<Block>,
    avgpool: AdaptiveAvgPool2d,
    fc: Linear,
}

impl ResNet {
    /// Class logits `[batch, classes]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.head(self.features(x))
    }

    /// `layer4`'s output (after its last ReLU): the layer Grad-CAM explains and the
    /// backbone's output.
    pub fn features(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = self.stem(x);
        for layer in [&self.layer1, &self.layer2, &self.layer3, &self.layer4] {
            for b in layer {
                x = b.forward(x);
            }
        }
        x
    }

    /// Logits from [`ResNet::features`]: global average pooling and `fc`.
    pub fn head(&self, a: Tensor<4>) -> Tensor<2> {
        let x: Tensor<2> = self.avgpool.forward(a).flatten(1, 3);
        self.fc.forward(x)
    }

    /// `conv1`, `bn1`, ReLU, `maxpool`: the input to `layer1`.
    fn stem(&self, x: Tensor<4>) -> Tensor<4> {
        self.maxpool
            .forward(relu(self.bn1.forward(self.conv1.forward(x))))
    }

    /// The layers [`ResNet::trace`] can stop at, in torchvision's names: `maxpool` (the
    /// stem's output), `layer1` .. `layer4`, `avgpool` (the 512- or 2048-wide embedding),
    /// `fc`.
    pub fn layer_names(&self) -> Vec<String> {
        [
            "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc",
        ]
        .map(String::from)
        .to_vec()
    }

    /// The output of layer `layer` (one of [`ResNet::layer_names`]) for `x`.
    pub fn trace(&self, x: Tensor<4>, layer: &str) -> Option<super::batch::Activation> {
        use super::batch::Activation;
        let mut x = self.stem(x);
        if layer == "maxpool" {
            return Some(Activation::Map(x));
        }
        let stages = [&self.layer1, &self.layer2, &self.layer3, &self.layer4];
        for (i, stage) in stages.into_iter().enumerate() {
            for b in stage {
                x = b.forward(x);
            }
            if layer == format!("layer{}", i + 1) {
                return Some(Activation::Map(x));
            }
        }
        let g: Tensor<2> = self.avgpool.forward(x).flatten(1, 3);
        match layer {
            "avgpool" => Some(Activation::Vector(g)),
            "fc" => Some(Activation::Vector(self.fc.forward(g))),
            _ => None,
        }
    }

    /// 18, 34, 50, 101 or 152.
    pub fn depth(&self) -> usize {
        let blocks = [&self.layer1, &self.layer2, &self.layer3, &self.layer4]
            .iter()
            .map(|l| l.len())
            .sum::<usize>();
        let bottleneck = matches!(self.layer1.first(), Some(Block::Bottleneck(_)));
        3 * blocks * usize::from(bottleneck) + 2 * blocks * usize::from(!bottleneck) + 2
    }

    /// The new-task head (`fc`), the part trained at the full learning rate when the
    /// backbone is frozen or slowed ([`TrainConfig::backbone_lr_factor`](super::TrainConfig::backbone_lr_factor)).
    pub fn fc(&self) -> &Linear {
        &self.fc
    }

    /// Freeze everything but `fc`: no gradients, and batch norm keeps its running
    /// statistics (burn's `Module::freeze`, Keras' `trainable = False`).
    pub fn freeze_backbone(self) -> Self {
        let fc = self.fc.clone();
        Self {
            fc,
            ..self.freeze()
        }
    }
}

/// What [`load_torchvision`] did with a state dict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TorchvisionLoad {
    /// Tensors copied into the model.
    pub loaded: usize,
    /// How the first convolution was adapted (e.g. "conv1: RGB filters summed into 1
    /// channel"), `None` when its input channels matched.
    pub conv1: Option<String>,
    /// `true` when `fc` kept its fresh weights (the file's head has another number of
    /// classes, or none).
    pub new_head: bool,
    /// Names in the file that the model has no place for (torchvision's
    /// `num_batches_tracked` counters are expected and not listed).
    pub unused: Vec<String>,
}

/// Load a torchvision ResNet state dict saved as safetensors
/// (`safetensors.torch.save_file(torchvision.models.resnet18(weights=...).state_dict(), F)`)
/// into `model` (built by [`ResNetConfig::init`] with the same depth).
///
/// - `conv1.weight` `[64, 3, 7, 7]` into a 1-channel model: the RGB filters are summed;
///   into `c` channels other than 3: their mean is repeated `c` times, scaled by `3 / c`.
/// - `fc`: loaded when its shape matches the model's head, else the head keeps its fresh
///   weights (`new_head`).
/// - every other tensor must be present with the same shape: a missing or mis-shaped one
///   is an error naming it (the wrong depth, or not a ResNet).
pub fn load_torchvision(model: &mut ResNet, path: &Path) -> Result<TorchvisionLoad> {
    use burn::store::{ApplyError, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
    let mut tensors = super::checkpoint::read_tensors(path)?;
    let want = model.conv1.weight.dims();
    let mut conv1 = None;
    if let Some(w) = tensors.get_mut("conv1.weight") {
        if w.0.len() == 4 && w.0[1] != want[1] && w.0[0] == want[0] {
            let [o, i, kh, kw] = [w.0[0], w.0[1], w.0[2], w.0[3]];
            let c = want[1];
            let k = kh * kw;
            let mut out = vec![0f32; o * c * k];
            for f in 0..o {
                for j in 0..k {
                    let sum: f32 = (0..i).map(|ch| w.1[(f * i + ch) * k + j]).sum();
                    let v = if c == 1 { sum } else { sum / c as f32 };
                    for ch in 0..c {
                        out[(f * c + ch) * k + j] = v;
                    }
                }
            }
            conv1 = Some(if c == 1 {
                format!("conv1: the {i} input filters summed into 1 channel")
            } else {
                format!("conv1: the sum of the {i} input filters spread over {c} channels")
            });
            *w = (vec![o, c, kh, kw], out);
        }
    }
    let fc_shape = model.fc.weight.dims(); // burn keeps [in, out]
    let new_head = match tensors.get("fc.weight") {
        Some(w) => w.0 != [fc_shape[1], fc_shape[0]],
        None => true,
    };
    if new_head {
        tensors.remove("fc.weight");
        tensors.remove("fc.bias");
    }
    let list: Vec<(&str, Vec<usize>, &[f32])> = tensors
        .iter()
        .map(|(n, (shape, data))| (n.as_str(), shape.clone(), data.as_slice()))
        .collect();
    let bytes = super::checkpoint::tensor_bytes(path, &list)?;
    let mut store = SafetensorsStore::from_bytes(Some(bytes))
        .with_from_adapter(PyTorchToBurnAdapter)
        .skip_enum_variants(true)
        .allow_partial(true)
        .validate(false);
    store = super::checkpoint::torchvision_names_in(store);
    let r = model
        .load_from(&mut store)
        .map_err(|e| Error::data(path, e))?;
    let missing: Vec<&str> = r
        .missing
        .iter()
        .map(|m| m.0.as_str())
        .filter(|m| !(new_head && m.starts_with("fc.")))
        .collect();
    if !missing.is_empty() || !r.errors.is_empty() {
        let few = |v: Vec<String>| {
            let n = v.len();
            let mut s = v.into_iter().take(3).collect::<Vec<_>>().join(", ");
            if n > 3 {
                s.push_str(&format!(" and {} more", n - 3));
            }
            s
        };
        let mut why = vec![];
        if !missing.is_empty() {
            why.push(format!(
                "no weights for {}",
                few(missing.iter().map(|m| torch_name(m)).collect())
            ));
        }
        if !r.errors.is_empty() {
            why.push(format!(
                "other shapes for {}",
                few(r
                    .errors
                    .iter()
                    .map(|e| match e {
                        ApplyError::ShapeMismatch {
                            path,
                            expected,
                            found,
                        } => format!("{path} ({found} in the file, {expected} here)"),
                        e => e.to_string(),
                    })
                    .collect())
            ));
        }
        return Err(Error::data(
            path,
            format!(
                "not a torchvision resnet{} (or not a ResNet): {}",
                model.depth(),
                why.join("; ")
            ),
        ));
    }
    Ok(TorchvisionLoad {
        loaded: r.applied.len(),
        conv1,
        new_head,
        unused: r.unused,
    })
}

/// A module path in torchvision's spelling (batch norm's `weight` / `bias`, the shortcut's
/// `downsample.0` / `.1`), for messages.
fn torch_name(path: &str) -> String {
    path.replace(".gamma", ".weight")
        .replace(".beta", ".bias")
        .replace(".downsample.conv.", ".downsample.0.")
        .replace(".downsample.bn.", ".downsample.1.")
}
