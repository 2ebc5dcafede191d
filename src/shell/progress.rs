//! The progress bar on stderr for statements that run longer than about a second.
//!
//! Shown only when stderr is a terminal (never in pipes or files) and `.progress` is on. It
//! reports the rows the statement's scans have read ([`tsdb::Progress`]): a bar with an ETA
//! when the total is known (region scans, Parquet files, VALUES), else a spinner with the count
//! and rate (CSV and JSON files). Drawn with indicatif and cleared when the statement ends.

use std::time::{Duration, Instant};

use indicatif::{HumanCount, HumanDuration, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tsdb::Progress;

/// Statements faster than this never show a bar.
const SHOW_AFTER: Duration = Duration::from_secs(1);

/// How often the bar is refreshed while a statement runs.
pub const REFRESH_INTERVAL: Duration = Duration::from_millis(100);

// Rate and ETA are computed here from the statement's start (`{msg}`): indicatif's own
// estimator would see the rows read before the bar appeared as arriving at once.
const BAR_TEMPLATE: &str =
    "{spinner} {elapsed_precise} [{wide_bar}] {human_pos}/{human_len} rows {msg}";
const SPINNER_TEMPLATE: &str = "{spinner} {elapsed_precise} {human_pos} rows read {msg}";

/// Draws one statement's progress; [`ProgressDisplay::tick`] it every
/// [`REFRESH_INTERVAL`] and [`ProgressDisplay::finish`] it at the end.
pub struct ProgressDisplay {
    progress: Progress,
    started: Instant,
    enabled: bool,
    bar: Option<ProgressBar>,
}

impl ProgressDisplay {
    /// A display of `progress`; draws nothing unless `enabled`.
    pub fn new(progress: Progress, enabled: bool) -> ProgressDisplay {
        ProgressDisplay {
            progress,
            started: Instant::now(),
            enabled,
            bar: None,
        }
    }

    /// Redraws with the latest counts (after the first second).
    pub fn tick(&mut self) {
        if !self.enabled || self.started.elapsed() < SHOW_AFTER {
            return;
        }
        let Some(snapshot) = self.progress.snapshot() else {
            return;
        };
        let bar = self.bar.get_or_insert_with(|| {
            let (bar, template) = match snapshot.total_rows {
                Some(total) => (ProgressBar::new(total), BAR_TEMPLATE),
                None => (ProgressBar::no_length(), SPINNER_TEMPLATE),
            };
            bar.set_draw_target(ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_elapsed(self.started.elapsed());
            bar
        });
        if let Some(total) = snapshot.total_rows {
            bar.set_length(total);
        }
        bar.set_position(snapshot.rows);
        bar.set_message(rate_and_eta(
            snapshot.rows,
            snapshot.total_rows,
            self.started.elapsed(),
        ));
    }

    /// Clears the bar, if one was drawn.
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `(1.2M rows/s, ETA 0:12)`; no ETA without a total or before any row was read.
fn rate_and_eta(rows: u64, total: Option<u64>, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64();
    if rows == 0 || seconds <= 0.0 {
        return String::new();
    }
    let rate = rows as f64 / seconds;
    let mut text = format!("({} rows/s", HumanCount(rate as u64));
    if let Some(total) = total {
        let eta = total.saturating_sub(rows) as f64 / rate;
        text.push_str(&format!(
            ", ETA {}",
            HumanDuration(Duration::from_secs_f64(eta))
        ));
    }
    text.push(')');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse() {
        assert!(ProgressStyle::with_template(BAR_TEMPLATE).is_ok());
        assert!(ProgressStyle::with_template(SPINNER_TEMPLATE).is_ok());
    }

    #[test]
    fn rate_and_eta_from_the_statement_start() {
        let text = rate_and_eta(2_000_000, Some(6_000_000), Duration::from_secs(2));
        assert_eq!(text, "(1,000,000 rows/s, ETA 4 seconds)");
        assert_eq!(
            rate_and_eta(10, None, Duration::from_secs(1)),
            "(10 rows/s)"
        );
        assert_eq!(rate_and_eta(0, Some(5), Duration::from_secs(1)), "");
    }

    #[test]
    fn disabled_display_draws_nothing() {
        let mut display = ProgressDisplay::new(Progress::new(), false);
        display.tick();
        assert!(display.bar.is_none());
    }
}
