//! `mammolab dicom`:
//! Show a DICOM file's key header fields and stored-pixel statistics.

use std::path::PathBuf;

use mammolab::ingest::dicom::{read_header, read_image_opt};
use mammolab::pipeline::report;

/// `mammolab dicom`'s options.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The DICOM file.
    file: PathBuf,
    /// Which frame of a multi-frame image (0-based).
    #[arg(long, default_value_t = 0)]
    frame: u32,
    /// Also write the frame as displayed (rescale, the window through its VOI LUT function,
    /// MONOCHROME1 inverted) to this PNG, 16-bit grey: round(display x 65535).
    #[arg(long, value_name = "PNG")]
    png: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let Args {
        file,
        frame,
        png,
        json,
    } = args;
    let h = read_header(&file)?;
    let img = read_image_opt(&file, frame)?;
    if let Some(out) = &png {
        let Some(img) = &img else {
            anyhow::bail!(
                "{}: no pixel data (7FE0,0010) to write to {}",
                file.display(),
                out.display()
            );
        };
        mammolab::plot::Figure::grey16(&img.display()?)?.save(out)?;
    }
    if !json {
        println!("{}", report::dicom(&file, &h, img.as_ref()));
        return Ok(());
    }
    let v = match &img {
        // A valid DICOM file that is not an image: its header, and that it has none.
        None => {
            let mut v = serde_json::to_value(&h)?;
            v["pixel_data"] = serde_json::json!(false);
            v
        }
        Some(img) => {
            let mut v = serde_json::to_value(&img.info)?;
            v["frame"] = serde_json::json!(frame);
            v["stored_sha256"] = serde_json::json!(stored_sha256(&img.stored));
            v
        }
    };
    println!("{v}");
    Ok(())
}

/// sha256 of the frame's stored values (first sample of each pixel, row-major) as
/// little-endian i64: what numpy's `a[..., 0].astype("<i8").tobytes()` hashes to, so a
/// test can compare every value with pydicom's `pixel_array`, not only the statistics.
pub(crate) fn stored_sha256(stored: &[f64]) -> String {
    let bytes: Vec<u8> = stored
        .iter()
        .flat_map(|&v| (v as i64).to_le_bytes())
        .collect();
    mammolab::hash::sha256_bytes(&bytes)
}
