//! What several commands print the same way: a summary as JSON with its seconds.

/// `synth --json` and `patches --json`: the summary as one JSON object, with the seconds it
/// took.
pub(crate) fn print_json_with_seconds(
    summary: &impl serde::Serialize,
    seconds: f64,
) -> anyhow::Result<()> {
    let mut v = serde_json::to_value(summary)?;
    v["seconds"] = serde_json::json!((seconds * 100.0).round() / 100.0);
    println!("{v}");
    Ok(())
}
