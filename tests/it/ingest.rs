//! Ingest: workbooks, the merge audit against the cohort's ground truth, DICOM pixels.

use std::collections::HashMap;

use mammolab::ingest::merge::{merge, Status};
use mammolab::ingest::sheets::{
    read_all, read_sheet, read_workbook, sheet_names, SheetOptions, Value,
};
use mammolab::manifest::Manifest;
use rust_xlsxwriter::{Format, Formula, Workbook};
use serde_json::Value as Json;

fn truth() -> Json {
    let dir = crate::ci_cohort().0.path();
    serde_json::from_str(&std::fs::read_to_string(dir.join("ground_truth.json")).unwrap()).unwrap()
}

#[test]
fn cohort_workbooks_read_with_their_shapes() {
    let dir = crate::ci_cohort().0.path();
    let c = &truth()["counts"];
    let sheets = read_all(dir.join("datacombined.xlsx"), &SheetOptions::default()).unwrap();
    assert_eq!(sheets.len(), 2);
    assert_eq!(
        sheets[0].rows.len() as u64,
        c["cancer_rows"].as_u64().unwrap()
    );
    assert_eq!(
        sheets[1].rows.len() as u64,
        c["non_cancer_rows"].as_u64().unwrap()
    );
    let df = sheets[0].to_dataframe().unwrap();
    assert_eq!(df.width() as u64, c["main_columns"].as_u64().unwrap());
    // Key columns: mixed formats make StudyDate and StudyTime text; ids are text.
    let s = sheets[0].summary();
    let dtype: HashMap<&str, &str> = s
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.dtype.as_str()))
        .collect();
    assert_eq!(dtype["StudyDate"], "str");
    assert_eq!(dtype["PatientID.x"], "str");
    let listing = read_sheet(
        dir.join("data_validation_x.xlsx"),
        "Sheet1",
        &SheetOptions::default(),
    )
    .unwrap();
    assert_eq!(
        listing
            .summary()
            .columns
            .iter()
            .find(|c| c.name == "Rows")
            .unwrap()
            .dtype,
        "i64"
    );
}

#[test]
fn workbook_rules_header_duplicates_merged_formulas() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.xlsx");
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet().set_name("Data").unwrap();
    // Two empty rows, then a header with a repeat and a blank; a merged cell; a formula.
    for (c, h) in ["id", "value", "value", "", "when"].iter().enumerate() {
        if !h.is_empty() {
            ws.write_string(2, c as u16, *h).unwrap();
        }
    }
    let date = Format::new().set_num_format("yyyy-mm-dd");
    for r in 0..3u32 {
        ws.write_string(3 + r, 0, format!("P{r}")).unwrap();
        ws.write_number(3 + r, 1, r as f64).unwrap();
        ws.write_number(3 + r, 2, r as f64 + 0.5).unwrap();
        ws.write_string(3 + r, 3, "x").unwrap();
        ws.write_number_with_format(3 + r, 4, 41998.0 + r as f64, &date)
            .unwrap();
    }
    ws.write_formula(6, 1, Formula::new("=SUM(B4:B6)").set_result("3"))
        .unwrap();
    ws.merge_range(7, 0, 8, 0, "merged", &Format::new())
        .unwrap();
    wb.save(&path).unwrap();

    let s = read_sheet(&path, "Data", &SheetOptions::default()).unwrap();
    assert_eq!(s.header_row, 3);
    assert_eq!(s.columns, ["id", "value", "value_2", "column_D", "when"]);
    assert_eq!(
        s.renamed,
        [
            ("value".to_string(), "value_2".to_string()),
            (String::new(), "column_D".to_string())
        ]
    );
    assert_eq!(s.row_numbers, [4, 5, 6, 7, 8, 9]);
    assert_eq!(
        s.rows[3][1],
        Value::Float(3.0),
        "formula read as its cached value"
    );
    assert_eq!(
        s.rows[5][0],
        Value::Text("merged".into()),
        "merged region filled"
    );
    let df = s.to_dataframe().unwrap();
    let dtypes: Vec<String> = df.dtypes().iter().map(|d| d.to_string()).collect();
    assert_eq!(dtypes, ["str", "i64", "f64", "str", "date"]);
    // Errors say which file, which sheet, what exists.
    let e = read_sheet(&path, "Cancer", &SheetOptions::default())
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!("{}: no sheet `Cancer` (sheets: Data)", path.display())
    );
    let e = s.column_index("Value").unwrap_err().to_string();
    assert!(
        e.ends_with("sheet `Data`: no column `Value` (similar: value, value_2)"),
        "{e}"
    );
    let bad = dir.path().join("bad.xlsx");
    std::fs::write(&bad, b"not a zip").unwrap();
    let e = sheet_names(&bad).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{}: not a readable workbook", bad.display())),
        "{e}"
    );
    assert!(sheet_names(dir.path().join("none.xlsx"))
        .unwrap_err()
        .to_string()
        .contains("none.xlsx: no such file"));
}

/// Every planted fault of the cohort is found by the merge audit, and the counts add up.
#[test]
fn merge_audit_finds_every_planted_fault() {
    let dir = crate::ci_cohort().0.path();
    let t = truth();
    let c = &t["counts"];
    let m = Manifest::open(dir.join("manifest.toml")).unwrap();
    let r = merge(&m).unwrap();
    let count = |sheet: &str, st: Status| {
        r.audit
            .iter()
            .filter(|a| a.sheet == sheet && a.status == st)
            .count() as u64
    };
    assert_eq!(
        count("Cancer", Status::Exact),
        c["exact_key_matches"].as_u64().unwrap(),
        "seed 001's pandas merge"
    );
    assert_eq!(
        count("Cancer", Status::Exact) + count("Cancer", Status::Normalised),
        c["normalised_key_matches"].as_u64().unwrap()
    );
    for (name, sc) in &r.summary.sheets {
        assert_eq!(sc.matched + sc.unmatched, sc.rows, "{name}: counts add up");
        let rows = r
            .audit
            .iter()
            .filter(|a| {
                &a.sheet == name
                    && a.row > 0
                    && !matches!(a.status, Status::HeaderMismatch | Status::File)
            })
            .count();
        assert_eq!(rows, sc.rows, "{name}: one audit entry per row");
    }
    for f in t["faults"].as_array().unwrap() {
        let kind = f["kind"].as_str().unwrap();
        for cell in f["cells"].as_array().unwrap() {
            let (sheet, row) = (
                cell["sheet"].as_str().unwrap(),
                cell["row"].as_u64().unwrap(),
            );
            let found: Vec<_> = r
                .audit
                .iter()
                .filter(|a| a.sheet == sheet && u64::from(a.row) == row)
                .collect();
            let ok = match kind {
                "no_counterpart" => found.iter().any(|a| {
                    a.status == Status::Unmatched && a.reason.contains("differs")
                        || a.reason.contains("no counterpart")
                }),
                "duplicate_key" => found.iter().any(|a| a.reason.contains("duplicate key")),
                "missing_image" => found.iter().any(|a| a.reason == "image file not found"),
                "duplicate_file" => found
                    .iter()
                    .any(|a| a.reason.starts_with("image name found 2 times")),
                "header_mismatch" => found.iter().any(|a| a.status == Status::HeaderMismatch),
                "corrupt_dicom" => found
                    .iter()
                    .any(|a| a.status == Status::File && a.reason.contains("truncated")),
                k if k.starts_with("date_")
                    || k.starts_with("time_")
                    || k.starts_with("id_")
                    || k == "file_name_case" =>
                {
                    found.iter().any(|a| {
                        a.status == Status::Normalised && a.reason.starts_with("formatting differs")
                    })
                }
                // Recovered silently by normalisation / seen by splits, not the merge.
                "file_name_whitespace" | "patient_in_both_classes" => true,
                other => panic!("fault kind {other} has no check"),
            };
            assert!(ok, "{kind} at {sheet} row {row} not found: {found:?}");
        }
    }
    // The merged table: seed 001's 87-of-105 becomes every normalised match.
    assert_eq!(
        r.merged.height() as u64,
        c["normalised_key_matches"].as_u64().unwrap()
    );
    let out = tempfile::tempdir().unwrap();
    r.write(out.path(), mammolab::ingest::merge::Ids::Raw)
        .unwrap();
    for f in [
        "merged.parquet",
        "records.csv",
        "audit.csv",
        "audit.parquet",
        "summary.json",
    ] {
        assert!(out.path().join(f).is_file(), "{f}");
    }
}

#[test]
fn images_load_resized_and_cached() {
    use mammolab::dataset::{load_images, Preprocess};
    use mammolab::ingest::merge::Laterality;
    let dir = crate::ci_cohort().0.path();
    let m = Manifest::open(dir.join("manifest.toml")).unwrap();
    let r = merge(&m).unwrap();
    let files: Vec<(std::path::PathBuf, bool)> = r
        .records
        .iter()
        .filter_map(|rec| {
            // Records carry resolved paths: no manifest needed to open them.
            rec.dicom.as_ref().map(|d| {
                assert!(d.starts_with(&m.base_dir), "{d:?}");
                (d.clone(), rec.laterality == Some(Laterality::Right))
            })
        })
        .take(12)
        .collect();
    let pre = Preprocess::new(64, 80).with_crop(0.05).with_flip_right();
    let cache = tempfile::tempdir().unwrap();
    let a = load_images(&files, &pre, Some(cache.path()), "ci").unwrap();
    assert_eq!(
        (a.n, a.height, a.width, a.data.len()),
        (12, 80, 64, 12 * 80 * 64)
    );
    assert!(!a.from_cache);
    assert!(a.data.iter().all(|v| (0.0..=1.0).contains(v)));
    let b = load_images(&files, &pre, Some(cache.path()), "ci").unwrap();
    assert!(b.from_cache);
    assert_eq!(a.data, b.data);
    // The one cache file so far: the values and their sha256.
    let entries: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1);
    let entry = entries[0].clone();
    assert_eq!(std::fs::read(&entry).unwrap().len(), 12 * 80 * 64 * 4 + 32);
    let c = load_images(&files, &Preprocess::new(64, 80), Some(cache.path()), "ci").unwrap();
    assert!(!c.from_cache, "other parameters, other cache entry");

    // A cache file with one flipped bit, or cut short, is detected and rebuilt.
    for damage in ["bit", "cut"] {
        let mut bytes = std::fs::read(&entry).unwrap();
        match damage {
            "bit" => bytes[1000] ^= 0x10,
            _ => bytes.truncate(bytes.len() / 2),
        }
        std::fs::write(&entry, &bytes).unwrap();
        let d = load_images(&files, &pre, Some(cache.path()), "ci").unwrap();
        assert!(!d.from_cache, "{damage}: a damaged cache file was used");
        assert_eq!(d.data, a.data);
        let e = load_images(&files, &pre, Some(cache.path()), "ci").unwrap();
        assert!(e.from_cache, "{damage}: rebuilt and used again");
    }

    // The DICOM display pipeline agrees with the JPG export written from the same pixels
    // (the cohort's JPG is the linear VOI of the rescaled DICOM, 8-bit).
    let rec = r
        .records
        .iter()
        .find(|x| x.dicom.is_some() && x.jpg.is_some())
        .unwrap();
    let d = mammolab::ingest::dicom::read_display(rec.dicom.as_ref().unwrap()).unwrap();
    let j = mammolab::ingest::dicom::read_display(rec.jpg.as_ref().unwrap()).unwrap();
    assert_eq!((d.width, d.height), (j.width, j.height));
    let mad = d
        .pixels
        .iter()
        .zip(&j.pixels)
        .map(|(a, b)| (a - b).abs())
        .sum::<f32>()
        / d.pixels.len() as f32;
    assert!(mad < 2.0 / 255.0, "mean abs difference {mad}");
    assert!((d.mean_abs_diff(&j).unwrap() - mad as f64).abs() < 1e-6);
    assert!(d.mean_abs_diff(&d.crop((0, 0, 4, 4))).is_err());
}

/// `Filter::Max` keeps a one-pixel bright dot that Lanczos3 dilutes, covers every source
/// pixel at a non-integer ratio, and upscales like nearest neighbour.
#[test]
fn max_resampling_keeps_bright_dots() {
    use mammolab::imaging::{resize, resize_max, Filter, Gray};
    let (w, h) = (384, 312);
    let mut pixels = vec![0.2f32; w * h];
    pixels[100 * w + 250] = 0.9; // a calcification-sized dot
    let img = Gray {
        width: w,
        height: h,
        pixels,
    };
    let max = resize(&img, 64, 64, Filter::Max).unwrap();
    let lanczos = resize(&img, 64, 64, Filter::Lanczos3).unwrap();
    let peak = |g: &Gray| g.pixels.iter().copied().fold(0.0f32, f32::max);
    assert_eq!(peak(&max), 0.9);
    assert!(peak(&lanczos) < 0.25, "averaged away: {}", peak(&lanczos));
    // 384 -> 64 is 6 source columns per output column, 312 -> 64 is 4.875 rows.
    assert_eq!(max.pixels[(100 * 64 / 312) * 64 + 250 / 6], 0.9);
    // Every source pixel lies in some box: each single bright pixel survives.
    for (x, y) in [(0, 0), (383, 311), (5, 4), (6, 5), (191, 155)] {
        let mut g = Gray {
            width: w,
            height: h,
            pixels: vec![0.0; w * h],
        };
        g.pixels[y * w + x] = 1.0;
        assert_eq!(peak(&resize_max(&g, 64, 64)), 1.0, "({x}, {y})");
    }
    let tiny = Gray {
        width: 2,
        height: 1,
        pixels: vec![0.1, 0.7],
    };
    assert_eq!(
        resize_max(&tiny, 4, 2).pixels,
        [0.1, 0.1, 0.7, 0.7, 0.1, 0.1, 0.7, 0.7]
    );
}

/// A number cell stored as `" 41"` (calamine refuses the sheet; mammolab reads it as openpyxl
/// does and warns) in a merged sheet reaches the merge's summary, named by workbook, sheet and
/// cell; the merge itself is unchanged (the same value was read).
#[test]
fn cells_read_other_than_typed_reach_the_merge_summary() {
    use std::io::{Read, Write};
    let (src, _) = crate::ci_cohort();
    let dir = tempfile::tempdir().unwrap();
    // The cohort, hard-linked, but for the workbook patched below and the manifest.
    for f in crate::files_below(src.path()) {
        let to = dir.path().join(&f);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        if !f.ends_with("datacombined.xlsx") && !f.ends_with("manifest.toml") {
            std::fs::hard_link(src.path().join(&f), &to).unwrap();
        }
    }
    // Cancer is sheet1.xml: its first number cell below the header becomes `t="n"` with a
    // leading space in its value.
    let book = src.path().join("datacombined.xlsx");
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&book).unwrap()).unwrap();
    let mut xml = String::new();
    zip.by_name("xl/worksheets/sheet1.xml")
        .unwrap()
        .read_to_string(&mut xml)
        .unwrap();
    let (at, cell) = xml
        .match_indices("<c r=\"")
        .map(|(k, _)| (k, &xml[k..k + xml[k..].find('>').unwrap()]))
        .find(|(_, c)| !c.contains(" t=\"") && !c.ends_with('/'))
        .map(|(k, c)| (k, c.to_string()))
        .unwrap();
    let v = at + xml[at..].find("<v>").unwrap() + 3;
    let end = v + xml[v..].find("</v>").unwrap();
    let number = xml[v..end].to_string();
    // Typed as a number (`t="n"`, as readxl's datasets.xlsx has it), with the leading space.
    let tag_end = at + cell.len();
    let patched = format!(
        "{} t=\"n\"{} {}",
        &xml[..tag_end],
        &xml[tag_end..v],
        &xml[v..]
    );
    let cell_ref = cell
        .trim_start_matches("<c r=\"")
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let out = dir.path().join("datacombined.xlsx");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&out).unwrap());
    for i in 0..zip.len() {
        let f = zip.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        if name == "xl/worksheets/sheet1.xml" {
            drop(f);
            w.start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(patched.as_bytes()).unwrap();
        } else {
            drop(f);
            w.raw_copy_file(zip.by_index_raw(i).unwrap()).unwrap();
        }
    }
    w.finish().unwrap();
    // The manifest, with the patched workbook's checksum.
    let old = mammolab::hash::sha256_file(&book).unwrap();
    let new = mammolab::hash::sha256_file(&out).unwrap();
    let manifest = std::fs::read_to_string(src.path().join("manifest.toml"))
        .unwrap()
        .replace(&old, &new);
    std::fs::write(dir.path().join("manifest.toml"), manifest).unwrap();

    let before = merge(&Manifest::open(src.path().join("manifest.toml")).unwrap()).unwrap();
    let after = merge(&Manifest::open(dir.path().join("manifest.toml")).unwrap()).unwrap();
    assert!(before.summary.warnings.is_empty());
    let w = &after.summary.warnings;
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(
        (w[0].workbook.as_str(), w[0].sheet.as_str()),
        ("datacombined.xlsx", "Cancer")
    );
    assert!(
        w[0].warning.starts_with(&format!(
            "{cell_ref}: number stored as \" {number}\", read as "
        )),
        "{w:?}"
    );
    assert_eq!(before.summary.sheets, after.summary.sheets);
    assert_eq!(before.records.len(), after.records.len());
    let json = serde_json::to_value(&after.summary).unwrap();
    assert_eq!(json["warnings"][0]["sheet"], "Cancer");
    assert!(serde_json::to_value(&before.summary)
        .unwrap()
        .get("warnings")
        .is_none());
}

/// An .ods written with its XML indented (as KSpread writes it; odfpy's
/// `pythagoras-kspread.ods` is checked against pandas in tests/python): calamine 0.38 refuses
/// the whole workbook, mammolab drops the layout whitespace around the cells and reads it,
/// a string cell as its paragraphs' text, the spaces inside a paragraph kept.
#[test]
fn an_indented_ods_reads_as_its_cells() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("indented.ods");
    let string = |t: &str| {
        format!(
            "\n   <table:table-cell office:value-type=\"string\">\n    <text:p>{t}</text:p>\n   </table:table-cell>"
        )
    };
    let float = |v: u32| {
        format!("\n   <table:table-cell office:value-type=\"float\" office:value=\"{v}\">\n    <text:p>{v}</text:p>\n   </table:table-cell>")
    };
    let row = |cells: String| format!("\n  <table:table-row>{cells}\n  </table:table-row>");
    let table = format!(
        "\n <table:table table:name=\"Sheet1\">{}{}{}\n </table:table>\n",
        row(string("id") + &string("note")),
        row(string("P1") + &string(" two  spaces ")),
        row(string("P2") + &float(7)),
    );
    crate::limits::ods(&path, &table);
    let sheet = read_sheet(&path, "Sheet1", &SheetOptions::default()).unwrap();
    assert_eq!(sheet.columns, ["id", "note"]);
    assert_eq!(
        sheet.rows,
        [
            vec![
                Value::Text("P1".into()),
                Value::Text(" two  spaces ".into())
            ],
            vec![Value::Text("P2".into()), Value::Float(7.0)],
        ]
    );
}

#[test]
fn a_second_read_comes_from_the_cache_and_an_edited_workbook_is_read_again() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let write = |path: &std::path::Path, value: f64| {
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet().set_name("Data").unwrap();
        ws.write_string(0, 0, "id").unwrap();
        ws.write_string(0, 1, "size").unwrap();
        ws.write_string(1, 0, "P1").unwrap();
        ws.write_number(1, 1, value).unwrap();
        wb.save(path).unwrap();
    };
    let path = dir.path().join("a.xlsx");
    write(&path, 12.5);
    let options = SheetOptions::default().with_cache(&cache);
    let plain = read_sheet(&path, "Data", &SheetOptions::default()).unwrap();
    let first = read_sheet(&path, "Data", &options).unwrap();
    assert_eq!(first, plain);
    let entries = || -> Vec<(std::path::PathBuf, u64)> {
        let mut e: Vec<_> = std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                let ino = std::fs::metadata(&p).unwrap().ino();
                (p, ino)
            })
            .collect();
        e.sort();
        e
    };
    let stored = entries();
    assert_eq!(stored.len(), 1);
    // The same bytes under another name: the same entry, not rewritten (a hit), and the
    // sheet names the file it was asked for.
    let copy = dir.path().join("copy.xlsx");
    std::fs::copy(&path, &copy).unwrap();
    let again = read_sheet(&copy, "Data", &options).unwrap();
    assert_eq!(entries(), stored, "read from the cache, not written again");
    assert_eq!(again.file, copy);
    assert_eq!(again.rows, plain.rows);
    // The whole workbook is its own entry; read_all and read_workbook share it.
    let all = read_all(&path, &options).unwrap();
    assert_eq!(all, vec![plain.clone()]);
    assert_eq!(entries().len(), 2);
    assert_eq!(read_workbook(&path, &options).unwrap().sheets, all);
    assert_eq!(entries().len(), 2);
    // An edited workbook (other bytes) is read again, never answered from the old entry.
    write(&path, 99.0);
    let edited = read_sheet(&path, "Data", &options).unwrap();
    assert_eq!(edited.rows[0][1], Value::Float(99.0));
    assert_eq!(entries().len(), 3);
    // A damaged entry is a miss: read again and rewritten.
    for (p, _) in entries() {
        std::fs::write(&p, b"MLSHEETS").unwrap();
    }
    assert_eq!(read_sheet(&path, "Data", &options).unwrap(), edited);
    // A cache folder that cannot be made is an error naming it.
    let blocked = dir.path().join("file");
    std::fs::write(&blocked, b"x").unwrap();
    let err = read_sheet(&path, "Data", &SheetOptions::default().with_cache(&blocked))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("file: cannot make the sheet cache folder"),
        "{err}"
    );
}
