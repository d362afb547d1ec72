//! The progress bars: one over each epoch's steps, one counting images.

use mammolab::model::{epoch_line, EpochStats, Progress};

/// An indicatif bar over the steps of each epoch; one line per finished epoch on stderr.
pub(crate) struct ProgressBarSteps {
    bar: Option<indicatif::ProgressBar>,
    quiet: bool,
}

impl ProgressBarSteps {
    pub(crate) fn new(quiet: bool) -> Self {
        Self { bar: None, quiet }
    }
    pub(crate) fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Progress for ProgressBarSteps {
    fn on_start(&mut self, _epochs: usize, steps: usize) {
        let bar = indicatif::ProgressBar::new(steps as u64);
        styled(
            &bar,
            "{prefix} [{bar:30}] {pos}/{len} steps  {msg}  ({per_sec}, eta {eta})",
        );
        self.bar = Some(bar);
    }
    fn on_step(&mut self, epoch: usize, step: usize, loss: f64) {
        if let Some(b) = &self.bar {
            b.set_prefix(format!("epoch {epoch}"));
            b.set_position(step as u64);
            b.set_message(format!("loss {loss:.4}"));
        }
    }
    fn on_epoch(&mut self, s: &EpochStats) {
        if let Some(b) = &self.bar {
            if self.quiet {
            } else if b.is_hidden() {
                eprintln!("{}", epoch_line(s));
            } else {
                b.println(epoch_line(s));
            }
            b.set_position(0);
        }
    }
}

/// A bar counting `len` images through `what` ("scoring", "saliency", ...); hidden with
/// `--json`, whose output is one JSON object.
pub(crate) fn count_bar(what: &str, len: usize, hidden: bool) -> indicatif::ProgressBar {
    let bar = if hidden {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(len as u64)
    };
    styled(
        &bar,
        &format!("{what} [{{bar:30}}] {{pos}}/{{len}} images  ({{per_sec}}, eta {{eta}})"),
    );
    bar
}

/// Draw `bar` with `template` and the project's `=> ` bar characters.
fn styled(bar: &indicatif::ProgressBar, template: &str) {
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
}
