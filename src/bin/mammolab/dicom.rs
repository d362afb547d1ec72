//! `mammolab dicom`:
//! Show a DICOM file's key header fields and stored-pixel statistics.

use std::path::PathBuf;

use mammolab::ingest::dicom::{read_header, read_image_opt};

/// `mammolab dicom`'s options.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The DICOM file.
    file: PathBuf,
    /// Which frame of a multi-frame image (0-based).
    #[arg(long, default_value_t = 0)]
    frame: u32,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let Args { file, frame, json } = args;
    let h = read_header(&file)?;
    let Some(img) = read_image_opt(&file, frame)? else {
        // A valid DICOM file that is not an image: its header, and that it has none.
        if json {
            let mut v = serde_json::to_value(&h)?;
            v["pixel_data"] = serde_json::json!(false);
            println!("{v}");
        } else {
            println!("{}", file.display());
            println!(
                "  no pixel data (7FE0,0010): SOP class {}, modality {}; header only",
                h.sop_class.as_deref().unwrap_or("(none)"),
                h.modality.as_deref().unwrap_or("(none)")
            );
            println!("  transfer syntax {}", h.transfer_syntax);
            println!("  header {h:?}");
        }
        return Ok(());
    };
    if json {
        let mut v = serde_json::to_value(&img.info)?;
        v["frame"] = serde_json::json!(frame);
        v["stored_sha256"] = serde_json::json!(stored_sha256(&img.stored));
        println!("{v}");
    } else {
        let i = &img.info;
        println!("{}", file.display());
        println!("  transfer syntax {}", i.transfer_syntax);
        println!(
            "  {} {}x{} x {} frame(s), {} bits allocated, {}",
            i.modality.as_deref().unwrap_or("(no modality)"),
            i.columns,
            i.rows,
            i.frames,
            i.bits_allocated,
            i.photometric_interpretation
        );
        println!(
            "  stored values: min {} max {} mean {:.2}",
            i.pixel.min, i.pixel.max, i.pixel.mean
        );
        println!("  rescale {:?}, VOI {:?}", img.rescale, img.voi);
        println!("  header {h:?}");
    }
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
