//! Text for people: what the CLI prints after `train`, `evaluate` and `metrics`, and what
//! the notebooks print about a prepared cohort and a run. One formatter each, so the two
//! say the same thing the same way.

use std::path::Path;

use super::RunResult;
use crate::dataset::Prepared;
use crate::eval::BinarySummary;

/// `classes ["normal", "cancer"]; images per class: train [..], validation [..], test [..];
/// patients a / b / c; decoded in 1.2 s`
pub fn prepared(data: &Prepared) -> String {
    let p = data.part_counts();
    format!(
        "classes {:?}; images per class: train {:?}, validation {:?}, test {:?}; patients {} / {} / {}; decoded in {:.1} s",
        data.classes.names(),
        p[0].images,
        p[1].images,
        p[2].images,
        p[0].patients,
        p[1].patients,
        p[2].patients,
        data.decode_seconds
    )
}

/// What `mammolab train` prints when a run is done: where, how long, the test set, its
/// metrics at 0.5 and at the threshold chosen on validation, and the per-breast roll-up.
pub fn run(out: &Path, r: &RunResult) -> String {
    let s = &r.summary;
    let fused = match &r.scaler {
        Some(c) => format!(" + {} workbook columns", c.width()),
        None => String::new(),
    };
    let mut text = format!(
        "{}: {}{fused} trained {} epochs in {:.1} s (images decoded in {:.1} s); test set {} images, {} positive\n  {}",
        out.display(),
        model_name(r),
        r.history.epochs.len(),
        r.info.seconds[1],
        r.info.seconds[0],
        s.n,
        s.positives,
        s.line()
    );
    match (&r.threshold, &r.chosen) {
        (Some(t), Some(c)) => text.push_str(&format!(
            "\n  threshold {} chosen on validation by {} (sensitivity {:.4}, specificity {:.4} on {} images, {} positive)\n  {}",
            crate::eval::threshold_text(t.threshold),
            t.rule,
            t.sensitivity,
            t.specificity,
            t.images,
            t.positives,
            c.line()
        )),
        _ => {
            if let Some(note) = &r.threshold_note {
                text.push_str(&format!("\n  no threshold chosen: {note}"));
            }
        }
    }
    if let Some(c) = &r.scaler {
        text.push_str("\n  columns (standardised on the training part):");
        let lines = c.describe();
        for line in lines.iter().take(SHOWN_COLUMNS) {
            text.push_str(&format!("\n    {line}"));
        }
        if lines.len() > SHOWN_COLUMNS {
            text.push_str(&format!(
                "\n    ... and {} more (all in checkpoint/config.json)",
                lines.len() - SHOWN_COLUMNS
            ));
        }
    }
    if let Some(b) = &r.breast {
        text.push_str(&format!(
            "\n  per breast ({} breasts, {} positive; highest image score): ROC AUC {:.4}  recall {:.4}  specificity {:.4}",
            b.n, b.positives, b.roc_auc, b.metrics.recall, b.metrics.specificity
        ));
    }
    text
}

/// Columns of a fusion run listed one per line (the rest are counted).
const SHOWN_COLUMNS: usize = 6;

fn model_name(r: &RunResult) -> String {
    serde_json::to_value(r.info.options.model())
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The JSON object `mammolab train --json` prints.
pub fn run_json(out: &Path, r: &RunResult) -> serde_json::Value {
    serde_json::json!({
        "run": out,
        "model": model_name(r),
        "classes": r.info.classes.names(),
        "positive": r.info.classes.positive_name(),
        "split": r.info.split,
        "epochs": r.history.epochs.len(),
        "best_epoch": r.history.best_epoch,
        "seconds": r.info.seconds,
        "test": r.summary,
        "threshold": r.threshold,
        "threshold_note": r.threshold_note,
        "test_chosen": r.chosen,
        "test_breast": r.breast,
        "covariates": r.scaler,
    })
}

/// What `mammolab metrics` and `evaluate` print: a header naming the source, the label
/// column and the positive value, then [`BinarySummary::report`].
pub fn summary(source: &Path, label: &str, positive: &str, s: &BinarySummary) -> String {
    format!(
        "{}: {} samples, {} positive (`{label}` = {positive}), prevalence {:.4}\n{}",
        source.display(),
        s.n,
        s.positives,
        s.positives as f64 / s.n as f64,
        s.report()
    )
}

/// What `mammolab evaluate` prints for a binary run: which unit is scored (image, or
/// breast / patient with how their images' scores roll up), the threshold and where it came
/// from (`how`), then [`summary`] of the run's `predictions.csv`.
pub fn evaluation(
    predictions: &Path,
    positive: &str,
    s: &BinarySummary,
    level: super::Level,
    aggregate: crate::eval::Aggregate,
    how: &str,
) -> String {
    let per = match level {
        super::Level::Image => "image".to_string(),
        _ => format!(
            "{} ({} of its images' scores)",
            level.name(),
            aggregate.name()
        ),
    };
    format!(
        "metrics per {per} at threshold {} ({how}):\n{}",
        crate::eval::threshold_text(s.threshold),
        summary(predictions, "label", positive, s)
    )
}

/// The last line of what `mammolab synth` prints: how many files and bytes it wrote, in how
/// many seconds.
pub fn files_written(files: usize, bytes: u64, seconds: f64) -> String {
    format!(
        "  {files} files, {:.1} MiB, {seconds:.1} s",
        bytes as f64 / (1024.0 * 1024.0)
    )
}

/// What `mammolab synth --profile three-sources` prints (the size line aside): each
/// source's folder and films per class.
pub fn three_sources(s: &crate::synth::sources::SourcesSummary) -> String {
    let (c, i, m) = (&s.cbis_ddsm.counts, &s.inbreast.counts, &s.mini_mias.counts);
    format!(
        "three-source cohort `{}` (seed {}) in {}\n  cbis-ddsm/: {} films, {} patients (benign and malignant lesions only: no normal films)\n  inbreast/:  {} films ({} normal, {} benign, {} malignant) of {} women\n  mini-mias/: {} films ({} normal, {} benign, {} malignant) of {} women\n  manifest.toml joins them in three classes; patient ids prefixed with the source\n",
        s.profile,
        s.seed,
        s.out.display(),
        c.full_mammograms,
        c.patients,
        i.films,
        i.classes[0],
        i.classes[1],
        i.classes[2],
        i.patients,
        m.images,
        m.normal,
        m.benign,
        m.malignant,
        m.patients,
    )
}

/// What `mammolab synth` prints for the hospital export (the size line aside): the two
/// workbooks, the key matches seed 001 found, the images and the planted faults.
pub fn hospital_cohort(s: &crate::synth::SynthSummary) -> String {
    let c = &s.counts;
    format!(
        "synthetic cohort `{}` (seed {}) in {}\n  datacombined.xlsx: Cancer {} rows, Non-Cancer {} rows, {} columns\n  data_validation_x.xlsx: {} rows, {} columns\n  exact UniqueKey matches: {} of {} Cancer rows; after normalising keys: {}\n  {} patients, {} studies, {} images ({} DICOM, {} JPG files)\n  {} planted faults listed in ground_truth.json\n",
        s.profile,
        s.seed,
        s.out.display(),
        c.cancer_rows,
        c.non_cancer_rows,
        c.main_columns,
        c.validation_rows,
        c.validation_columns,
        c.exact_key_matches,
        c.cancer_rows,
        c.normalised_key_matches,
        c.patients,
        c.studies,
        c.images,
        c.dicom_files,
        c.jpg_files,
        s.faults,
    )
}

/// What `mammolab merge` prints: each sheet's rows matched (and by which key), the cells
/// read other than typed, the images resolved, and the audit written to `out`. `summary`
/// is `r`'s, with the ids it shows (`MergeResult::summary_for`).
pub fn merge(
    r: &crate::ingest::merge::MergeResult,
    summary: &crate::ingest::merge::MergeSummary,
    out: &Path,
) -> String {
    use crate::ingest::merge::Status;
    let mut text = String::new();
    for (name, c) in &summary.sheets {
        let how = match (
            r.count(name, Status::Exact),
            r.count(name, Status::Normalised),
        ) {
            (0, 0) => String::new(),
            (e, k) => format!(" ({e} by the exact key, {k} only after normalising)"),
        };
        text += &format!(
            "{name}: {} rows, {} matched{how}, {} unmatched\n",
            c.rows, c.matched, c.unmatched
        );
    }
    if let Some(w) = summary.warnings.first() {
        text += &format!(
            "{} cells read other than their workbook typed them (summary.json `warnings`), e.g. {} {}: {}\n",
            summary.warnings.len(),
            w.workbook,
            w.sheet,
            w.warning
        );
    }
    let i = &summary.images;
    text += &format!(
        "images: {} resolved, {} missing, {} in several folders\n",
        i.resolved, i.missing, i.duplicates
    );
    let mismatches = r
        .audit
        .iter()
        .filter(|a| a.status == Status::HeaderMismatch)
        .count();
    text += &format!(
        "{} audit entries ({mismatches} header mismatches) written to {}\n",
        r.audit.len(),
        out.display()
    );
    text
}

/// What `mammolab manifest` prints for a manifest that opened and verified: its tables,
/// sheets and image roots, or the sources it joins.
pub fn manifest(file: &Path, m: &crate::manifest::Manifest) -> String {
    if m.sources.is_empty() {
        format!(
            "{}: cohort `{}` ok: {} tables ({} with verified sha256), {} sheets, {} image roots",
            file.display(),
            m.cohort.name,
            m.tables.len(),
            m.tables.iter().filter(|t| t.sha256.is_some()).count(),
            m.sheets.len(),
            m.image_roots.len()
        )
    } else {
        let names: Vec<&str> = m.sources.iter().map(|s| s.name.as_str()).collect();
        format!(
            "{}: cohort `{}` ok: {} sources ({}), {} with verified sha256, each source's manifest checked",
            file.display(),
            m.cohort.name,
            names.len(),
            names.join(", "),
            m.sources.iter().filter(|s| s.sha256.is_some()).count(),
        )
    }
}

/// `mammolab manifest --json`: [`manifest`]'s counts as one object.
pub fn manifest_json(file: &Path, m: &crate::manifest::Manifest) -> serde_json::Value {
    let mut v = serde_json::json!({
        "manifest": file,
        "cohort": m.cohort.name,
        "tables": m.tables.len(),
        "sheets": m.sheets.len(),
        "image_roots": m.image_roots.len(),
        "checksums_verified": m.tables.iter().filter(|t| t.sha256.is_some()).count(),
        "ok": true,
    });
    if !m.sources.is_empty() {
        v["sources"] = serde_json::json!(m.sources.iter().map(|s| &s.name).collect::<Vec<_>>());
    }
    v
}

/// What `mammolab augment` prints: the PNG, and what it shows.
pub fn augment_preview(
    out: &Path,
    images: usize,
    copies: usize,
    augment: &crate::dataset::Augment,
) -> String {
    format!(
        "{}: {images} images x {copies} copies ({augment})",
        out.display()
    )
}

/// The first line of what `mammolab synth` prints for a public download's twin.
fn twin_heading(name: &str, profile: &str, seed: u64, out: &Path) -> String {
    format!(
        "{name} twin `{profile}` (seed {seed}) in {}\n",
        out.display()
    )
}

/// What `mammolab synth --profile ddsm` prints (the size line aside): patches per file and
/// per label.
pub fn ddsm_twin(s: &crate::synth::ddsm::DdsmSummary) -> String {
    let mut out = twin_heading("DDSM Mammography", &s.profile, s.seed, &s.out);
    for (name, n) in &s.files {
        out += &format!("  {name}: {n} patches\n");
    }
    for (label, n) in s.labels.iter().enumerate() {
        out += &format!(
            "  label {label} ({}): {n}\n",
            crate::synth::ddsm::describe(label as u8)
        );
    }
    out += &format!(
        "  positives from {} lesions, three crops per ROI; each patch's origin in ground_truth.json\n",
        s.lesions
    );
    out
}

/// What `mammolab synth --profile cbis-ddsm` prints (the size line aside): the four CSVs,
/// the DICOM series and the patients.
pub fn cbis_twin(s: &crate::synth::cbis::CbisSummary) -> String {
    let c = &s.counts;
    let mut out = twin_heading("CBIS-DDSM", &s.profile, s.seed, &s.out);
    for (name, rows) in &c.csv_rows {
        out += &format!("  {name}: {rows} rows\n");
    }
    out += &format!(
        "  CBIS-DDSM/: {} full mammograms, {} ROI mask series ({} crops in a series of their own), {} DICOM files\n  {} patients, {} lesions; every row's files in ground_truth.json\n",
        c.full_mammograms, c.roi_series, c.crop_series, c.dicom_files, c.patients, c.lesions
    );
    out
}

/// What `mammolab synth --profile inbreast` prints (the size line aside): the files and
/// what the sheet holds, with its traps.
pub fn inbreast_twin(s: &crate::synth::inbreast::InbreastSummary) -> String {
    use crate::synth::inbreast::{FOLDER, TABLE};
    let c = &s.counts;
    format!(
        "{}  {TABLE}: {} rows (Sheet1), {} films of {} women ({} after a mastectomy)\n  classes from BI-RADS: {} normal, {} benign, {} malignant\n  {FOLDER}/: {} DICOM, 14 bits stored, MONOCHROME2 and MONOCHROME1\n  traps: Patient ID `removed` on every row (the patient is the file name's second part), File Name only a prefix of the file's name, ML in file names for MLO, two rows below the table that are not data\n",
        twin_heading("INbreast", &s.profile, s.seed, &s.out),
        c.rows,
        c.films,
        c.patients,
        c.mastectomies,
        c.classes[0],
        c.classes[1],
        c.classes[2],
        c.films,
    )
}

/// What `mammolab synth --profile rsna` prints (the size line aside): the files and what
/// they hold, with the download's traps.
pub fn rsna_twin(s: &crate::synth::rsna::RsnaSummary) -> String {
    use crate::synth::rsna::{SUBMISSION, TEST, TEST_IMAGES, TRAIN, TRAIN_IMAGES};
    let c = &s.counts;
    format!(
        "{}  {TRAIN}: {} images of {} patients, {} with cancer ({} breasts), {} extra views\n  {TRAIN_IMAGES}/<patient_id>/<image_id>.dcm: site 1 {} (JPEG 2000 lossless), site 2 {} (JPEG lossless SV1); {} MONOCHROME1, {} with a SIGMOID VOI\n  {TEST} + {TEST_IMAGES}/: {} images of one patient; {SUBMISSION}: one row per breast\n  traps: two codecs, MONOCHROME1 and SIGMOID windows, BIRADS and density empty on site 2, cancer per image but scored per breast\n",
        twin_heading("RSNA screening", &s.profile, s.seed, &s.out),
        c.images,
        c.patients,
        c.cancer_images,
        c.cancer_breasts,
        c.extra_views,
        c.per_site[0],
        c.per_site[1],
        c.monochrome1,
        c.sigmoid,
        c.test_images,
    )
}

/// What `mammolab synth --profile mini-mias` prints (the size line aside): the files and
/// what `Info.txt` holds, with its traps.
pub fn mias_twin(s: &crate::synth::mias::MiasSummary) -> String {
    use crate::synth::mias::{FOLDER, INFO};
    let c = &s.counts;
    format!(
        "{}  {INFO}: {} lines for {} films ({} normal, {} benign, {} malignant) of {} women\n  {FOLDER}/: {} PGM films, 1024 x 1024, 8-bit, MLO\n  traps: several lines for one film, {} calcification lines without a centre, Y counted from the bottom edge, films in pairs of one woman\n",
        twin_heading("mini-MIAS", &s.profile, s.seed, &s.out),
        c.lines,
        c.images,
        c.normal,
        c.benign,
        c.malignant,
        c.patients,
        c.images,
        c.unplaced,
    )
}

/// What `mammolab synth --profile idc` prints.
pub fn idc_twin(s: &crate::synth::idc::IdcSummary) -> String {
    use crate::synth::idc::FOLDER;
    let c = &s.counts;
    format!(
        "{}  {FOLDER}/<patient>/<0|1>/: {} patches of {} patients ({} IDC, {:.1} %), RGB PNG, 50 x 50 ({} smaller, at a slide's edge)\n  <patient>/<0|1>/: the same {} patches again (the download's duplicate folders; hard links)\n  traps: every patch twice in the archive, patches smaller than 50 x 50, one patient's patches on both sides of a split that ignores the folder\n",
        twin_heading("IDC histology", &s.profile, s.seed, &s.out),
        c.patches,
        c.patients,
        c.positive,
        100.0 * c.positive as f64 / c.patches.max(1) as f64,
        c.edge_patches,
        c.top_level_copies,
    )
}

/// What `mammolab patches` prints: each file of the DDSM download with its patches per
/// five-way label, and the download's known traps.
pub fn ddsm_download(a: &crate::ingest::ddsm_patches::DownloadAudit) -> String {
    use crate::ingest::ddsm_patches::label_meaning;
    let mut out = format!("{}: {} patches\n", a.root.display(), a.patches);
    for f in &a.files {
        let labels: Vec<String> = f.labels.iter().map(|(l, n)| format!("{l}={n}")).collect();
        out.push_str(&format!(
            "  {:<40} {:>6} patches  labels {}\n",
            f.file.file,
            f.patches,
            labels.join(" ")
        ));
    }
    let names: Vec<String> = (0..5u8)
        .filter_map(|l| {
            label_meaning(l).map(|(a, p)| match a {
                "none" => format!("{l} {p}"),
                _ => format!("{l} {p} {a}"),
            })
        })
        .collect();
    out.push_str(&format!("  labels: {}\n", names.join(", ")));
    out.push_str(
        "  no patient or lesion ids: each ROI is three crops, so a random re-split leaks lesions; cv10 holds only calcifications, test10 only masses\n",
    );
    out
}

/// What `mammolab patches --unpack` prints after [`ddsm_download`]: the patches written,
/// where, and the manifest that trains on them.
pub fn ddsm_unpacked(u: &crate::ingest::ddsm_patches::Unpacked, seconds: f64) -> String {
    format!(
        "unpacked {} patches into {} ({} parts); train with --manifest {} ({seconds:.1} s)",
        u.patches,
        u.out.display(),
        u.parts.len(),
        u.manifest.display()
    )
}

/// `text` as a listing shows it: up to `max` characters, else its start and its length (a
/// header cell can hold megabytes).
fn clip(text: &str, max: usize) -> String {
    let n = text.chars().count();
    if n <= max {
        return text.to_string();
    }
    let start: String = text.chars().take(max).collect();
    format!("{start}... ({n} characters)")
}

/// What `mammolab sheets` prints: each sheet's size, header row and first 12 columns with
/// their types, renamed columns, error cells and the first 5 warnings; then the sheets that
/// could not be read.
pub fn workbook(file: &Path, book: &crate::ingest::sheets::Workbook) -> String {
    let mut lines = vec![file.display().to_string()];
    for s in &book.sheets {
        let sum = s.summary();
        lines.push(format!(
            "  {}: {} rows x {} columns (header on row {})",
            s.name,
            sum.rows,
            sum.columns.len(),
            s.header_row
        ));
        for c in sum.columns.iter().take(12) {
            lines.push(format!("    {:<32} {}", clip(&c.name, 60), c.dtype));
        }
        if sum.columns.len() > 12 {
            lines.push(format!(
                "    ... {} more (--json lists all)",
                sum.columns.len() - 12
            ));
        }
        for (raw, name) in &s.renamed {
            lines.push(format!("    renamed `{raw}` -> `{name}`"));
        }
        for (col, n) in &s.error_cells {
            lines.push(format!("    {n} error cells read as null in `{col}`"));
        }
        for w in s.warnings.iter().take(5) {
            lines.push(format!("    warning: {w}"));
        }
        if s.warnings.len() > 5 {
            lines.push(format!(
                "    ... {} more warnings (--json lists all)",
                s.warnings.len() - 5
            ));
        }
    }
    for (name, why) in &book.unreadable {
        lines.push(format!("  {name}: not readable: {why}"));
    }
    lines.join("\n")
}

/// What `mammolab dicom` prints: the file, its transfer syntax, the frame's size, bit depth
/// and photometric interpretation, its stored values' range, the rescale and VOI, and the
/// header; for a file without pixel data (`image` `None`) what it is instead.
pub fn dicom(
    file: &Path,
    header: &crate::ingest::dicom::DicomHeader,
    image: Option<&crate::ingest::dicom::DicomImage>,
) -> String {
    let syntax = |uid: &str| match crate::ingest::transfer_syntax::name(uid) {
        Some(name) => format!("{uid} ({name})"),
        None => uid.to_string(),
    };
    let Some(img) = image else {
        return format!(
            "{}\n  no pixel data (7FE0,0010): SOP class {}, modality {}; header only\n  transfer syntax {}\n  {}",
            file.display(),
            header.sop_class.as_deref().unwrap_or("(none)"),
            header.modality.as_deref().unwrap_or("(none)"),
            syntax(&header.transfer_syntax),
            dicom_fields(header)
        );
    };
    let i = &img.info;
    let stored = header
        .bits_stored
        .map(|b| format!(", {b} stored"))
        .unwrap_or_default();
    format!(
        "{}\n  transfer syntax {}\n  {} {}x{} x {} frame(s), {} bits allocated{stored}, {}\n  stored values: min {} max {} mean {:.2}\n  rescale slope {} intercept {}; {}\n  {}",
        file.display(),
        syntax(&i.transfer_syntax),
        i.modality.as_deref().unwrap_or("(no modality)"),
        i.columns,
        i.rows,
        i.frames,
        i.bits_allocated,
        i.photometric_interpretation,
        i.pixel.min,
        i.pixel.max,
        i.pixel.mean,
        img.rescale.slope,
        img.rescale.intercept,
        voi_text(&img.voi),
        dicom_fields(header)
    )
}

/// How `mammolab dicom` describes a VOI transform.
fn voi_text(voi: &crate::imaging::Voi) -> String {
    use crate::imaging::Voi;
    match voi {
        Voi::Linear { center, width } => format!("window centre {center} width {width} (LINEAR)"),
        Voi::LinearExact { center, width } => {
            format!("window centre {center} width {width} (LINEAR_EXACT)")
        }
        Voi::Sigmoid { center, width } => {
            format!("window centre {center} width {width} (SIGMOID)")
        }
        Voi::Table { first, table, .. } => {
            format!("VOI LUT of {} entries from {first}", table.len())
        }
        Voi::MinMax => "no window: the image's minimum to maximum".into(),
    }
}

/// The header fields a reader checks first, `-` where the file has none.
fn dicom_fields(h: &crate::ingest::dicom::DicomHeader) -> String {
    let f = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let mut out = format!(
        "patient {}, laterality {}, view {}, study {}, manufacturer {}, SOP class {}",
        f(&h.patient_id),
        f(&h.laterality),
        f(&h.view),
        match (&h.study_date, &h.study_time) {
            (Some(d), Some(t)) => format!("{d} {t}"),
            (d, _) => f(d),
        },
        f(&h.manufacturer),
        f(&h.sop_class)
    );
    if let Some(t) = &h.truncated {
        out += &format!("\n  truncated: {t}");
    }
    out
}
