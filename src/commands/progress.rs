//! Progress of long work: a bar on a terminal (simulated days, events per second, time
//! left), nothing when piped or quiet.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar on a terminal, nothing otherwise.
pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
    days: u32,
}

impl Progress {
    pub fn new(quiet: bool, days: u32, replications: u32) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(u64::from(days) * u64::from(replications));
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} day {pos}/{len} {msg} (eta {eta})",
                )
                .expect("valid template"),
            );
            bar
        });
        Progress {
            bar,
            started: Instant::now(),
            days,
        }
    }

    pub fn update(&self, replication: u32, day: u32, events: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(u64::from(replication) * u64::from(self.days) + u64::from(day) + 1);
            let secs = self.started.elapsed().as_secs_f64().max(1e-9);
            let note = if replication > 0 {
                format!(" rep {replication}")
            } else {
                String::new()
            };
            bar.set_message(format!(
                "{:.1} M events/s{note}",
                events as f64 / secs / 1e6
            ));
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A count of finished work (a study's runs) on a terminal: how many, how fast, time left.
pub struct Counter {
    bar: Option<ProgressBar>,
    /// Units finished before this run (resumed): not part of its rate.
    resumed: u64,
}

impl Counter {
    /// `total` units, `done` of them finished before (resumed); each unit is `what`.
    pub fn new(quiet: bool, total: u64, done: u64, what: &str) -> Counter {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(&format!(
                    "{{spinner}} [{{elapsed_precise}}] {{bar:30}} {{pos}}/{{len}} units, {{msg}} {what}/s (eta {{eta}})"
                ))
                .expect("valid template"),
            );
            bar.set_position(done);
            // The rate and time left count this run's units only, not those resumed.
            bar.reset_eta();
            bar
        });
        Counter { bar, resumed: done }
    }

    /// One more unit finished, of `runs` runs.
    pub fn tick(&self, runs: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
            let secs = bar.elapsed().as_secs_f64().max(1e-9);
            let units = (bar.position() - self.resumed) as f64;
            bar.set_message(format!("{:.1}", units * runs as f64 / secs));
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
