//! Manifests: parsing, structural checks, one-line errors, the committed templates.

use mammolab::manifest::{LabelRule, Manifest};

#[test]
fn templates_in_data_manifests_parse() {
    let dir = crate::repo().join("data-manifests");
    let mut names = vec![];
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            let m = Manifest::open(&p).unwrap_or_else(|e| panic!("{e}"));
            names.push(m.cohort.name.clone());
            assert!(
                !m.cohort.licence.is_empty(),
                "{}: licence missing",
                p.display()
            );
            assert!(
                !m.cohort.provenance.is_empty(),
                "{}: provenance missing",
                p.display()
            );
        }
    }
    names.sort();
    for expected in [
        "cbis-ddsm",
        "hospital-export",
        "idc-histology",
        "inbreast",
        "mias",
        "rsna-screening",
        "synthetic-ci",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "no manifest named {expected}: {names:?}"
        );
    }
}

#[test]
fn a_template_without_its_data_names_the_missing_file() {
    let m = Manifest::open(crate::repo().join("data-manifests/rsna-screening.toml")).unwrap();
    assert!(matches!(m.sheets[0].label, Some(LabelRule::Column { .. })));
    let err = m.verify().unwrap_err().to_string();
    assert!(
        err.contains("rsna-screening.toml") && err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn structural_errors_are_one_line_and_name_the_problem() {
    let cases = [
        ("schema = 2\n[cohort]\nname = \"x\"\n", "schema 2"),
        ("schema = 1\n[cohort]\nname = \"x\"\n[[sheet]]\ntable = \"t\"\nname = \"S\"\n", "table `t`"),
        ("schema = 1\n[cohort]\nname = \"x\"\n[[table]]\nid = \"t\"\npath = \"a.xlsx\"\nsha256 = \"abc\"\n", "64 hexadecimal"),
        ("schema = 1\n[cohort]\nname = \"x\"\nbogus = 3\n", "bogus"),
        ("schema = 1\n[cohort\nname = \"x\"\n", "line 2"),
        // Paths that leave the manifest's folder need `allow_outside = true`.
        ("schema = 1\n[cohort]\nname = \"x\"\n[[table]]\nid = \"t\"\npath = \"../other/a.xlsx\"\n", "table `t`: path `../other/a.xlsx` leaves"),
        ("schema = 1\n[cohort]\nname = \"x\"\n[[image_root]]\nid = \"r\"\npath = \"/etc\"\n", "image_root `r`: path `/etc` leaves"),
    ];
    for (text, needle) in cases {
        let err = Manifest::from_toml_str(text, "/tmp/m.toml")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("manifest /tmp/m.toml: "), "{err}");
        assert!(err.contains(needle), "expected `{needle}` in: {err}");
        assert!(!err.contains('\n'), "multi-line error: {err}");
    }
}

#[test]
fn round_trips_through_toml() {
    let (dir, _) = crate::ci_cohort();
    let m = Manifest::open(dir.path().join("manifest.toml")).unwrap();
    let again = Manifest::from_toml_str(&m.to_toml_string().unwrap(), &m.source).unwrap();
    assert_eq!(m, again);
}

#[test]
fn allow_outside_lets_paths_leave_the_folder() {
    let text = "schema = 1\nallow_outside = true\n[cohort]\nname = \"x\"\n[[table]]\nid = \"t\"\npath = \"../a.xlsx\"\n[[image_root]]\nid = \"r\"\npath = \"/data/images\"\n";
    let m = Manifest::from_toml_str(text, "/tmp/m/m.toml").unwrap();
    assert!(m.allow_outside);
    assert_eq!(
        m.resolve(&m.image_roots[0].path),
        std::path::PathBuf::from("/data/images")
    );
    let again = Manifest::from_toml_str(&m.to_toml_string().unwrap(), &m.source).unwrap();
    assert_eq!(m, again);
}
