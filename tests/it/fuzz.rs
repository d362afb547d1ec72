//! The fuzz targets ([`mammolab::fuzz`]) on the stable toolchain, in CI:
//! - every input kept in `tests/data/fuzz/<target>/` (each crash a fuzzer ever found, fixed
//!   since, and the few seeds the crash was grown from) is read without a panic;
//! - a short smoke of each target: seeded mutations of real files (the ci cohort's DICOMs of
//!   each transfer syntax, its workbooks and manifest, binary and three-class score tables),
//!   bytes flipped, overwritten with boundary values, cut short or repeated, as libFuzzer's
//!   mutators do. The long runs are `scripts/fuzz.sh`'s (libFuzzer, nightly).
//!
//! A panic is caught, the input written to `<tmp>/mammolab-fuzz-found/`, and the test fails
//! naming that file: move it into `tests/data/fuzz/<target>/` with the fix.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use mammolab::fuzz::Target;
use mammolab::ingest::dicom::read_header;
use mammolab::rng::Rng;

use crate::{ci_cohort, files_below, repo};

/// Run `target` on `data`; a panic fails the test after the input is saved.
fn survives(target: Target, data: &[u8], what: &str) {
    if let Err(e) = catch_unwind(AssertUnwindSafe(|| target.run(data))) {
        let message = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        let dir = std::env::temp_dir().join("mammolab-fuzz-found");
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!(
            "{}-{}",
            target.name(),
            mammolab::hash::sha256_bytes(data)
        ));
        std::fs::write(&file, data).unwrap();
        panic!(
            "target {} panicked on {what} ({message}); input saved as {}",
            target.name(),
            file.display()
        );
    }
}

/// `n` mutations of `seed`, the same for the same `stream`: one to three edits each, half of
/// them within the first 2 KiB, where the headers are.
fn mutations(seed: &[u8], n: usize, stream: u64) -> Vec<Vec<u8>> {
    const BOUNDARY: [u32; 8] = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fff_ffff, 0xffff_ffff];
    let mut rng = Rng::derive(38, stream);
    (0..n)
        .map(|_| {
            let mut m = seed.to_vec();
            for _ in 0..1 + rng.below(3) {
                if m.is_empty() {
                    m.push(rng.below(256) as u8);
                    continue;
                }
                let span = if rng.chance(0.5) {
                    m.len().min(2048)
                } else {
                    m.len()
                };
                let at = rng.below(span as u64) as usize;
                match rng.below(5) {
                    0 => m[at] ^= 1 << rng.below(8),
                    1 => {
                        let v = rng.pick(&BOUNDARY).to_le_bytes();
                        let end = (at + 4).min(m.len());
                        m[at..end].copy_from_slice(&v[..end - at]);
                    }
                    2 => m[at] = rng.below(256) as u8,
                    3 => m.truncate(at),
                    _ => {
                        let end = (at + 1 + rng.below(64) as usize).min(m.len());
                        let chunk = m[at..end].to_vec();
                        m.splice(at..at, chunk);
                    }
                }
            }
            m
        })
        .collect()
}

/// The smoke's seeds of each target: name -> bytes.
fn seeds(target: Target) -> BTreeMap<String, Vec<u8>> {
    let root = ci_cohort().0.path();
    let files = files_below(root);
    let read = |p: &Path| std::fs::read(root.join(p)).unwrap();
    let mut out = BTreeMap::new();
    match target {
        Target::Dicom => {
            // One DICOM of each transfer syntax the twin writes.
            let mut syntaxes = BTreeMap::new();
            for p in files
                .iter()
                .filter(|p| p.extension().is_some_and(|e| e == "dcm"))
            {
                if let Ok(h) = read_header(root.join(p)) {
                    syntaxes
                        .entry(h.transfer_syntax)
                        .or_insert_with(|| p.clone());
                }
            }
            for (ts, p) in syntaxes {
                out.insert(ts, read(&p));
            }
        }
        Target::Sheet => {
            for p in files
                .iter()
                .filter(|p| p.extension().is_some_and(|e| e == "xlsx"))
            {
                let mut bytes = vec![0u8]; // the first byte picks .xlsx
                bytes.extend(read(p));
                out.insert(p.display().to_string(), bytes);
            }
            // An OpenDocument sheet (no .ods comes with the cohort or a registry package): the
            // kept seed, with repeated cells and rows and a run of spaces.
            let ods = "tests/data/fuzz/sheet/ods-seed-repeats-and-spaces";
            out.insert("ods".into(), std::fs::read(repo().join(ods)).unwrap());
            let mut csv = vec![3u8];
            csv.extend(b"patient,age,side\nP1,54,L\nP2,61,R\nP3,,L\n");
            out.insert("csv".into(), csv);
        }
        Target::Manifest => {
            out.insert("ci manifest".into(), read(Path::new("manifest.toml")));
            for e in std::fs::read_dir(repo().join("data-manifests")).unwrap() {
                let p = e.unwrap().path();
                out.insert(p.display().to_string(), std::fs::read(&p).unwrap());
            }
        }
        Target::Scores => {
            let mut binary = vec![0u8];
            binary.extend(b"label,score\n1,0.9\n0,0.1\n1,0.35\n0,0.6\n0,0.2\n");
            out.insert("binary".into(), binary);
            let mut three = vec![1u8];
            three.extend(
                b"label,p_normal,p_benign,p_malignant\nnormal,0.7,0.2,0.1\nbenign,0.2,0.5,0.3\n\
                  malignant,0.1,0.3,0.6\nnormal,0.5,0.4,0.1\n",
            );
            out.insert("three classes".into(), three);
        }
    }
    out
}

/// The inputs kept for `target` in `tests/data/fuzz/<target>/`.
fn kept(target: Target) -> Vec<PathBuf> {
    let dir = repo().join("tests/data/fuzz").join(target.name());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn every_kept_fuzz_input_is_read_without_a_panic() {
    for target in Target::ALL {
        for file in kept(target) {
            survives(
                target,
                &std::fs::read(&file).unwrap(),
                &file.display().to_string(),
            );
        }
    }
}

#[test]
fn each_target_survives_a_smoke_of_mutated_real_files() {
    for (stream, target) in Target::ALL.into_iter().enumerate() {
        let seeds = seeds(target);
        assert!(!seeds.is_empty(), "no seeds for {}", target.name());
        let per_seed = 240 / seeds.len();
        for (name, seed) in &seeds {
            survives(target, seed, name);
            for (i, m) in mutations(seed, per_seed, stream as u64).iter().enumerate() {
                survives(target, m, &format!("mutation {i} of {name}"));
            }
        }
    }
}
