//! `mammolab sheets`:
//! List the sheets of a workbook with their rows, columns and dtypes.

use std::path::PathBuf;

use mammolab::ingest::sheets::{read_workbook, SheetOptions};
use mammolab::pipeline::report;

/// `mammolab sheets`'s options.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The workbook (.xlsx, .xlsm, .xls, .xlsb, .ods), CSV file or whitespace-separated .txt table (one sheet, named by its stem).
    file: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// With --json: every data row's cells too (`cells`, in column order; numbers,
    /// text, booleans, dates as Excel's General format shows them, null for empty and
    /// error cells) and each row's spreadsheet row number (`row_numbers`).
    #[arg(long, requires = "json")]
    cells: bool,
    /// Keep what is read in this folder and read it from there next time, while the
    /// workbook's bytes (sha256) are the same.
    #[arg(long, value_name = "DIR")]
    cache: Option<PathBuf>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let Args {
        file,
        json,
        cells,
        cache,
    } = args;
    let options = match cache {
        Some(dir) => SheetOptions::default().with_cache(dir),
        None => SheetOptions::default(),
    };
    let book = read_workbook(&file, &options)?;
    let sheets = &book.sheets;
    if json {
        let summaries: Vec<_> = sheets.iter().map(|s| s.summary()).collect();
        let unreadable: Vec<_> = book
            .unreadable
            .iter()
            .map(|(name, error)| serde_json::json!({ "name": name, "error": error }))
            .collect();
        let warnings: Vec<_> = sheets
            .iter()
            .flat_map(|s| {
                s.warnings
                    .iter()
                    .map(|w| serde_json::json!({ "sheet": s.name, "warning": w }))
            })
            .collect();
        let mut sheet_values: Vec<serde_json::Value> = summaries
            .iter()
            .map(|s| serde_json::to_value(s).expect("a summary is JSON"))
            .collect();
        if cells {
            for (v, s) in sheet_values.iter_mut().zip(sheets) {
                v["cells"] = s
                    .rows
                    .iter()
                    .map(|r| serde_json::Value::Array(r.iter().map(cell_json).collect()))
                    .collect();
                v["row_numbers"] = serde_json::json!(s.row_numbers);
            }
        }
        let v = serde_json::json!({ "file": file, "sheets": sheet_values, "unreadable": unreadable, "warnings": warnings });
        println!("{v}");
    } else {
        println!("{}", report::workbook(&file, &book));
    }
    Ok(())
}

/// One cell for `sheets --json --cells`.
pub(crate) fn cell_json(v: &mammolab::ingest::sheets::Value) -> serde_json::Value {
    use mammolab::ingest::sheets::Value;
    match v {
        Value::Int(i) => serde_json::json!(i),
        Value::Float(f) => serde_json::json!(f),
        Value::Bool(b) => serde_json::json!(b),
        Value::Text(t) => serde_json::json!(t),
        Value::Excel(_) => serde_json::json!(v.to_text()),
        Value::Empty | Value::Error(_) => serde_json::Value::Null,
    }
}
