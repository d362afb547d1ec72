//! Every chart renders to PNG and SVG with its title, and tables escape their cells.

use mammolab::eval::{self, *};
use mammolab::plot::{self, CellValues, Figure, Table, Tile};

fn scores() -> (Vec<bool>, Vec<f64>) {
    let mut rng = mammolab::rng::Rng::new(5);
    (0..400)
        .map(|i| {
            let y = i % 10 == 0;
            (y, (rng.f64() * 0.6 + if y { 0.35 } else { 0.0 }).min(1.0))
        })
        .unzip()
}

/// Decode the PNG and count pixels that are not white: a blank chart fails.
fn check_png(fig: &Figure, w: u32, h: u32) {
    let Figure::Png(bytes) = fig else {
        panic!("not a PNG")
    };
    let img = image::load_from_memory(bytes).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (w, h));
    let inked = img.pixels().filter(|p| p.0 != [255, 255, 255]).count();
    assert!(
        inked > (w * h / 100) as usize,
        "only {inked} non-white pixels"
    );
}

#[test]
fn every_chart_renders() {
    let (y, s) = scores();
    let roc = roc_curve(&y, &s).unwrap();
    let pr = pr_curve(&y, &s).unwrap();
    let cal = calibration_curve(&y, &s, 10, Binning::Uniform).unwrap();
    let sweep = ThresholdSweep::new(&y, &s).unwrap();
    let point = sweep.youden();
    let cm = BinaryConfusion::at_threshold(&y, &s, point.threshold).unwrap();
    let mut matrix = cm.matrix();
    matrix.classes = vec!["normal".into(), "cancer".into()];
    let baseline = BinaryConfusion::from_predictions(&y, &vec![false; y.len()])
        .unwrap()
        .metrics();
    let model = cm.metrics();
    let tiles: Vec<Tile> = (0..6)
        .map(|i| Tile {
            pixels: (0..32 * 40)
                .map(|p| ((p * (i + 1)) % 97) as f32 / 96.0)
                .collect(),
            width: 32,
            height: 40,
            caption: format!("cancer p={:.2}", i as f64 / 6.0),
            correct: Some(i % 2 == 0),
            heat: None,
            circles: vec![],
            cross: None,
            colour: None,
        })
        .collect();
    let points: Vec<(f64, f64)> = s
        .iter()
        .enumerate()
        .map(|(i, &v)| (v, (i % 7) as f64))
        .collect();
    let classes: Vec<usize> = y.iter().map(|&b| usize::from(b)).collect();
    let loss = [0.9, 0.6, 0.45, 0.4, 0.38];
    let val = [0.95, 0.7, 0.6, 0.62, 0.66];

    type Draw<'a> = Box<
        dyn Fn(
                &plotters::drawing::DrawingArea<
                    plotters::prelude::BitMapBackend,
                    plotters::coord::Shift,
                >,
            ) -> mammolab::Result<()>
            + 'a,
    >;
    let charts: Vec<(&str, Draw)> = vec![
        (
            "roc",
            Box::new(|a| {
                plot::roc(
                    a,
                    &[("cnn", &roc)],
                    Some((1.0 - point.specificity(), point.sensitivity())),
                )
            }),
        ),
        ("pr", Box::new(|a| plot::pr(a, &[("cnn", &pr)]))),
        (
            "calibration",
            Box::new(|a| plot::calibration(a, &[("cnn", &cal)])),
        ),
        (
            "sweep",
            Box::new(|a| plot::threshold_sweep(a, &sweep, Some(point.threshold))),
        ),
        (
            "confusion",
            Box::new(|a| plot::confusion_matrix(a, &matrix, CellValues::RowNormalised)),
        ),
        (
            "counts",
            Box::new(|a| plot::confusion_matrix(a, &matrix, CellValues::Counts)),
        ),
        (
            "curves",
            Box::new(|a| {
                plot::training_curves(a, &[("train loss", &loss), ("val loss", &val)], "loss")
            }),
        ),
        (
            "latent",
            Box::new(|a| plot::latent_scatter(a, &points, &classes, &["normal", "cancer"])),
        ),
        (
            "paradox",
            Box::new(|a| {
                plot::accuracy_paradox(a, &[("majority class", &baseline), ("cnn", &model)])
            }),
        ),
        (
            "grid",
            Box::new(|a| plot::image_grid(a, &tiles, 3, "Top losses")),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (name, draw) in &charts {
        let fig = Figure::png(640, 480, draw).unwrap_or_else(|e| panic!("{name}: {e}"));
        check_png(&fig, 640, 480);
        fig.save(dir.path().join(format!("{name}.png"))).unwrap();
    }
    if let Ok(keep) = std::env::var("MAMMOLAB_KEEP_PLOTS") {
        // For looking at the charts by eye: MAMMOLAB_KEEP_PLOTS=/tmp/plots cargo test plot
        std::fs::create_dir_all(&keep).unwrap();
        for (name, _) in &charts {
            std::fs::copy(
                dir.path().join(format!("{name}.png")),
                format!("{keep}/{name}.png"),
            )
            .unwrap();
        }
    }
    let svg = Figure::svg(640, 480, |a| plot::roc(a, &[("cnn", &roc)], None)).unwrap();
    let Figure::Svg(text) = &svg else { panic!() };
    assert!(text.starts_with("<svg") && text.contains("ROC curve") && text.contains("AUC"));
    let (mime, payload) = svg.mime_payload();
    assert_eq!(mime, "image/svg+xml");
    assert!(payload.contains("</svg>"));
    let (mime, payload) = Figure::png(200, 100, |a| plot::pr(a, &[("m", &pr)]))
        .unwrap()
        .mime_payload();
    assert_eq!(mime, "image/png");
    assert!(
        payload.starts_with("iVBORw0KGgo"),
        "base64 of the PNG signature"
    );
}

#[test]
fn charts_refuse_bad_input() {
    let e = Figure::png(100, 100, |a| plot::roc(a, &[], None)).unwrap_err();
    assert_eq!(e.to_string(), "plot: roc: no curves to draw");
    let tile = Tile {
        pixels: vec![0.0; 3],
        width: 2,
        height: 2,
        caption: String::new(),
        correct: None,
        heat: None,
        circles: vec![],
        cross: None,
        colour: None,
    };
    let e = Figure::png(100, 100, |a| plot::image_grid(a, &[tile], 1, "x")).unwrap_err();
    assert!(
        e.to_string()
            .contains("tile 0 has 3 pixels (0 heat values) for 2x2"),
        "{e}"
    );
}

#[test]
fn tables_escape_and_elide() {
    let df = polars::df!(
        "name" => (0..30).map(|i| if i == 0 { "<b>&'x'</b>".to_string() } else { format!("r{i}") }).collect::<Vec<_>>(),
        "v" => (0..30).map(|i| i as f64 / 3.0).collect::<Vec<_>>(),
    )
    .unwrap();
    let html = Table::new(df).with_max_rows(6).with_digits(2).to_html();
    assert!(html.contains("<td>&lt;b&gt;&amp;&#39;x&#39;&lt;/b&gt;</td>"));
    assert!(html.contains("<caption>30 rows x 2 columns</caption>"));
    assert!(html.contains("&hellip;"));
    assert!(html.contains("<td>9.67</td>"), "last row shown: 29/3");
    assert!(!html.contains("r10<"), "middle rows elided");
    let report = eval::ClassificationReport::new(
        &BinaryConfusion {
            tn: 5,
            fp: 1,
            fn_: 2,
            tp: 3,
        }
        .matrix(),
    );
    let html = Table::new(report.to_dataframe().unwrap()).to_html();
    assert!(html.contains("weighted avg"));
}

/// A model input's map goes back onto the decoded image through the crop and the flip.
#[test]
fn placement_undoes_crop_and_flip() {
    use mammolab::dataset::Preprocess;
    use mammolab::imaging::Gray;
    // A 40 x 20 image whose bright part (the "breast") is x 10..30, y 0..20.
    let mut img = Gray {
        width: 40,
        height: 20,
        pixels: vec![0.0; 800],
    };
    for y in 0..20 {
        for x in 10..30 {
            img.pixels[y * 40 + x] = 0.5;
        }
    }
    let pre = Preprocess::new(10, 10).with_crop(0.1).with_flip_right();
    for right in [false, true] {
        let p = pre.placement(&img, right);
        assert_eq!(p.crop, (10, 0, 30, 20));
        assert_eq!(p.flipped, right);
        // Input pixel (1, 4): 2 x 2 image pixels each; mirrored for the right breast.
        let (x, y) = p.to_image(1, 4);
        let want_x = if right { 10.0 + 17.0 } else { 10.0 + 3.0 };
        assert_eq!((x, y), (want_x, 9.0));
        let mut map = Gray {
            width: 10,
            height: 10,
            pixels: vec![0.0; 100],
        };
        map.pixels[4 * 10 + 1] = 1.0;
        let on = p.to_image_map(&map).unwrap();
        assert_eq!((on.width, on.height), (40, 20));
        let best = mammolab::model::saliency::peak(&on);
        assert!(
            (best.0 as f64 + 0.5 - x).abs() <= 1.0 && (best.1 as f64 + 0.5 - y).abs() <= 1.0,
            "{best:?} vs {x},{y}"
        );
        assert!(
            on.pixels[..10].iter().all(|&v| v == 0.0),
            "0 outside the crop"
        );
    }
    let bad = Gray {
        width: 3,
        height: 3,
        pixels: vec![0.0; 9],
    };
    let e = pre.placement(&img, false).to_image_map(&bad).unwrap_err();
    assert!(
        e.to_string().contains("map is 3x3, the model input 10x10"),
        "{e}"
    );
}
