//! File formats at the edge: everything that reads a file and hands back in-memory values.
//!
//! - [`scores`]: a CSV of labels and model scores (what `mammolab metrics` reads).
pub mod scores;

pub use scores::ScoreTable;
