//! Stratified and patient-grouped splits, k-fold, and a leakage detector.
//!
//! All splits are seeded with the crate's value-stable [`Rng`], return sample indices in
//! ascending order, and never drop a sample: every index lands in exactly one part.

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::rng::Rng;

/// Fractions of a train / validation / test split; they must add up to 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fractions {
    /// Training fraction.
    pub train: f64,
    /// Validation fraction (may be 0).
    pub val: f64,
    /// Test fraction.
    pub test: f64,
}

impl Fractions {
    /// Checked fractions: each in [0, 1], summing to 1 within 1e-9.
    pub fn new(train: f64, val: f64, test: f64) -> Result<Self> {
        let all = [train, val, test];
        if all.iter().any(|f| !(0.0..=1.0).contains(f)) || ((train + val + test) - 1.0).abs() > 1e-9
        {
            return Err(Error::Param {
                name: "fractions",
                message: format!("need three fractions in [0, 1] adding up to 1, got {all:?}"),
            });
        }
        Ok(Self { train, val, test })
    }

    fn as_array(&self) -> [f64; 3] {
        [self.train, self.val, self.test]
    }
}

impl Default for Fractions {
    /// 70 / 15 / 15.
    fn default() -> Self {
        Self {
            train: 0.7,
            val: 0.15,
            test: 0.15,
        }
    }
}

/// Sample indices of a train / validation / test split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Split {
    /// Training samples.
    pub train: Vec<usize>,
    /// Validation samples.
    pub val: Vec<usize>,
    /// Test samples.
    pub test: Vec<usize>,
}

/// One fold of a k-fold split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fold {
    /// Samples to train on (all other folds).
    pub train: Vec<usize>,
    /// Samples held out in this fold.
    pub test: Vec<usize>,
}

fn check_labels(what: &'static str, labels: &[usize]) -> Result<usize> {
    if labels.is_empty() {
        return Err(Error::input(what, "no samples"));
    }
    Ok(labels.iter().max().map_or(0, |m| m + 1))
}

fn shuffle<T>(rng: &mut Rng, v: &mut [T]) {
    for i in (1..v.len()).rev() {
        v.swap(i, rng.below(i as u64 + 1) as usize);
    }
}

/// Split `m` items into parts proportional to `weights` (largest remainder, ties to the
/// earlier part), so the counts add up to `m` exactly.
fn apportion(m: usize, weights: &[f64]) -> Vec<usize> {
    let total: f64 = weights.iter().sum();
    let exact: Vec<f64> = weights.iter().map(|w| m as f64 * w / total).collect();
    let mut n: Vec<usize> = exact.iter().map(|x| x.floor() as usize).collect();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| (exact[b] - n[b] as f64).total_cmp(&(exact[a] - n[a] as f64)));
    let left = m - n.iter().sum::<usize>();
    for &i in order.iter().take(left) {
        n[i] += 1;
    }
    n
}

/// Shuffle each class and deal it into parts in proportion to `weights`.
fn stratified_parts(labels: &[usize], weights: &[f64], seed: u64) -> Vec<Vec<usize>> {
    let classes = labels.iter().max().map_or(0, |m| m + 1);
    let mut parts = vec![vec![]; weights.len()];
    for c in 0..classes {
        let mut members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == c).collect();
        let mut rng = Rng::derive(seed, c as u64);
        shuffle(&mut rng, &mut members);
        let mut start = 0;
        for (part, n) in parts.iter_mut().zip(apportion(members.len(), weights)) {
            part.extend_from_slice(&members[start..start + n]);
            start += n;
        }
    }
    for p in &mut parts {
        p.sort_unstable();
    }
    parts
}

/// A train / validation / test split that keeps each class's share in every part. Use it
/// only when every sample is a different patient; otherwise use [`grouped_split`].
pub fn stratified_split(labels: &[usize], fractions: Fractions, seed: u64) -> Result<Split> {
    check_labels("stratified_split", labels)?;
    let [train, val, test]: [Vec<usize>; 3] = stratified_parts(labels, &fractions.as_array(), seed)
        .try_into()
        .expect("three parts");
    Ok(Split { train, val, test })
}

fn folds_from_parts(parts: Vec<Vec<usize>>, n: usize) -> Vec<Fold> {
    parts
        .iter()
        .map(|test| {
            let mut held = vec![false; n];
            for &i in test {
                held[i] = true;
            }
            Fold {
                train: (0..n).filter(|&i| !held[i]).collect(),
                test: test.clone(),
            }
        })
        .collect()
}

fn check_k(k: usize, n: usize) -> Result<()> {
    if k < 2 || k > n {
        return Err(Error::Param {
            name: "k",
            message: format!("need 2 <= k <= number of samples or groups ({n}), got {k}"),
        });
    }
    Ok(())
}

/// Stratified k-fold: every sample is held out exactly once.
pub fn stratified_kfold(labels: &[usize], k: usize, seed: u64) -> Result<Vec<Fold>> {
    check_labels("stratified_kfold", labels)?;
    check_k(k, labels.len())?;
    Ok(folds_from_parts(
        stratified_parts(labels, &vec![1.0; k], seed),
        labels.len(),
    ))
}

/// Assign whole groups to parts, keeping each class's share near `weights`.
///
/// Groups are shuffled, then placed largest first; each goes to the part where it most
/// reduces the squared distance between the part's class counts and their targets (ties:
/// the part with most room left, then the earlier part).
fn grouped_parts<G: Hash + Eq>(
    what: &'static str,
    labels: &[usize],
    groups: &[G],
    weights: &[f64],
    seed: u64,
) -> Result<Vec<Vec<usize>>> {
    let classes = check_labels(what, labels)?;
    if groups.len() != labels.len() {
        return Err(Error::input(
            what,
            format!("{} labels but {} group ids", labels.len(), groups.len()),
        ));
    }
    let mut index: HashMap<&G, usize> = HashMap::new();
    let mut members: Vec<Vec<usize>> = vec![];
    for (i, g) in groups.iter().enumerate() {
        let id = *index.entry(g).or_insert_with(|| {
            members.push(vec![]);
            members.len() - 1
        });
        members[id].push(i);
    }
    let mut order: Vec<usize> = (0..members.len()).collect();
    shuffle(&mut Rng::new(seed), &mut order);
    order.sort_by_key(|&g| std::cmp::Reverse(members[g].len()));

    let total: f64 = weights.iter().sum();
    let mut class_total = vec![0.0; classes];
    for &l in labels {
        class_total[l] += 1.0;
    }
    let target: Vec<Vec<f64>> = weights
        .iter()
        .map(|w| class_total.iter().map(|t| t * w / total).collect())
        .collect();
    let mut have = vec![vec![0.0; classes]; weights.len()];
    let mut parts = vec![vec![]; weights.len()];
    for g in order {
        let mut counts = vec![0.0; classes];
        for &i in &members[g] {
            counts[labels[i]] += 1.0;
        }
        let cost = |p: usize| -> f64 {
            (0..classes)
                .map(|c| {
                    let before = have[p][c] - target[p][c];
                    (before + counts[c]).powi(2) - before.powi(2)
                })
                .sum()
        };
        let room =
            |p: usize| -> f64 { target[p].iter().sum::<f64>() - have[p].iter().sum::<f64>() };
        let best = (0..weights.len())
            .filter(|&p| weights[p] > 0.0)
            .min_by(|&a, &b| {
                cost(a)
                    .total_cmp(&cost(b))
                    .then(room(b).total_cmp(&room(a)))
                    .then(a.cmp(&b))
            })
            .expect("at least one part has a positive weight");
        for c in 0..classes {
            have[best][c] += counts[c];
        }
        parts[best].extend_from_slice(&members[g]);
    }
    for p in &mut parts {
        p.sort_unstable();
    }
    Ok(parts)
}

/// A train / validation / test split with no group (patient) on two sides, class shares
/// kept as far as the groups allow.
pub fn grouped_split<G: Hash + Eq>(
    labels: &[usize],
    groups: &[G],
    fractions: Fractions,
    seed: u64,
) -> Result<Split> {
    let [train, val, test]: [Vec<usize>; 3] =
        grouped_parts("grouped_split", labels, groups, &fractions.as_array(), seed)?
            .try_into()
            .expect("three parts");
    Ok(Split { train, val, test })
}

/// Group k-fold with class balance: each group is held out in exactly one fold.
pub fn grouped_kfold<G: Hash + Eq>(
    labels: &[usize],
    groups: &[G],
    k: usize,
    seed: u64,
) -> Result<Vec<Fold>> {
    let distinct = groups
        .iter()
        .collect::<std::collections::HashSet<_>>()
        .len();
    check_k(k, distinct)?;
    let parts = grouped_parts("grouped_kfold", labels, groups, &vec![1.0; k], seed)?;
    Ok(folds_from_parts(parts, labels.len()))
}

/// A group found in more than one part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SharedGroup<G> {
    /// The group (patient) id.
    pub group: G,
    /// The parts it appears in.
    pub parts: Vec<String>,
}

/// Two samples in different parts whose image hashes are within the distance limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DuplicateImages {
    /// Sample index and part of the first image.
    pub a: (usize, String),
    /// Sample index and part of the second image.
    pub b: (usize, String),
    /// Hamming distance between the hashes (0: identical).
    pub distance: u32,
}

/// What [`leakage`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeakageReport<G> {
    /// Groups on more than one side.
    pub shared_groups: Vec<SharedGroup<G>>,
    /// Images (nearly) duplicated across sides.
    pub duplicate_images: Vec<DuplicateImages>,
    /// Sample indices that appear in more than one part.
    pub shared_samples: Vec<usize>,
}

impl<G> LeakageReport<G> {
    /// True when nothing leaks.
    pub fn is_clean(&self) -> bool {
        self.shared_groups.is_empty()
            && self.duplicate_images.is_empty()
            && self.shared_samples.is_empty()
    }
}

/// Find what the `parts` (name, sample indices) share: the same sample, the same group
/// (patient), or images whose 64-bit hashes (e.g. a pixel or perceptual hash, one per
/// sample) differ in at most `max_distance` bits.
pub fn leakage<G: Hash + Eq + Clone + Ord + Debug>(
    parts: &[(&str, &[usize])],
    groups: &[G],
    hashes: Option<&[u64]>,
    max_distance: u32,
) -> Result<LeakageReport<G>> {
    let n = groups.len();
    if let Some(h) = hashes {
        if h.len() != n {
            return Err(Error::input(
                "leakage",
                format!("{n} group ids but {} hashes", h.len()),
            ));
        }
    }
    let mut part_of: Vec<Vec<usize>> = vec![vec![]; n];
    for (p, (name, idx)) in parts.iter().enumerate() {
        for &i in idx.iter() {
            if i >= n {
                return Err(Error::input(
                    "leakage",
                    format!("part {name} holds sample {i} but there are {n} samples"),
                ));
            }
            part_of[i].push(p);
        }
    }
    let shared_samples = (0..n).filter(|&i| part_of[i].len() > 1).collect();

    let mut group_parts: HashMap<&G, Vec<usize>> = HashMap::new();
    for i in 0..n {
        let e = group_parts.entry(&groups[i]).or_default();
        e.extend(&part_of[i]);
    }
    let mut shared_groups: Vec<SharedGroup<G>> = group_parts
        .into_iter()
        .filter_map(|(g, mut ps)| {
            ps.sort_unstable();
            ps.dedup();
            (ps.len() > 1).then(|| SharedGroup {
                group: g.clone(),
                parts: ps.iter().map(|&p| parts[p].0.to_string()).collect(),
            })
        })
        .collect();
    shared_groups.sort_by(|a, b| a.group.cmp(&b.group));

    let mut duplicate_images = vec![];
    if let Some(h) = hashes {
        let placed: Vec<(usize, usize)> = (0..n)
            .flat_map(|i| part_of[i].iter().map(move |&p| (i, p)))
            .collect();
        let mut push = |a: (usize, usize), b: (usize, usize), d: u32| {
            duplicate_images.push(DuplicateImages {
                a: (a.0, parts[a.1].0.to_string()),
                b: (b.0, parts[b.1].0.to_string()),
                distance: d,
            })
        };
        if max_distance == 0 {
            let mut by_hash: HashMap<u64, Vec<(usize, usize)>> = HashMap::new();
            for &(i, p) in &placed {
                by_hash.entry(h[i]).or_default().push((i, p));
            }
            let mut buckets: Vec<_> = by_hash.into_values().filter(|v| v.len() > 1).collect();
            buckets.sort();
            for b in buckets {
                for x in 0..b.len() {
                    for y in x + 1..b.len() {
                        if b[x].1 != b[y].1 && b[x].0 != b[y].0 {
                            push(b[x], b[y], 0);
                        }
                    }
                }
            }
        } else {
            for x in 0..placed.len() {
                for y in x + 1..placed.len() {
                    let (a, b) = (placed[x], placed[y]);
                    let d = (h[a.0] ^ h[b.0]).count_ones();
                    if a.1 != b.1 && a.0 != b.0 && d <= max_distance {
                        push(a, b, d);
                    }
                }
            }
        }
    }
    Ok(LeakageReport {
        shared_groups,
        duplicate_images,
        shared_samples,
    })
}
