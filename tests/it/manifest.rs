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
        "mini-mias",
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

#[test]
fn classes_are_one_value_with_a_named_positive_class() {
    use mammolab::Classes;
    let c = Classes::new(vec!["normal".into(), "cancer".into()], Some("cancer")).unwrap();
    assert_eq!((c.positive(), c.positive_name()), (Some(1), Some("cancer")));
    assert_eq!(c[0], "normal");
    assert!(c.is_binary());
    assert_eq!(c.is_positive(&[0, 1, 1]), [false, true, true]);
    // Written as two keys beside the others, read back equal.
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"classes": ["normal", "cancer"], "positive": "cancer"})
    );
    assert_eq!(serde_json::from_value::<Classes>(json).unwrap(), c);
    // Three classes may name no positive one; what needs it says so in one line.
    let three: Classes =
        serde_json::from_str(r#"{"classes": ["normal", "benign", "malignant"], "positive": null}"#)
            .unwrap();
    assert_eq!(three.positive(), None);
    let e = three
        .require_positive("a threshold")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("a threshold") && e.contains("malignant") && !e.contains('\n'),
        "{e}"
    );
    assert_eq!(three.is_positive(&[0, 2]), [false, false]);
    // A file written before `positive` was recorded: a binary model's positive was its second.
    let legacy: Classes = serde_json::from_str(r#"{"classes": ["normal", "cancer"]}"#).unwrap();
    assert_eq!(legacy, c);
    // Broken vocabularies are one-line errors naming the rule.
    for (names, positive, needle) in [
        (vec!["a"], None, "at least two"),
        (vec!["a", "a"], None, "twice"),
        (vec!["a", " "], None, "not a class name"),
        (vec!["a", "b"], Some("c"), "\"c\" is not one of"),
    ] {
        let names = names.into_iter().map(String::from).collect();
        let e = Classes::new(names, positive).unwrap_err().to_string();
        assert!(e.contains(needle), "{e}");
    }
    assert_eq!(Classes::indexed(2).positive_name(), Some("class_1"));
    assert_eq!(Classes::indexed(3).positive(), None);
}

#[test]
fn the_manifest_names_the_classes_and_the_positive_one() {
    let head = "schema = 1\n[cohort]\nname = \"x\"\n[[table]]\nid = \"t\"\npath = \"a.csv\"\n";
    let constant = "[[sheet]]\ntable = \"t\"\nname = \"A\"\nlabel = { rule = \"constant\", class = \"cancer\" }\n[[sheet]]\ntable = \"t\"\nname = \"B\"\nlabel = { rule = \"constant\", class = \"normal\" }\n";
    let open = |text: String| Manifest::from_toml_str(&text, "/m/manifest.toml").unwrap();
    let labels = ["normal", "cancer", "normal"];

    // Constant rules alone name no positive class: sorted names, none positive.
    let m = open(format!("{head}{constant}"));
    let c = m.classes(labels).unwrap();
    assert_eq!(
        (c.names(), c.positive()),
        (&["cancer".to_string(), "normal".into()][..], None)
    );

    // `[classes] positive` alone: the labels sorted, the positive one last.
    let m = open(format!(
        "{head}{constant}[classes]\npositive = \"cancer\"\n"
    ));
    let c = m.classes(labels).unwrap();
    assert_eq!(c.names(), ["normal", "cancer"]);
    assert_eq!(c.positive_name(), Some("cancer"));

    // `[classes] names` give the order; a label outside them is named in the error.
    let m = open(format!(
        "{head}{constant}[classes]\nnames = [\"cancer\", \"normal\", \"benign\"]\n"
    ));
    let c = m.classes(labels).unwrap();
    assert_eq!((c.names().len(), c.positive()), (3, None));
    let e = m.classes(["normal", "atypia"]).unwrap_err().to_string();
    assert!(
        e.contains("\"atypia\"") && e.contains("manifest.toml"),
        "{e}"
    );

    // A positive class outside the names is refused when the manifest is read.
    let e = Manifest::from_toml_str(
        &format!("{head}[classes]\nnames = [\"a\", \"b\"]\npositive = \"c\"\n"),
        "/m/manifest.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("[classes]") && e.contains("\"c\""), "{e}");

    // Column rules name it with `positive_class`; two rules that disagree are an error.
    let column = |p: &str| {
        format!("[[sheet]]\ntable = \"t\"\nname = \"{p}\"\nlabel = {{ rule = \"column\", column = \"pathology\", positive = [\"MALIGNANT\"], positive_class = \"{p}\", negative_class = \"benign\" }}\n")
    };
    let m = open(format!("{head}{}", column("malignant")));
    let c = m.classes(["benign", "malignant"]).unwrap();
    assert_eq!(
        (c.names(), c.positive()),
        (&["benign".to_string(), "malignant".into()][..], Some(1))
    );
    let m = open(format!("{head}{}{}", column("malignant"), column("cancer")));
    let e = m.classes(["benign", "malignant"]).unwrap_err().to_string();
    assert!(e.contains("[classes] positive"), "{e}");
}

#[test]
fn a_run_without_a_positive_class_stops_before_training() {
    use mammolab::prelude::*;
    let (dir, _) = crate::ci_cohort();
    let text = std::fs::read_to_string(dir.path().join(synth::MANIFEST)).unwrap();
    let without = text.replace(
        "[classes]\nnames = [\"normal\", \"cancer\"]\npositive = \"cancer\"\n",
        "",
    );
    assert_ne!(text, without, "the ci manifest names its classes");
    let m = Manifest::from_toml_str(&without, dir.path().join("no-classes.toml")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = RunOptions::new(ModelChoice::Cnn).with_size(16);
    let e = pipeline::run(&m, &o, &out.path().join("run"), &mut Silent)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("positive class") && e.contains("[classes]"),
        "{e}"
    );
    assert!(!out.path().join("run/checkpoint").exists());
}
