//! Models and training on burn's Flex CPU backend: shapes, losses against PyTorch,
//! determinism, resume, early stopping, imbalance tools, checkpoints, baselines.

use burn::prelude::*;
use mammolab::dataset::{Channels, Preprocess, Samples};
use mammolab::model::baseline::{Logistic, LogisticOptions, MajorityClass};
use mammolab::model::checkpoint::{self, load_model, load_safetensors};
use mammolab::model::inference::{latent_means, probabilities, reconstructions};
use mammolab::model::loss::{class_loss, vae_loss};
use mammolab::model::*;
use serde_json::Value;

fn cpu() -> Device {
    ComputeDevice::Cpu.device().unwrap()
}

/// `n` images of `side` x `side`: class 1 carries a bright 4x4 square at a random place,
/// class 0 does not; both have noise. Every fifth image is class 1.
fn blobs(n: usize, side: usize, seed: u64) -> Samples {
    let mut rng = mammolab::rng::Rng::new(seed);
    let mut data = Vec::with_capacity(n * side * side);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let y = usize::from(i % 5 == 0);
        let (r0, c0) = (
            rng.below((side - 4) as u64) as usize,
            rng.below((side - 4) as u64) as usize,
        );
        for r in 0..side {
            for c in 0..side {
                let inside = y == 1 && (r0..r0 + 4).contains(&r) && (c0..c0 + 4).contains(&c);
                let v = 0.3 * rng.f64() as f32 + if inside { 0.8 } else { 0.0 };
                data.push(v);
            }
        }
        labels.push(y);
    }
    Samples::new(data, [n, 1, side, side], labels).unwrap()
}

fn small_cnn() -> ModelConfig {
    let mut c = CnnConfig::seed001(2);
    c.filters = vec![8, 16];
    c.dense = 16;
    ModelConfig::Cnn(c)
}

/// The input recipe of `side` x `side` grey images: the trainer builds the network for it.
fn grey(side: usize) -> Preprocess {
    Preprocess::new(side, side)
}

fn quick(epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 8,
        learning_rate: 3e-3,
        ..TrainConfig::default()
    }
}

#[test]
fn networks_have_the_documented_shapes() {
    assert_eq!(
        CnnConfig::default().feature_side(224).unwrap(),
        26,
        "224 -> 26 as in Keras"
    );
    let e = CnnConfig::seed001(2).init(1, 16, &cpu()).unwrap_err();
    assert!(e.to_string().contains("too small"), "{e}");
    let d = cpu();
    // seed 003's patch classifier, three classes (seed 002's normal / benign / malignant)
    let patch = CnnConfig::patch(3).init(3, 50, &d).unwrap();
    assert_eq!(
        patch
            .valid()
            .forward(Tensor::<4>::zeros([2, 3, 50, 50], &d))
            .dims(),
        [2, 3]
    );
    let vae = VaeConfig::new(2).init(1, 32, &d).unwrap();
    let out = vae.forward(Tensor::<4>::zeros([3, 1, 32, 32], &d), true);
    assert_eq!(out.reconstruction.dims(), [3, 1, 32, 32]);
    assert_eq!(out.mu.dims(), [3, 16]);
    assert_eq!(out.logits.dims(), [3, 2]);
    let e = VaeConfig::new(2).init(1, 30, &d).unwrap_err();
    assert!(e.to_string().contains("multiple of 2^3"), "{e}");
    for residual in [false, true] {
        let c = DeepCnnConfig::new(2, 8, residual);
        assert_eq!(c.depth(), 18);
        let m = c.init(1, 32, &d).unwrap();
        assert_eq!(
            m.forward(Tensor::<4>::zeros([2, 1, 32, 32], &d)).dims(),
            [2, 2]
        );
    }
    // configs round-trip through JSON, tagged by kind
    let cfg = ModelConfig::Vae(VaeConfig::new(3));
    let json = serde_json::to_string(&cfg).unwrap();
    assert!(json.contains("\"kind\":\"vae\""), "{json}");
    assert_eq!(serde_json::from_str::<ModelConfig>(&json).unwrap(), cfg);
}

/// Losses against `tests/data/torch_reference.json`, made by
/// `tests/python/make_torch_reference.py` with PyTorch 2.9.1 (`F.cross_entropy` with and
/// without `weight`, focal loss from `F.cross_entropy(reduction="none")`, the VAE terms from
/// `F.mse_loss`/`F.binary_cross_entropy` with `reduction="sum"`). Tolerance 1e-5 (f32).
#[test]
fn losses_match_pytorch() {
    let r = torch_reference();
    let d = cpu();
    let f32s = |v: &Value| -> Vec<f32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect()
    };
    let l = &r["loss"];
    let logits = f32s(&l["logits"]);
    let targets: Vec<i64> = l["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect();
    let (b, k) = (targets.len(), logits.len() / targets.len());
    let lt = || Tensor::<2>::from_data(TensorData::new(logits.clone(), [b, k]), &d);
    let tt = || Tensor::<1, Int>::from_data(TensorData::new(targets.clone(), [b]), &d);
    let wv: Vec<f64> = f32s(&l["weights"]).iter().map(|&x| x as f64).collect();
    let mut counts = vec![0usize; k];
    for &t in &targets {
        counts[t as usize] += 1;
    }
    let batch_w = LossWeights::new(&wv, &counts, WeightedMean::Batch, &d);
    let scalar = |t: Tensor<1>| t.into_scalar::<f32>() as f64;
    let close = |name: &str, got: f64, want: &Value| {
        let want = want.as_f64().unwrap();
        assert!((got - want).abs() < 1e-5, "{name}: {got} vs PyTorch {want}");
    };
    close(
        "ce",
        scalar(class_loss(ClassLoss::CrossEntropy, lt(), tt(), None)),
        &l["ce"],
    );
    close(
        "weighted ce",
        scalar(class_loss(
            ClassLoss::CrossEntropy,
            lt(),
            tt(),
            Some(&batch_w),
        )),
        &l["ce_weighted"],
    );
    let focal = ClassLoss::Focal { gamma: 2.0 };
    close(
        "focal",
        scalar(class_loss(focal, lt(), tt(), None)),
        &l["focal2"],
    );
    close(
        "weighted focal",
        scalar(class_loss(focal, lt(), tt(), Some(&batch_w))),
        &l["focal2_weighted"],
    );
    let focal0 = ClassLoss::Focal { gamma: 0.0 };
    close(
        "focal gamma 0 = ce",
        scalar(class_loss(focal0, lt(), tt(), None)),
        &l["ce"],
    );

    // WeightedMean::Dataset, its mean weight taken from these targets' own counts: the
    // mean over batches of one image each is PyTorch's weighted mean over all of them.
    // PyTorch's own ratio on one-image batches is plain cross-entropy (the weights cancel).
    let dataset = LossWeights::new(&wv, &counts, WeightedMean::Dataset, &d);
    let one = |i: usize, w: &LossWeights| {
        let logit = Tensor::<2>::from_data(
            TensorData::new(logits[i * k..(i + 1) * k].to_vec(), [1, k]),
            &d,
        );
        let target = Tensor::<1, Int>::from_data(TensorData::new(vec![targets[i]], [1]), &d);
        scalar(class_loss(ClassLoss::CrossEntropy, logit, target, Some(w)))
    };
    let per_image = |w: &LossWeights| (0..b).map(|i| one(i, w)).sum::<f64>() / b as f64;
    close(
        "dataset mean over one-image batches",
        per_image(&dataset),
        &l["ce_weighted"],
    );
    close(
        "pytorch mean over one-image batches",
        per_image(&batch_w),
        &l["ce"],
    );
    let (ce, ce_w) = (
        l["ce"].as_f64().unwrap(),
        l["ce_weighted"].as_f64().unwrap(),
    );
    assert!(
        (ce - ce_w).abs() > 1e-3,
        "the reference's weights must matter: {ce} {ce_w}"
    );
    // Over the whole set at once (its own mean weight) the two are the same.
    close(
        "dataset mean over the batch",
        scalar(class_loss(
            ClassLoss::CrossEntropy,
            lt(),
            tt(),
            Some(&dataset),
        )),
        &serde_json::json!(ce_w),
    );

    let v = &r["vae"];
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect();
    let s4 = [shape[0], shape[1], shape[2], shape[3]];
    let t4 = |key: &str| Tensor::<4>::from_data(TensorData::new(f32s(&v[key]), s4), &d);
    let lat = v["mu"].as_array().unwrap().len() / shape[0];
    let t2 =
        |key: &str| Tensor::<2>::from_data(TensorData::new(f32s(&v[key]), [shape[0], lat]), &d);
    let (rec, kl) = vae_loss(
        Reconstruction::Mse,
        t4("reconstruction"),
        t4("input"),
        t2("mu"),
        t2("log_var"),
    );
    close("mse/batch", scalar(rec), &v["mse"]);
    close("kl/batch", scalar(kl), &v["kl"]);
    let (rec, _) = vae_loss(
        Reconstruction::Bce,
        t4("reconstruction"),
        t4("input"),
        t2("mu"),
        t2("log_var"),
    );
    close("bce/batch", scalar(rec), &v["bce"]);
}

#[test]
fn training_learns_and_is_deterministic() {
    let train = blobs(80, 24, 1);
    let val = blobs(40, 24, 2);
    let run = || {
        let mut t = Trainer::new(small_cnn(), grey(24), quick(4), ComputeDevice::Cpu)
            .unwrap()
            .with_validation(mammolab::pipeline::EvalValidation);
        let mut lines = vec![];
        t.fit(
            &train,
            Some(&val),
            &mut OnEpoch(|s: &EpochStats| lines.push(s.epoch)),
        )
        .unwrap();
        assert_eq!(lines, [1, 2, 3, 4]);
        let probs = t.predict(&val).unwrap();
        (t.history().clone(), probs)
    };
    let (h1, p1) = run();
    let (h2, p2) = run();
    assert_eq!(p1, p2, "same seed, same predictions");
    let strip = |h: &History| -> Vec<(f64, f64, Option<f64>)> {
        h.epochs
            .iter()
            .map(|e| (e.train_loss, e.train_accuracy, e.val_roc_auc))
            .collect()
    };
    assert_eq!(strip(&h1), strip(&h2), "same seed, same history");
    let first = &h1.epochs[0];
    let last = h1.epochs.last().unwrap();
    assert!(last.train_loss < first.train_loss, "{first:?} -> {last:?}");
    assert!(
        last.val_roc_auc.unwrap() > 0.9,
        "a bright square is easy: {last:?}"
    );
    let df = h1.to_dataframe().unwrap();
    assert_eq!(df.height(), 4);
    assert!(df.column("val_roc_auc").is_ok() && df.column("images_per_second").is_ok());
    // a different seed gives different weights
    let mut c = quick(1);
    c.seed = 7;
    let mut t = Trainer::new(small_cnn(), grey(24), c, ComputeDevice::Cpu).unwrap();
    t.fit(&train, None, &mut Silent).unwrap();
    assert_ne!(t.predict(&val).unwrap(), p1);
}

#[test]
fn resume_continues_exactly_and_checkpoints_load() {
    let dir = tempfile::tempdir().unwrap();
    let train = blobs(48, 24, 3);
    let val = blobs(16, 24, 4);
    let mut cfg = quick(4);
    cfg.optimizer = OptimizerKind::Sgd { momentum: 0.9 };
    cfg.schedule = Schedule::Step {
        every: 2,
        gamma: 0.5,
    };
    let mut model = small_cnn();
    if let ModelConfig::Cnn(c) = &mut model {
        c.dropout = 0.2; // dropout masks must replay after a resume too
    }
    let mut straight =
        Trainer::new(model.clone(), grey(24), cfg.clone(), ComputeDevice::Cpu).unwrap();
    straight.fit(&train, Some(&val), &mut Silent).unwrap();

    let mut first = Trainer::new(model, grey(24), cfg.clone(), ComputeDevice::Cpu).unwrap();
    first.set_epochs(2);
    first.fit(&train, Some(&val), &mut Silent).unwrap();
    let ck = dir.path().join("ck");
    first.save(&ck).unwrap();
    first.save(&ck).unwrap(); // replacing a checkpoint works
    assert!(!dir.path().join("ck.partial").exists() && !dir.path().join("ck.old").exists());
    let mut resumed = Trainer::resume(&ck, None).unwrap();
    assert_eq!(resumed.history().epochs.len(), 2);
    resumed.set_epochs(4);
    resumed.fit(&train, Some(&val), &mut Silent).unwrap();
    let losses =
        |t: &Trainer| -> Vec<f64> { t.history().epochs.iter().map(|e| e.train_loss).collect() };
    assert_eq!(
        losses(&resumed),
        losses(&straight),
        "first {:?}",
        losses(&first)
    );
    assert_eq!(
        resumed.predict(&val).unwrap(),
        straight.predict(&val).unwrap()
    );
    assert_eq!(
        resumed.history().epochs[2].learning_rate,
        1.5e-3,
        "step schedule"
    );

    // the exported weights: PyTorch names and layout, loadable for inference
    straight.save(&ck).unwrap();
    let bytes = std::fs::read(ck.join("model.safetensors")).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let shape = |k: &str| header[k]["shape"].clone();
    assert_eq!(
        shape("blocks.0.conv.weight"),
        serde_json::json!([8, 1, 3, 3])
    );
    assert_eq!(shape("blocks.1.conv.bias"), serde_json::json!([16]));
    assert_eq!(
        shape("dense.weight"),
        serde_json::json!([16, 16 * 4 * 4]),
        "[out, in] as torch.nn.Linear"
    );
    assert_eq!(shape("logits.weight"), serde_json::json!([2, 16]));
    let (info, m) = load_model(&ck, ComputeDevice::Cpu).unwrap();
    assert_eq!(info.train.seed, 42);
    let p = probabilities(&m, &val, 32, &cpu()).unwrap();
    assert_eq!(p, straight.predict(&val).unwrap());
    // a file with other names is refused with the file named
    let mut other = ModelConfig::Vae(VaeConfig::new(2))
        .init([1, 32, 32], &cpu())
        .unwrap();
    let e = load_safetensors(&mut other, &ck.join("model.safetensors")).unwrap_err();
    assert!(e.to_string().contains("model.safetensors"), "{e}");
}

#[test]
fn early_stopping_keeps_the_best_epoch() {
    let train = blobs(40, 24, 5);
    let val = blobs(20, 24, 6);
    let mut cfg = quick(30);
    cfg.early_stopping = Some(EarlyStopping {
        monitor: Monitor::ValLoss,
        patience: 2,
    });
    let mut t = Trainer::new(small_cnn(), grey(24), cfg, ComputeDevice::Cpu).unwrap();
    t.fit(&train, Some(&val), &mut Silent).unwrap();
    let h = t.history();
    let best = h.best_epoch.unwrap();
    let losses: Vec<f64> = h.epochs.iter().map(|e| e.val_loss.unwrap()).collect();
    let min = losses.iter().cloned().fold(f64::INFINITY, f64::min);
    assert_eq!(
        losses[best - 1],
        min,
        "best epoch has the lowest validation loss"
    );
    if h.stopped_early {
        assert_eq!(h.epochs.len(), best + 2, "stopped after patience");
    }
    // the model kept is the best epoch's: its validation loss is the minimum
    let p = t.predict(&val).unwrap();
    let loss: f64 = p
        .iter()
        .zip(&val.labels)
        .map(|(p, &y)| -p[y].max(1e-12).ln())
        .sum::<f64>()
        / p.len() as f64;
    assert!((loss - min).abs() < 1e-5, "{loss} vs {min}");
    // early stopping without validation data is refused
    let mut t = Trainer::new(
        small_cnn(),
        grey(24),
        t.config().clone(),
        ComputeDevice::Cpu,
    )
    .unwrap();
    let e = t.fit(&train, None, &mut Silent).unwrap_err();
    assert!(e.to_string().contains("validation"), "{e}");
    // early stopping on ROC AUC needs validation metrics installed, and works with them
    let mut auc = t.config().clone();
    auc.early_stopping = Some(EarlyStopping {
        monitor: Monitor::ValRocAuc,
        patience: 1,
    });
    let mut t = Trainer::new(small_cnn(), grey(24), auc.clone(), ComputeDevice::Cpu).unwrap();
    let e = t.fit(&train, Some(&val), &mut Silent).unwrap_err();
    assert!(e.to_string().contains("with_validation"), "{e}");
    let mut t = Trainer::new(small_cnn(), grey(24), auc, ComputeDevice::Cpu)
        .unwrap()
        .with_validation(mammolab::pipeline::EvalValidation);
    t.fit(&train, Some(&val), &mut Silent).unwrap();
    assert!(t.history().epochs.iter().all(|e| e.val_roc_auc.is_some()));
}

#[test]
fn imbalance_tools() {
    // scikit-learn's compute_class_weight("balanced", classes=[0, 1], y) for 95 vs 5:
    // n / (2 * n_c) = [100 / 190, 100 / 10]
    let w = resolve_weights(&ClassWeights::Balanced, &[95, 5])
        .unwrap()
        .unwrap();
    assert!((w[0] - 100.0 / 190.0).abs() < 1e-15 && (w[1] - 10.0).abs() < 1e-15);
    assert!(resolve_weights(&ClassWeights::Balanced, &[10, 0]).is_err());
    assert_eq!(resolve_weights(&ClassWeights::None, &[1, 1]).unwrap(), None);
    // the balanced sampler draws both classes about equally often
    let labels: Vec<usize> = (0..1000).map(|i| usize::from(i % 50 == 0)).collect();
    let order = epoch_order(&labels, 2, Sampler::Balanced, 1, 0);
    assert_eq!(order.len(), 1000);
    let pos = order.iter().filter(|&&i| labels[i] == 1).count();
    assert!(
        (420..580).contains(&pos),
        "{pos} of 1000 draws are positive"
    );
    let shuffled = epoch_order(&labels, 2, Sampler::Shuffle, 1, 0);
    let mut sorted = shuffled.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..1000).collect::<Vec<_>>(), "a permutation");
    assert_ne!(
        shuffled,
        epoch_order(&labels, 2, Sampler::Shuffle, 1, 1),
        "new order each epoch"
    );
    // schedules
    assert_eq!(Schedule::Constant.rate(0.1, 5, 10), 0.1);
    let cos = Schedule::Cosine { min_lr: 0.0 };
    assert!((cos.rate(1.0, 5, 10) - 0.5).abs() < 1e-12 && cos.rate(1.0, 0, 10) == 1.0);
    // class weights on an imbalanced set raise minority recall over no weights
    let train = blobs(100, 24, 8);
    let val = blobs(50, 24, 9);
    let recall = |weights: ClassWeights, sampler: Sampler| {
        let mut c = quick(3);
        c.class_weights = weights;
        c.sampler = sampler;
        let mut t = Trainer::new(small_cnn(), grey(24), c, ComputeDevice::Cpu).unwrap();
        t.fit(&train, None, &mut Silent).unwrap();
        let p = t.predict(&val).unwrap();
        let hits = p
            .iter()
            .zip(&val.labels)
            .filter(|(p, &y)| y == 1 && p[1] >= 0.5)
            .count();
        hits as f64 / val.labels.iter().filter(|&&y| y == 1).count() as f64
    };
    let plain = recall(ClassWeights::None, Sampler::Shuffle);
    let weighted = recall(ClassWeights::Balanced, Sampler::Shuffle);
    let resampled = recall(ClassWeights::None, Sampler::Balanced);
    assert!(
        weighted > plain && resampled > plain,
        "recall {plain} -> weighted {weighted}, resampled {resampled}"
    );
    // bad settings are refused before training
    let mut c = quick(1);
    c.class_weights = ClassWeights::Manual(vec![1.0]);
    let e = Trainer::new(small_cnn(), grey(24), c, ComputeDevice::Cpu)
        .err()
        .unwrap();
    assert!(e.to_string().contains("class_weights"), "{e}");
    let mut t = Trainer::new(small_cnn(), grey(24), quick(1), ComputeDevice::Cpu).unwrap();
    let e = t.fit(&blobs(8, 28, 1), None, &mut Silent).unwrap_err();
    assert!(
        e.to_string().contains("[1, 28, 28]") && e.to_string().contains("[1, 24, 24]"),
        "{e}"
    );
}

#[test]
fn vae_trains_jointly_and_after_pretraining() {
    let train = blobs(48, 16, 10);
    let mut last = vec![];
    for head in [
        HeadTraining::Joint,
        HeadTraining::Pretrain { epochs: 2 },
        HeadTraining::JointAfter { epochs: 2 },
    ] {
        let mut c = VaeConfig::new(2);
        c.filters = vec![8, 16];
        c.latent = 4;
        c.head = head;
        let mut t =
            Trainer::new(ModelConfig::Vae(c), grey(16), quick(4), ComputeDevice::Cpu).unwrap();
        t.fit(&train, None, &mut Silent).unwrap();
        let h = t.history();
        let rec: Vec<Option<f64>> = h.epochs.iter().map(|e| e.reconstruction).collect();
        match head {
            HeadTraining::Joint | HeadTraining::JointAfter { .. } => {
                assert!(rec.iter().all(Option::is_some));
                assert!(
                    rec[3].unwrap() < rec[0].unwrap(),
                    "reconstruction improves: {rec:?}"
                );
            }
            HeadTraining::Pretrain { .. } => {
                assert!(rec[0].is_some() && rec[1].is_some());
                assert!(
                    rec[2].is_none() && rec[3].is_none(),
                    "head-only epochs: {rec:?}"
                );
            }
        }
        let m = t.inference_model();
        let z = latent_means(&m, &train, 16, &cpu()).unwrap();
        assert_eq!((z.len(), z[0].len()), (48, 4));
        let r = reconstructions(&m, &train, &[0, 1, 2], &cpu()).unwrap();
        assert_eq!(r.shape, [3, 1, 16, 16]);
        last.push(t.predict(&train).unwrap());
    }
    assert_eq!(last[0].len(), 48);
    let cnn = small_cnn().init([1, 24, 24], &cpu()).unwrap();
    assert!(latent_means(&cnn, &blobs(2, 24, 1), 2, &cpu()).is_err());
}

/// `--vae` settings parse, print back and land in the config; bad ones are one line naming
/// the key. The KL warm-up is a linear ramp: with the class loss off, epoch 1's training
/// loss is the reconstruction alone (beta 0), and after the ramp it is reconstruction + KL.
#[test]
fn vae_settings_and_the_kl_warm_up() {
    let s: VaeSettings =
        "latent=8, beta=0.5,class_weight=0,kl_warmup=2,pretrain=0,recon=bce,filters=8-16,head=features,code=map"
            .parse()
            .unwrap();
    assert_eq!(
        s.to_string(),
        "latent=8,beta=0.5,class_weight=0,kl_warmup=2,pretrain=0,recon=bce,filters=8-16,head=features,code=map"
    );
    assert_eq!(s.to_string().parse::<VaeSettings>().unwrap(), s);
    let mut c = VaeConfig::new(2);
    c.head = HeadTraining::Pretrain { epochs: 3 };
    s.apply(&mut c);
    assert_eq!(
        (c.latent, c.beta, c.class_weight, c.kl_warmup, c.head),
        (8, 0.5, 0.0, 2, HeadTraining::Joint)
    );
    assert_eq!(
        (c.reconstruction, c.filters.clone(), c.head_input, c.code),
        (
            Reconstruction::Bce,
            vec![8, 16],
            HeadInput::Features,
            Code::Map
        )
    );
    assert_eq!(
        [c.beta_at(0), c.beta_at(1), c.beta_at(2), c.beta_at(9)],
        [0.0, 0.25, 0.5, 0.5]
    );
    assert_eq!(VaeConfig::new(2).beta_at(0), 1.0);
    // The names --vae takes are the ones saved in config.json.
    for (v, name) in Reconstruction::ALL {
        assert_eq!(serde_json::to_value(v).unwrap(), name);
    }
    for (v, name) in HeadInput::ALL {
        assert_eq!(serde_json::to_value(v).unwrap(), name);
    }
    for (v, name) in Code::ALL {
        assert_eq!(serde_json::to_value(v).unwrap(), name);
    }
    for (bad, says) in [
        ("latent=0", "latent=0"),
        ("beta=-1", "beta=`-1` is not a number >= 0"),
        ("class_weight=x", "class_weight=`x`"),
        ("recon=l1", "recon=`l1` is not mse or bce"),
        ("filters=32-0", "filters=`32-0`"),
        ("size=3", "unknown setting `size` (keys: latent, beta"),
        ("latent", "`latent` is not key=value"),
        ("head=z", "head=`z` is not mu or features or positions"),
        ("code=grid", "code=`grid` is not vector or map"),
    ] {
        let e = bad.parse::<VaeSettings>().unwrap_err().to_string();
        assert!(e.contains(says) && e.lines().count() == 1, "{bad}: {e}");
    }

    // Class loss off, beta 1 reached after 2 epochs (the ramp gives epoch 2 beta 0.5).
    let mut c = VaeConfig::new(2);
    c.filters = vec![8, 16];
    c.latent = 4;
    c.class_weight = 0.0;
    c.kl_warmup = 2;
    let mut t = Trainer::new(ModelConfig::Vae(c), grey(16), quick(3), ComputeDevice::Cpu).unwrap();
    t.fit(&blobs(48, 16, 10), None, &mut Silent).unwrap();
    let e = &t.history().epochs;
    let (r0, k0) = (e[0].reconstruction.unwrap(), e[0].kl.unwrap());
    assert!(k0 > 0.0);
    assert!((e[0].train_loss - r0).abs() < 1e-4 * r0, "{:?}", e[0]);
    let (r2, k2) = (e[2].reconstruction.unwrap(), e[2].kl.unwrap());
    assert!(
        (e[2].train_loss - (r2 + k2)).abs() < 1e-4 * (r2 + k2),
        "{:?}",
        e[2]
    );

    // joint_after=2: two VAE-only epochs (loss = reconstruction + KL), then the class term
    // joins at its weight (the cross-entropy of 2 classes is near ln 2 early on).
    let s: VaeSettings = "joint_after=2".parse().unwrap();
    let mut c = VaeConfig::new(2);
    c.filters = vec![8, 16];
    c.latent = 4;
    c.class_weight = 1000.0;
    s.apply(&mut c);
    assert_eq!(c.head, HeadTraining::JointAfter { epochs: 2 });
    assert_eq!((c.class_term_at(1), c.class_term_at(2)), (false, true));
    let mut t = Trainer::new(ModelConfig::Vae(c), grey(16), quick(3), ComputeDevice::Cpu).unwrap();
    t.fit(&blobs(48, 16, 10), None, &mut Silent).unwrap();
    let e = &t.history().epochs;
    for (i, epoch) in e.iter().enumerate() {
        let vae = epoch.reconstruction.unwrap() + epoch.kl.unwrap();
        let class = (epoch.train_loss - vae) / 1000.0;
        if i < 2 {
            assert!(class.abs() < 1e-4 * vae / 1000.0, "epoch {i}: {epoch:?}");
        } else {
            assert!(class > 0.05 && class < 2.0, "epoch {i}: class term {class}");
        }
    }
    let e = "pretrain=1,joint_after=2"
        .parse::<VaeSettings>()
        .unwrap_err();
    assert!(e.to_string().contains("give one"), "{e}");
    // A zero of one key does not undo the other's count, whichever comes first.
    for text in ["pretrain=3,joint_after=0", "joint_after=0,pretrain=3"] {
        let mut c = VaeConfig::new(2);
        text.parse::<VaeSettings>().unwrap().apply(&mut c);
        assert_eq!(c.head, HeadTraining::Pretrain { epochs: 3 }, "{text}");
    }
    assert_eq!(
        "pretrain=0,joint_after=2"
            .parse::<VaeSettings>()
            .unwrap()
            .to_string(),
        "pretrain=0,joint_after=2"
    );
}

#[cfg(not(feature = "cuda"))]
#[test]
fn cuda_without_the_feature_is_one_clear_line() {
    let e = ComputeDevice::Cuda.device().unwrap_err().to_string();
    assert!(e.contains("--features cuda") && !e.contains('\n'), "{e}");
    use clap::ValueEnum;
    assert!(ComputeDevice::from_str("tpu", true).is_err());
    assert_eq!(
        ComputeDevice::from_str("GPU", true),
        Ok(ComputeDevice::Cuda)
    );
}

/// The logistic baseline against scikit-learn 1.6.1's `LogisticRegression(C=1)` on the
/// standardised Wisconsin table (`tests/data/sklearn_reference.json`, key `logistic`),
/// probabilities within 1e-4 (both stop L-BFGS at a gradient tolerance).
#[test]
fn baselines_match_scikit_learn() {
    let text =
        std::fs::read_to_string(crate::repo().join("tests/data/sklearn_reference.json")).unwrap();
    let r: Value = serde_json::from_str(&text).unwrap();
    let l = &r["logistic"];
    let rows = |k: &str| -> Vec<Vec<f64>> {
        l[k].as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect()
            })
            .collect()
    };
    let x_train = rows("x_train");
    let y: Vec<bool> = l["y_train"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_bool().unwrap())
        .collect();
    let names: Vec<String> = (0..x_train[0].len()).map(|i| format!("f{i}")).collect();
    let opts = LogisticOptions {
        alpha: 1.0,
        max_iterations: 1000,
    };
    let m = Logistic::fit(&x_train, &names, &y, opts).unwrap();
    let p = m.predict_proba(&rows("x_test")).unwrap();
    let want: Vec<f64> = l["proba_test"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let worst = p
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(worst < 1e-4, "max |p - sklearn| = {worst}");
    assert_eq!(m.coefficients().len(), names.len());
    let top = m.coefficients_frame(3).unwrap();
    assert_eq!(top.height(), 3);
    let first = top
        .column("feature")
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap()
        .to_string();
    assert_eq!(first, m.coefficients()[0].0, "largest magnitude first");
    // a missing value takes the training mean
    let mut with_nan = rows("x_test");
    with_nan[0][0] = f64::NAN;
    assert!(m.predict_proba(&with_nan).unwrap()[0].is_finite());
    assert!(Logistic::fit(&x_train, &names, &vec![true; y.len()], opts).is_err());

    let maj = MajorityClass::fit(&[0, 0, 0, 1], 2).unwrap();
    assert_eq!(maj.predict(2), [0, 0]);
    assert_eq!(maj.scores(3, 1), [0.25; 3]);
}

/// Warm-up ramps the rate step by step; clipping changes the steps (and is checked); a
/// network driven to a constant output by far too large a step is stopped at the first
/// collapsed epoch with a line naming the fixes, unless asked to go on.
#[test]
fn warmup_clipping_and_collapse() {
    let c = quick(3).with_warmup_epochs(2);
    let lr = c.learning_rate;
    assert_eq!(c.rate_at(0, 0, 4), lr / 8.0);
    assert_eq!(c.rate_at(0, 3, 4), lr / 2.0);
    assert_eq!(c.rate_at(1, 3, 4), lr);
    assert_eq!(c.rate_at(2, 0, 4), lr);
    assert_eq!(quick(3).rate_at(0, 0, 4), lr, "no warm-up");
    let e = Trainer::new(
        small_cnn(),
        grey(16),
        quick(1).with_grad_clip(Some(0.0)),
        ComputeDevice::Cpu,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("grad_clip"), "{e}");

    let train = blobs(40, 16, 1);
    let fit = |config: TrainConfig| {
        let mut t = Trainer::new(small_cnn(), grey(16), config, ComputeDevice::Cpu).unwrap();
        t.fit(&train, None, &mut Silent).map(|_| t)
    };
    let plain = fit(quick(1)).unwrap().predict(&train).unwrap();
    let clipped = fit(quick(1).with_grad_clip(Some(1e-4))).unwrap();
    assert_ne!(
        clipped.predict(&train).unwrap(),
        plain,
        "clipping is applied"
    );
    assert_eq!(clipped.config().grad_clip, Some(1e-4));
    let warm = fit(quick(1).with_warmup_epochs(1)).unwrap();
    assert_ne!(warm.predict(&train).unwrap(), plain, "warm-up is applied");

    // SGD with momentum at 1.0 kills every ReLU (found by trying; Adam at 5.0 instead
    // saturates a still varying output).
    let wild = quick(4)
        .with_optimizer(OptimizerKind::Sgd { momentum: 0.9 })
        .with_learning_rate(1.0);
    let e = fit(wild.clone()).err().expect("collapsed").to_string();
    assert!(
        e.contains("collapsed to a constant output in epoch") && e.contains("--grad-clip"),
        "{e}"
    );
    assert!(!e.contains('\n'));
    let t = fit(wild.with_stop_on_collapse(false)).unwrap();
    assert_eq!(t.history().epochs.len(), 4, "went on as asked");
    let p = t.predict(&train).unwrap();
    assert!(p.iter().all(|r| r == &p[0]), "a constant output");
}

/// `--model cnn-bn`: seed 001's CNN with batch norm trains, and saves and loads.
#[test]
fn seed_cnn_with_batch_norm() {
    let config = ModelChoice::CnnBn.config(2);
    let ModelConfig::Cnn(c) = &config else {
        panic!("{config:?}")
    };
    let plain = CnnConfig::seed001(2);
    assert!(c.batch_norm && !plain.batch_norm);
    assert_eq!((&c.filters, c.dense), (&plain.filters, plain.dense));
    let train = blobs(32, 32, 5);
    let mut t = Trainer::new(config, grey(32), quick(1), ComputeDevice::Cpu).unwrap();
    t.fit(&train, None, &mut Silent).unwrap();
    let dir = tempfile::tempdir().unwrap();
    t.save(dir.path()).unwrap();
    let (info, m) = load_model(dir.path(), ComputeDevice::Cpu).unwrap();
    let p = probabilities(&m, &train, 32, &cpu()).unwrap();
    assert_eq!(p, t.predict(&train).unwrap());

    // Classes never named are saved by index, the second positive (label 1).
    assert_eq!(info.classes, mammolab::Classes::indexed(2));
    // One name per output, checked by the trainer and by the checkpoint's reader alike.
    let three = mammolab::Classes::new(vec!["a".into(), "b".into(), "c".into()], None).unwrap();
    let Err(e) = t.with_classes(three) else {
        panic!("three names for two outputs were taken")
    };
    let e = e.to_string();
    assert!(e.contains("3 classes") && e.contains("2 outputs"), "{e}");
    let config = dir.path().join("config.json");
    let text = std::fs::read_to_string(&config).unwrap();
    let tampered = text.replacen("\"class_0\",", "\"class_0\", \"class_2\",", 1);
    assert_ne!(text, tampered);
    std::fs::write(&config, tampered).unwrap();
    let e = load_model(dir.path(), ComputeDevice::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("config.json") && e.contains("3 classes") && e.contains("2 outputs"),
        "{e}"
    );
}

/// `--model cancernet`: seed 003's network on colour inputs trains, explains itself through
/// the layer Grad-CAM reads, and saves and loads (tests/torch checks it against PyTorch).
#[test]
fn cancernet_in_colour() {
    let config = ModelChoice::CancerNet.config(2);
    assert_eq!(config.name(), "cancernet");
    let input = Preprocess::new(16, 16).with_channels(Channels::Rgb);
    assert_eq!(input.input_shape(), [3, 16, 16]);
    // The blobs in three planes: a colour image whose planes differ.
    let grey = blobs(24, 16, 9);
    let data: Vec<f32> = grey
        .data
        .chunks(16 * 16)
        .flat_map(|p| {
            [1.0, 0.7, 0.4]
                .into_iter()
                .flat_map(move |w| p.iter().map(move |v| v * w))
        })
        .collect();
    let train = Samples::new(data, [24, 3, 16, 16], grey.labels.clone()).unwrap();
    let mut t = Trainer::new(config, input, quick(1), ComputeDevice::Cpu).unwrap();
    t.fit(&train, None, &mut Silent).unwrap();
    let dir = tempfile::tempdir().unwrap();
    t.save(dir.path()).unwrap();
    let (info, m) = load_model(dir.path(), ComputeDevice::Cpu).unwrap();
    assert_eq!(info.input.input_shape(), [3, 16, 16]);
    let p = probabilities(&m, &train, 32, &cpu()).unwrap();
    assert_eq!(p, t.predict(&train).unwrap());
    assert_eq!(
        m.layer_names(),
        ["stages.0", "stages.1", "stages.2", "dense", "logits"]
    );
    assert_eq!(m.embedding_layer(), "dense");
    let x = Tensor::<4>::from_data(
        TensorData::new(train.gather(&[0, 1]), [2, 3, 16, 16]),
        &cpu(),
    );
    let a = m.features(x.clone());
    assert_eq!(
        a.dims(),
        [2, 128, 4, 4],
        "the last unit, before the last pool"
    );
    let direct: Vec<f32> = m.logits(x).into_data().try_to_vec::<f32>().unwrap();
    let split: Vec<f32> = m.head(a, None).into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(direct, split);
}

/// tests/data/torch_reference.json (made by tests/python/make_torch_reference.py).
fn torch_reference() -> Value {
    let text =
        std::fs::read_to_string(crate::repo().join("tests/data/torch_reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A JSON array of numbers.
fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// `imaging::upsample_bilinear` against `F.interpolate(mode="bilinear",
/// align_corners=False)` of PyTorch 2.9.1 (`tests/data/torch_reference.json`, made by
/// `tests/python/make_torch_reference.py`): enlarging and shrinking. Tolerance 1e-6 (f32).
#[test]
fn bilinear_resampling_matches_pytorch_interpolate() {
    let r = torch_reference();
    let cases = r["interpolate"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    for c in cases {
        let input: Vec<f32> = nums(&c["input"]).into_iter().map(|v| v as f32).collect();
        let [h, w] = [0, 1].map(|i| nums(&c["shape"])[i] as usize);
        let [oh, ow] = [0, 1].map(|i| nums(&c["size"])[i] as usize);
        let got = mammolab::imaging::upsample_bilinear(&input, [h, w], [oh, ow]).unwrap();
        assert_eq!((got.width, got.height), (ow, oh));
        for (i, (g, want)) in got.pixels.iter().zip(nums(&c["output"])).enumerate() {
            assert!(
                (*g as f64 - want).abs() < 1e-6,
                "{h}x{w} -> {oh}x{ow}, value {i}: {g} vs PyTorch {want}"
            );
        }
    }
}

/// For a network that ends in global average pooling and one linear layer, Grad-CAM's
/// channel weights are the class's weights / (h * w), so its raw map sums to the logit
/// minus the bias (the CAM identity of Zhou et al. 2016): checks the gradient without
/// another framework.
#[test]
fn grad_cam_of_a_pooled_network_sums_to_the_logit() {
    use mammolab::model::saliency::grad_cam;
    let d = cpu();
    let cfg = ModelConfig::Deep(DeepCnnConfig::new(3, 2, true));
    let model = cfg.init([1, 16, 16], &d).unwrap();
    let samples = blobs(5, 16, 11);
    let idx: Vec<usize> = (0..5).collect();
    let x = Tensor::<4>::from_data(TensorData::new(samples.gather(&idx), [5, 1, 16, 16]), &d);
    let logits: Vec<f32> = model.logits(x.clone()).into_data().try_to_vec().unwrap();
    let a = model.features(x);
    let bias: Vec<f32> = model
        .head(a.zeros_like(), None)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    for class in 0..3 {
        let cams = grad_cam(&model, &samples, &idx, class, &d).unwrap();
        assert_eq!(cams.len(), 5);
        for (n, cam) in cams.iter().enumerate() {
            assert_eq!(
                cam.feature_size,
                [4, 4],
                "16 px, pooled after the stem and half the blocks"
            );
            assert_eq!((cam.map.width, cam.map.height), (16, 16));
            let sum: f64 = cam.raw.iter().map(|&v| v as f64).sum();
            let want = (logits[n * 3 + class] - bias[n * 3 + class]) as f64;
            assert!(
                (sum - want).abs() < 1e-4,
                "image {n} class {class}: {sum} vs {want}"
            );
        }
    }
    let e = grad_cam(&model, &samples, &idx, 3, &d).unwrap_err();
    assert!(e.to_string().contains("the model has 3 classes"), "{e}");
}

/// A CNN trained to find a bright square looks at the square: the peak of its Grad-CAM and
/// of its occlusion map lies on the square (within 2 px) for most positive images.
#[test]
fn saliency_of_a_trained_cnn_points_at_the_blob() {
    use mammolab::model::saliency::{grad_cam, occlusion, peak, Occlusion};
    let mut c = CnnConfig::seed001(2);
    c.filters = vec![8, 16];
    c.dense = 16;
    c.same_padding = true;
    let mut t = Trainer::new(ModelConfig::Cnn(c), grey(24), quick(8), ComputeDevice::Cpu).unwrap();
    t.fit(&blobs(200, 24, 21), None, &mut Silent).unwrap();
    let test = blobs(100, 24, 22);
    let pos: Vec<usize> = (0..100).filter(|&i| test.labels[i] == 1).collect();
    let model = t.inference_model();
    let d = cpu();
    let cams = grad_cam(&model, &test, &pos, 1, &d).unwrap();
    let occ = occlusion(
        &model,
        &test,
        &pos,
        1,
        &Occlusion::for_size(24, 0.0),
        64,
        &d,
    )
    .unwrap();
    // The square: the 4x4 window with the largest sum (its pixels are >= 0.8, noise < 0.3).
    let square = |i: usize| {
        let img = test.gather(&[i]);
        let mut best = (0, 0, f32::MIN);
        for y in 0..=20 {
            for x in 0..=20 {
                let s: f32 = (0..16).map(|k| img[(y + k / 4) * 24 + x + k % 4]).sum();
                if s > best.2 {
                    best = (x, y, s);
                }
            }
        }
        (best.0, best.1)
    };
    let on = |(px, py): (usize, usize), (x, y): (usize, usize)| {
        px + 2 >= x && px <= x + 5 && py + 2 >= y && py <= y + 5
    };
    let hits = |maps: Vec<&mammolab::imaging::Gray>| {
        maps.iter()
            .zip(&pos)
            .filter(|(m, &i)| on(peak(m), square(i)))
            .count()
    };
    let g = hits(cams.iter().map(|c| &c.map).collect());
    let o = hits(occ.iter().collect());
    assert!(
        g * 4 >= pos.len() * 3,
        "Grad-CAM on the square for {g} of {}",
        pos.len()
    );
    assert!(
        o * 4 >= pos.len() * 3,
        "occlusion on the square for {o} of {}",
        pos.len()
    );
}

#[test]
fn resnet_backbone_rate_scales_its_step_and_zero_freezes_it() {
    // One SGD step (8 images, batch 8) of torchvision's ResNet-18 from the same weights at
    // backbone factors 1, 0.5 and 0: the backbone moves half as far at 0.5 and not at all
    // at 0 (nor do its batch-norm statistics); the head `fc` takes the full step each time.
    let dir = tempfile::tempdir().unwrap();
    let data = blobs(8, 32, 11);
    let model = ModelChoice::Resnet18.config(2);
    let weights = |factor: f64, fit: bool| {
        let cfg = TrainConfig {
            epochs: 1,
            batch_size: 8,
            learning_rate: 0.05,
            optimizer: OptimizerKind::Sgd { momentum: 0.0 },
            stop_on_collapse: false,
            ..TrainConfig::default()
        }
        .with_backbone_lr_factor(factor);
        let mut t = Trainer::new(model.clone(), grey(32), cfg, ComputeDevice::Cpu).unwrap();
        if fit {
            t.fit(&data, None, &mut Silent).unwrap();
        }
        let ck = dir.path().join(format!("f{factor}-{fit}"));
        t.save(&ck).unwrap();
        checkpoint::read_tensors(&ck.join("model.safetensors")).unwrap()
    };
    let start = weights(1.0, false);
    let (full, half, frozen) = (weights(1.0, true), weights(0.5, true), weights(0.0, true));
    assert!(
        start.contains_key("layer2.0.downsample.0.weight"),
        "torchvision names"
    );
    let delta =
        |a: &[f32], b: &[f32]| -> Vec<f32> { a.iter().zip(b).map(|(x, y)| x - y).collect() };
    for name in ["conv1.weight", "layer3.1.conv2.weight", "fc.weight"] {
        let d1 = delta(&full[name].1, &start[name].1);
        let dh = delta(&half[name].1, &start[name].1);
        let scale = d1.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(scale > 0.0, "{name} did not move");
        let ratio = if name == "fc.weight" { 1.0 } else { 0.5 };
        let worst = d1
            .iter()
            .zip(&dh)
            .map(|(a, b)| (a * ratio - b).abs())
            .fold(0f32, f32::max);
        assert!(worst <= 1e-3 * scale, "{name}: off by {worst} of {scale}");
    }
    for (name, (_, v)) in &start {
        let same = frozen[name].1 == *v;
        assert_eq!(same, !name.starts_with("fc."), "{name} frozen = {same}");
    }
    assert_ne!(full["bn1.running_mean"].1, start["bn1.running_mean"].1);
    let cnn = Trainer::new(
        small_cnn(),
        grey(24),
        quick(1).with_backbone_lr_factor(0.1),
        ComputeDevice::Cpu,
    );
    let err = cnn.err().unwrap().to_string();
    assert!(err.contains("torchvision ResNet"), "{err}");
}

/// `dataset::Draw`'s geometry against torchvision's `affine` and its intensity against
/// `adjust_gamma` + `adjust_contrast` (tests/data/torch_reference.json), to 1e-5.
#[test]
fn augmentation_matches_torchvision() {
    use mammolab::dataset::Draw;
    let r = torch_reference();
    let a = &r["affine"];
    let input: Vec<f32> = nums(&a["input"]).into_iter().map(|v| v as f32).collect();
    let [h, w] = [0, 1].map(|i| nums(&a["shape"])[i] as usize);
    let check = |draw: Draw, want: Vec<f64>| {
        let mut got = input.clone();
        draw.apply(&mut got, [1, h, w], None);
        for (i, (g, t)) in got.iter().zip(&want).enumerate() {
            assert!(
                (*g as f64 - t).abs() < 1e-5,
                "{draw:?}: pixel {i} (row {}, col {}): {g} vs torchvision {t}",
                i / w,
                i % w
            );
        }
    };
    let cases = a["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    for c in cases {
        let shift = nums(&c["shift"]);
        let draw = Draw {
            rotate: c["rotate"].as_f64().unwrap(),
            scale: c["scale"].as_f64().unwrap(),
            shift: [shift[0], shift[1]],
            ..Draw::default()
        };
        check(draw, nums(&c["output"]));
    }
    for c in a["intensity"].as_array().unwrap() {
        let draw = Draw {
            gamma: c["gamma"].as_f64().unwrap(),
            contrast: c["contrast"].as_f64().unwrap(),
            ..Draw::default()
        };
        check(draw, nums(&c["output"]));
    }
}

#[test]
fn augmentation_is_seeded_exact_where_it_should_be_and_trains() {
    use mammolab::dataset::{Augment, Draw};
    let (h, w) = (6, 7);
    let img: Vec<f32> = (0..h * w).map(|i| i as f32 / 64.0).collect();
    let norm = Some((0.5, 0.25));
    let apply = |d: Draw| {
        let mut v = img.clone();
        d.apply(&mut v, [1, h, w], norm);
        v
    };
    // flips mirror exactly; the identity and a crop of the whole image change nothing
    let flipped = apply(Draw {
        hflip: true,
        ..Draw::default()
    });
    for y in 0..h {
        for x in 0..w {
            assert_eq!(flipped[y * w + x], img[y * w + (w - 1 - x)]);
        }
    }
    let flipped = apply(Draw {
        vflip: true,
        ..Draw::default()
    });
    assert_eq!(&flipped[..w], &img[(h - 1) * w..]);
    assert_eq!(apply(Draw::default()), img);
    let whole = apply(Draw {
        crop: Some([0.0, 0.0, w as f64, h as f64]),
        ..Draw::default()
    });
    assert!(whole.iter().zip(&img).all(|(a, b)| (a - b).abs() < 1e-6));
    // a whole-pixel shift moves pixels and fills with black (normalised: (0 - 0.5) / 0.25)
    let shifted = apply(Draw {
        shift: [2.0, 0.0],
        ..Draw::default()
    });
    assert_eq!(shifted[0], -2.0);
    assert!((shifted[3] - img[1]).abs() < 1e-6);
    // brightness shifts the [0, 1] image: +0.1 is +0.4 after normalising by 0.25
    let brighter = apply(Draw {
        brightness: 0.1,
        ..Draw::default()
    });
    assert!((brighter[5] - img[5] - 0.4).abs() < 1e-5);
    // the crop is the stretched box: the top-left quarter's corner pixel comes first
    let box_ = Draw {
        crop: Some([0.0, 0.0, w as f64 / 2.0, h as f64 / 2.0]),
        ..Draw::default()
    };
    let zoomed = apply(box_);
    // output (6, 5) comes from (2.75, 2.25); the test image is linear in x and y
    let want = (2.25 * w as f32 + 2.75) / 64.0;
    assert!(
        (zoomed[w * h - 1] - want).abs() < 1e-6,
        "{}",
        zoomed[w * h - 1]
    );

    // seeded: a batch is its images' streams, however it is split
    let a: Augment = "standard,hflip=0.5,crop=0.7".parse().unwrap();
    assert_eq!(a.to_string().parse::<Augment>().unwrap(), a);
    let n = 8;
    let base: Vec<f32> = (0..n * h * w).map(|i| (i % 61) as f32 / 61.0).collect();
    let seed = a.epoch_seed(42, 3);
    let mut whole_batch = base.clone();
    a.apply_batch(&mut whole_batch, [n, 1, h, w], None, seed, 0);
    let mut halves = base.clone();
    let (first, second) = halves.split_at_mut(4 * h * w);
    a.apply_batch(first, [4, 1, h, w], None, seed, 0);
    a.apply_batch(second, [4, 1, h, w], None, seed, 4);
    assert_eq!(whole_batch, halves);
    assert_ne!(whole_batch, base);
    let mut other_epoch = base.clone();
    a.apply_batch(&mut other_epoch, [n, 1, h, w], None, a.epoch_seed(42, 4), 0);
    assert_ne!(other_epoch, whole_batch);
    // one-line errors name the setting
    for (spec, says) in [
        ("rotate=200", "rotate=200 is not in [0, 180]"),
        ("spin=3", "unknown setting `spin`"),
        ("vflip", "`vflip` is not `none`, `standard` or key=value"),
        ("zoom=big", "zoom=`big` is not a number"),
    ] {
        let e = spec.parse::<Augment>().unwrap_err().to_string();
        assert!(e.contains(says) && !e.contains('\n'), "{spec}: {e}");
    }
    assert!("none".parse::<Augment>().unwrap().is_identity());
    assert_eq!(
        TrainConfig::default()
            .with_augment(Some(Augment::default()))
            .augment,
        None
    );

    // in training: deterministic, different from no augmentation, saved in the config
    let train = blobs(48, 24, 5);
    let fit = |augment: Option<Augment>| {
        let cfg = quick(2).with_augment(augment);
        let mut t = Trainer::new(small_cnn(), grey(24), cfg, ComputeDevice::Cpu).unwrap();
        t.fit(&train, None, &mut Silent).unwrap();
        t
    };
    let losses =
        |t: &Trainer| -> Vec<f64> { t.history().epochs.iter().map(|e| e.train_loss).collect() };
    let (t1, t2, plain) = (fit(Some(a.clone())), fit(Some(a.clone())), fit(None));
    assert_eq!(losses(&t1), losses(&t2));
    assert_ne!(losses(&t1), losses(&plain));
    let dir = tempfile::tempdir().unwrap();
    t1.save(dir.path()).unwrap();
    let (info, _) = load_model(dir.path(), ComputeDevice::Cpu).unwrap();
    assert_eq!(info.train.augment, Some(a));
}

/// Named layers: every model lists its layers, the `logits` layer's softmax is what
/// `probabilities` gives, pooling a map gives one value per channel, and a wrong name is
/// one line listing the layers (PyTorch comparison: tests/torch/test_features.py).
#[test]
fn named_layers_are_listed_and_consistent() {
    use mammolab::model::layers::{activations, Pool};
    let samples = blobs(12, 24, 9);
    let model = small_cnn().init([1, 24, 24], &cpu()).unwrap();
    assert_eq!(
        model.layer_names(),
        ["blocks.0", "blocks.1", "dense", "logits"]
    );
    let logits = activations(&model, &samples, "logits", Pool::Mean, 5, &cpu()).unwrap();
    let probs = probabilities(&model, &samples, 5, &cpu()).unwrap();
    for (l, p) in logits.iter().zip(&probs) {
        let z: f64 = l.iter().map(|&v| (v as f64).exp()).sum();
        for (a, b) in l.iter().zip(p) {
            assert!(((*a as f64).exp() / z - b).abs() < 1e-6);
        }
    }
    let dense = activations(&model, &samples, "dense", Pool::Mean, 32, &cpu()).unwrap();
    assert_eq!((dense.len(), dense[0].len()), (12, 16));
    assert!(dense.iter().flatten().all(|v| *v >= 0.0), "after ReLU");
    // blocks.1 is [16, 4, 4] for 24 px: 16 columns pooled, 256 flattened; max >= mean
    let mean = activations(&model, &samples, "blocks.1", Pool::Mean, 32, &cpu()).unwrap();
    let max = activations(&model, &samples, "blocks.1", Pool::Max, 32, &cpu()).unwrap();
    let flat = activations(&model, &samples, "blocks.1", Pool::Flatten, 32, &cpu()).unwrap();
    assert_eq!((mean[0].len(), flat[0].len()), (16, 256));
    for c in 0..16 {
        let cell = &flat[3][c * 16..(c + 1) * 16];
        let m = cell.iter().sum::<f32>() / 16.0;
        assert!((m - mean[3][c]).abs() < 1e-5 && max[3][c] >= mean[3][c]);
        assert_eq!(cell.iter().cloned().fold(f32::MIN, f32::max), max[3][c]);
    }
    let e = activations(&model, &samples, "conv9", Pool::Mean, 32, &cpu()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid parameter layer: this model has no layer `conv9`; it has blocks.0, blocks.1, dense, logits"
    );
    for (m, embedding) in [
        (ModelConfig::Vae(VaeConfig::new(2)), "mu"),
        (ModelConfig::ResNet(ResNetConfig::new(18, 2)), "avgpool"),
        (ModelConfig::Deep(DeepCnnConfig::new(2, 2, true)), "gap"),
    ] {
        let net = m.init([1, 32, 32], &cpu()).unwrap();
        assert!(net.layer_names().iter().any(|l| l == embedding));
        assert_eq!(net.embedding_layer(), embedding);
    }
}

/// A fusion model learns from its workbook columns when the images carry nothing (noise, the
/// label only in column `signal`), its logits are the CNN's plus a linear map of the columns,
/// it refuses images without their columns in one line, explains images with Grad-CAM with
/// the columns held, and its checkpoint (standardiser included) scores the same.
#[test]
fn fusion_learns_from_its_columns_and_needs_them() {
    use mammolab::dataset::tabular::{Covariates, Standardiser};
    use mammolab::model::saliency::grad_cam;
    let n = 96;
    let side = 16;
    let mut rng = mammolab::rng::Rng::new(3);
    let labels: Vec<usize> = (0..n).map(|i| usize::from(i % 4 == 0)).collect();
    let data: Vec<f32> = (0..n * side * side).map(|_| rng.f64() as f32).collect();
    // raw columns: `signal` = 60 + 10 * label + noise (a few missing), `noise` = noise
    let raw: Vec<Vec<f64>> = labels
        .iter()
        .enumerate()
        .map(|(i, &y)| {
            let signal = if i % 17 == 5 {
                f64::NAN
            } else {
                60.0 + 10.0 * y as f64 + 2.0 * rng.f64()
            };
            vec![signal, 1000.0 * rng.f64()]
        })
        .collect();
    let names = vec!["signal".to_string(), "noise".to_string()];
    let scaler = Standardiser::fit(&raw, &names, "test").unwrap();
    assert_eq!(scaler.missing, vec![6, 0]);
    assert!(scaler.describe()[0].contains("6 of 96 training rows missing"));
    let images = Samples::new(data, [n, 1, side, side], labels.clone()).unwrap();
    let samples = images
        .clone()
        .with_covariates(Covariates::new(&scaler, &raw).unwrap())
        .unwrap();
    let mut image = CnnConfig::seed001(2);
    image.filters = vec![4];
    image.dense = 8;
    let config = ModelConfig::Fusion(FusionConfig {
        image,
        scaler: scaler.clone(),
    });
    assert_eq!(config.name(), "fusion");
    assert_eq!(config.covariates(), names.as_slice());
    let train = TrainConfig {
        learning_rate: 1e-2,
        ..quick(8)
    };
    let mut t = Trainer::new(config, grey(side), train, ComputeDevice::Cpu).unwrap();
    let e = t.fit(&images, None, &mut Silent).unwrap_err().to_string();
    assert!(
        e.contains("takes 2 workbook columns") && !e.contains('\n'),
        "{e}"
    );
    t.fit(&samples, None, &mut Silent).unwrap();
    let scores = t.scores(&samples, 1).unwrap();
    let truth: Vec<bool> = labels.iter().map(|&l| l == 1).collect();
    let auc = mammolab::eval::roc_auc(&truth, &scores).unwrap();
    assert!(auc > 0.95, "the column carries the label: AUC {auc}");

    // logits = the CNN's head on the image + a bias-free map of the columns
    let d = cpu();
    let model = t.inference_model();
    let idx: Vec<usize> = (0..6).collect();
    let x = mammolab::model::batch::images_tensor(&samples, &idx, &d);
    let c = mammolab::model::batch::covariates_tensor(&samples, &idx, &d);
    let full: Vec<f32> = model
        .logits_with(x.clone(), c.clone())
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let zero = c.clone().map(|c| c.zeros_like());
    let image_only: Vec<f32> = model
        .logits_with(x.clone(), zero)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert!(matches!(model, Model::Fusion(_)));
    let shift: Vec<f32> = (model.logits_with(x.clone(), c.clone().map(|c| c.mul_scalar(2.0)))
        - model.logits_with(x.clone(), c.clone()))
    .into_data()
    .try_to_vec::<f32>()
    .unwrap();
    for i in 0..full.len() {
        // linear in the columns: doubling them adds the columns' term once more
        assert!((shift[i] - (full[i] - image_only[i])).abs() < 1e-4);
    }
    assert_eq!(
        model.layer_names(),
        vec!["image.blocks.0", "image.dense"],
        "the image branch's layers; the fused logits need the columns"
    );
    assert_eq!(model.embedding_layer(), "image.dense");

    // Grad-CAM with the columns held at their values; without them, one line
    let cams = grad_cam(&model, &samples, &idx, 1, &d).unwrap();
    assert_eq!(cams.len(), 6);
    let e = grad_cam(&model, &images, &idx, 1, &d)
        .unwrap_err()
        .to_string();
    assert!(e.contains("workbook columns"), "{e}");
    let e = probabilities(&model, &images, 32, &d)
        .unwrap_err()
        .to_string();
    assert!(e.contains("carry 0"), "{e}");

    // the checkpoint keeps the standardiser and scores the same
    let dir = tempfile::tempdir().unwrap();
    t.save(dir.path()).unwrap();
    let (info, m) = load_model(dir.path(), ComputeDevice::Cpu).unwrap();
    let ModelConfig::Fusion(saved) = &info.model else {
        panic!("{:?}", info.model)
    };
    assert_eq!(saved.scaler, scaler);
    assert_eq!(
        probabilities(&m, &samples, 32, &cpu()).unwrap(),
        t.predict(&samples).unwrap()
    );
}

/// `code=map`: the code is `latent` numbers at each of the last feature map's positions,
/// flattened position by position, so it keeps where things are: changing the input's
/// top-left corner changes the code of the top-left positions only (a vector code changes
/// everywhere). It trains jointly, the reconstruction improves, and a checkpoint written
/// before the setting existed (no `code` in its config) reads as a vector code.
#[test]
fn a_vae_with_a_latent_map() {
    let train = blobs(48, 16, 10);
    let mut c = VaeConfig::new(2);
    c.filters = vec![8, 16];
    c.latent = 3;
    c.code = Code::Map;
    let mut t = Trainer::new(
        ModelConfig::Vae(c.clone()),
        grey(16),
        quick(4),
        ComputeDevice::Cpu,
    )
    .unwrap();
    t.fit(&train, None, &mut Silent).unwrap();
    let rec: Vec<f64> = t.history().series("reconstruction").unwrap();
    assert!(rec[3] < rec[0], "reconstruction improves: {rec:?}");
    let m = t.inference_model();
    let Model::Vae(v) = &m else { unreachable!() };
    let side = 16 / 4;
    let z = latent_means(&m, &train, 16, &cpu()).unwrap();
    assert_eq!((z.len(), z[0].len()), (48, side * side * 3));
    let r = reconstructions(&m, &train, &[0, 1], &cpu()).unwrap();
    assert_eq!(r.shape, [2, 1, 16, 16]);

    // Brighten the top-left 2 x 2 pixels of one image: after two 4 x 4 stride-2
    // convolutions (padding 1) the feature in map row j sees input rows 4j - 3 to 4j + 6,
    // so only map rows and columns 0 and 1 see pixels 0 and 1.
    let mut a = train.gather(&[0]);
    let x0 = Tensor::<4>::from_data(TensorData::new(a.clone(), [1, 1, 16, 16]), &cpu());
    for (r, col) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
        a[r * 16 + col] += 5.0;
    }
    let x1 = Tensor::<4>::from_data(TensorData::new(a, [1, 1, 16, 16]), &cpu());
    let mu = |x: Tensor<4>| v.encode(x).0.into_data().try_to_vec::<f32>().unwrap();
    let (before, after) = (mu(x0.clone()), mu(x1.clone()));
    let moved: Vec<bool> = (0..side * side)
        .map(|p| (0..3).any(|k| before[p * 3 + k] != after[p * 3 + k]))
        .collect();
    // Positions (row, col) of the 4 x 4 map, row-major: the corner ones moved, the far ones not.
    assert!(moved[0], "{moved:?}");
    assert!(!moved[side * side - 1] && !moved[2 * side + 2], "{moved:?}");
    let mut vector = c;
    vector.code = Code::Vector;
    let vv = vector.init(1, 16, &cpu()).unwrap();
    let mv = |x: Tensor<4>| vv.encode(x).0.into_data().try_to_vec::<f32>().unwrap();
    assert!(mv(x0.clone()).iter().zip(mv(x1)).all(|(a, b)| *a != b));

    // head=positions: each position's code scored by one linear layer, the image's logit
    // per class the highest (a code of one position is scored alone); only with a map code.
    let mut pos = vector.clone();
    pos.code = Code::Map;
    pos.head_input = HeadInput::Positions;
    let pv = pos.init(1, 16, &cpu()).unwrap();
    let code = pv.encode(x0.clone()).0;
    let values = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().unwrap();
    let logits = values(pv.classify(code.clone()));
    let one: Vec<Vec<f32>> = (0..side * side)
        .map(|p| values(pv.classify(code.clone().slice([0..1, p * 3..(p + 1) * 3]))))
        .collect();
    for k in 0..2 {
        let best = one.iter().map(|l| l[k]).fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(logits[k], best);
    }
    assert!(one.iter().any(|l| l[1] != logits[1]), "positions differ");
    pos.code = Code::Vector;
    let e = pos.init(1, 16, &cpu()).unwrap_err();
    assert!(e.to_string().contains("head=positions"), "{e}");

    // A config.json from before `code`: a vector code.
    let mut old = serde_json::to_value(VaeConfig::new(2)).unwrap();
    old.as_object_mut().unwrap().remove("code");
    let back: VaeConfig = serde_json::from_value(old).unwrap();
    assert_eq!(back.code, Code::Vector);
}

/// `head=features`: the head reads the encoder's flattened features, so it trains (alone,
/// after pre-training) without moving the encoder, and its logits are the same through
/// `forward`, `Model::logits` and Grad-CAM's `head_logits`.
#[test]
fn a_vae_head_on_the_features() {
    let train = blobs(48, 16, 10);
    let mut c = VaeConfig::new(2);
    c.filters = vec![8, 16];
    c.latent = 4;
    c.head_input = HeadInput::Features;
    c.head = HeadTraining::Pretrain { epochs: 1 };
    let mut t = Trainer::new(ModelConfig::Vae(c), grey(16), quick(1), ComputeDevice::Cpu).unwrap();
    t.fit(&train, None, &mut Silent).unwrap();
    let Model::Vae(pretrained) = t.inference_model() else {
        unreachable!()
    };
    t.set_epochs(3);
    t.fit(&train, None, &mut Silent).unwrap();
    let m = t.inference_model();
    let Model::Vae(v) = &m else { unreachable!() };
    let x = Tensor::<4>::from_data(
        TensorData::new(train.gather(&[0, 1, 2]), [3, 1, 16, 16]),
        &cpu(),
    );
    let values = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().unwrap();
    // The head-only epochs left the encoder alone.
    assert_eq!(
        values(pretrained.features(x.clone()).flatten(1, 3)),
        values(v.features(x.clone()).flatten(1, 3))
    );
    let a = values(v.forward(x.clone(), false).logits);
    assert_eq!(a, values(m.logits(x.clone())));
    assert_eq!(a, values(v.head_logits(v.features(x.clone()))));
    assert_eq!(v.head_input(x).dims(), [3, 16 * 4 * 4]);
}
