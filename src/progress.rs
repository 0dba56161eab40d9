//! The live progress line of `run` on a terminal: scenarios done/total,
//! builds running, elapsed time. Off when stdout is not a terminal or the
//! format is not human; plain (no colour) when NO_COLOR is set.

use crate::report::{ScenarioReport, Verdict};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// A progress display, or nothing.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Start a display for `total` scenarios if `human` output goes to a terminal.
    pub fn start(total: usize, human: bool) -> Progress {
        if !human || !std::io::stdout().is_terminal() {
            return Progress { bar: None };
        }
        let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let template = if color {
            "{spinner:.cyan} [{pos}/{len}] {msg} {elapsed:.dim}"
        } else {
            "{spinner} [{pos}/{len}] {msg} {elapsed}"
        };
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.set_message(message());
        bar.enable_steady_tick(Duration::from_millis(120));
        let b = bar.clone();
        // The number of running builds changes inside workers; refresh it.
        std::thread::spawn(move || {
            while !b.is_finished() {
                b.set_message(message());
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        Progress { bar: Some(bar) }
    }

    /// One scenario finished.
    pub fn done(&self, r: &ScenarioReport) {
        if let Some(bar) = &self.bar {
            if r.verdict == Verdict::Fail || r.verdict == Verdict::Error {
                bar.println(format!(
                    "{} {}",
                    if r.verdict == Verdict::Fail {
                        "FAIL"
                    } else {
                        "ERROR"
                    },
                    r.name
                ));
            }
            bar.inc(1);
        }
    }

    /// Clear the line before the report is printed.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn message() -> String {
    let n = crate::sandbox::slots::running();
    format!(
        "scenarios done, {n} build{} running",
        if n == 1 { "" } else { "s" }
    )
}
