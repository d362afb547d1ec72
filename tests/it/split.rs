//! Splits: every sample placed once, class shares kept, no patient on two sides.

use mammolab::dataset::*;

/// 200 patients with 1-6 images each; about 5 % of patients have cancer (all their images).
fn cohort() -> (Vec<usize>, Vec<String>) {
    let mut rng = mammolab::rng::Rng::new(11);
    let (mut labels, mut patients) = (vec![], vec![]);
    for p in 0..200 {
        let cancer = rng.f64() < 0.05 || p % 40 == 0;
        for _ in 0..rng.range_i64(1, 6) {
            labels.push(usize::from(cancer));
            patients.push(format!("P{p:03}"));
        }
    }
    (labels, patients)
}

fn assert_partition(n: usize, parts: &[&[usize]]) {
    let mut seen = vec![0u32; n];
    for p in parts {
        assert!(
            p.windows(2).all(|w| w[0] < w[1]),
            "indices sorted and distinct"
        );
        for &i in p.iter() {
            seen[i] += 1;
        }
    }
    assert!(
        seen.iter().all(|&c| c == 1),
        "every sample in exactly one part"
    );
}

fn positives(labels: &[usize], idx: &[usize]) -> usize {
    idx.iter().filter(|&&i| labels[i] == 1).count()
}

#[test]
fn stratified_split_keeps_class_shares_exactly() {
    let (labels, _) = cohort();
    let n = labels.len();
    let total_pos = positives(&labels, &(0..n).collect::<Vec<_>>());
    let s = stratified_split(&labels, Fractions::new(0.6, 0.2, 0.2).unwrap(), 5).unwrap();
    assert_partition(n, &[&s.train, &s.val, &s.test]);
    // Largest-remainder apportionment per class: each part within one sample of its share.
    for (part, f) in [(&s.train, 0.6), (&s.val, 0.2), (&s.test, 0.2)] {
        let want = total_pos as f64 * f;
        assert!(
            (positives(&labels, part) as f64 - want).abs() < 1.0,
            "{want}"
        );
    }
    assert_eq!(
        s,
        stratified_split(&labels, Fractions::new(0.6, 0.2, 0.2).unwrap(), 5).unwrap()
    );
    assert_ne!(
        s,
        stratified_split(&labels, Fractions::new(0.6, 0.2, 0.2).unwrap(), 6).unwrap()
    );
    assert!(Fractions::new(0.7, 0.2, 0.2).is_err());
}

#[test]
fn kfold_holds_each_sample_out_once() {
    let (labels, patients) = cohort();
    let n = labels.len();
    let folds = stratified_kfold(&labels, 5, 1).unwrap();
    let tests: Vec<&[usize]> = folds.iter().map(|f| f.test.as_slice()).collect();
    assert_partition(n, &tests);
    for f in &folds {
        assert_eq!(f.train.len() + f.test.len(), n);
    }
    let folds = grouped_kfold(&labels, &patients, 4, 1).unwrap();
    let tests: Vec<&[usize]> = folds.iter().map(|f| f.test.as_slice()).collect();
    assert_partition(n, &tests);
    for f in &folds {
        let r = leakage(
            &[("train", &f.train), ("test", &f.test)],
            &patients,
            None,
            0,
        )
        .unwrap();
        assert!(r.is_clean(), "{:?}", r.shared_groups);
        assert!(positives(&labels, &f.test) > 0, "every fold has positives");
    }
    assert!(stratified_kfold(&labels, 1, 1).is_err());
}

#[test]
fn grouped_split_never_shares_a_patient_and_keeps_balance() {
    let (labels, patients) = cohort();
    let n = labels.len();
    let s = grouped_split(&labels, &patients, Fractions::default(), 9).unwrap();
    assert_partition(n, &[&s.train, &s.val, &s.test]);
    let parts = [
        ("train", s.train.as_slice()),
        ("val", &s.val),
        ("test", &s.test),
    ];
    assert!(leakage(&parts, &patients, None, 0).unwrap().is_clean());
    let prevalence = positives(&labels, &(0..n).collect::<Vec<_>>()) as f64 / n as f64;
    for (name, idx) in parts {
        let p = positives(&labels, idx) as f64 / idx.len() as f64;
        assert!((p - prevalence).abs() < 0.05, "{name}: {p} vs {prevalence}");
        assert!(positives(&labels, idx) > 0, "{name} has positives");
    }
    let share = s.train.len() as f64 / n as f64;
    assert!((share - 0.7).abs() < 0.05, "train share {share}");
}

#[test]
fn leakage_reports_patients_samples_and_duplicate_images() {
    let (labels, patients) = cohort();
    let n = labels.len();
    // The trap of seed 001: an image-level split puts one patient's images on both sides.
    let s = stratified_split(&labels, Fractions::new(0.8, 0.0, 0.2).unwrap(), 2).unwrap();
    let r = leakage(
        &[("train", &s.train), ("test", &s.test)],
        &patients,
        None,
        0,
    )
    .unwrap();
    assert!(!r.shared_groups.is_empty());
    assert!(r.shared_groups.iter().all(|g| g.parts == ["train", "test"]));

    // Hashes: image 0 copied as image n-1; image 1 differs from image 2 in 3 bits.
    let mut hashes: Vec<u64> = (0..n as u64)
        .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .collect();
    hashes[n - 1] = hashes[0];
    hashes[2] = hashes[1] ^ 0b1011;
    let groups: Vec<usize> = (0..n).collect();
    let train: Vec<usize> = (0..n / 2).collect();
    let mut test: Vec<usize> = (n / 2..n).collect();
    test.push(2); // also a sample listed twice
    let exact = leakage(
        &[("train", &train), ("test", &test)],
        &groups,
        Some(&hashes),
        0,
    )
    .unwrap();
    assert_eq!(exact.shared_samples, vec![2]);
    assert_eq!(exact.duplicate_images.len(), 1);
    assert_eq!(
        exact.duplicate_images[0]
            .a
            .0
            .min(exact.duplicate_images[0].b.0),
        0
    );
    let near = leakage(
        &[("train", &train), ("test", &test)],
        &groups,
        Some(&hashes),
        3,
    )
    .unwrap();
    // Adds image 1 (train) ~ image 2 (listed in test): distance 3.
    assert!(near.duplicate_images.iter().any(|d| d.distance == 3));
    assert!(leakage(&[("x", &[n])], &groups, None, 0).is_err());
}
