//! `compare.csv`, `replications.csv`, `compare_daily.csv` and the table printed on the
//! terminal.

use super::*;

pub(super) fn render_csv(rows: &[Row]) -> String {
    // The csv crate quotes what needs quoting (a metric or variant name with a comma).
    let mut w = csv::Writer::from_writer(Vec::new());
    let failed = "writing CSV into memory cannot fail";
    w.write_record(HEADER.split(',')).expect(failed);
    for row in rows {
        let p = &row.stats;
        w.write_record([
            row.key.entity.clone(),
            row.key.kind.name().to_string(),
            row.key.metric.to_string(),
            row.variant.clone(),
            fixed(p.baseline_mean, 4),
            fixed(p.variant_mean, 4),
            fixed(p.diff, 4),
            fixed(p.rel_diff(), 6),
            fixed(p.ci95.map(|c| c.0), 4),
            fixed(p.ci95.map(|c| c.1), 4),
            p.significant()
                .map_or("", |s| if s { "true" } else { "false" })
                .to_string(),
            fixed(p.sd_diff, 4),
            p.n.to_string(),
        ])
        .expect(failed);
    }
    String::from_utf8(w.into_inner().expect(failed)).expect("UTF-8 in, UTF-8 out")
}

/// `replications.csv`: each arm's replications in turn (the baseline first, then the
/// variants in the order given), each replication's summary rows in their order, the
/// values as its `summary.csv` writes them.
pub(super) fn render_replications(arms: &[Arm], per_arm: &[&[Outcome]]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let failed = "writing CSV into memory cannot fail";
    w.write_record(REPLICATIONS_HEADER.split(','))
        .expect(failed);
    for (arm, outs) in arms.iter().zip(per_arm) {
        for (r, outcome) in outs.iter().enumerate() {
            for (key, value) in outcome.summary.iter() {
                w.write_record([
                    arm.name.as_str(),
                    &r.to_string(),
                    &key.entity,
                    key.kind.name(),
                    key.metric,
                    &value.to_string(),
                ])
                .expect(failed);
            }
        }
    }
    String::from_utf8(w.into_inner().expect(failed)).expect("UTF-8 in, UTF-8 out")
}

/// `compare_daily.csv`: the series the chart draws, per date and arm.
pub(super) fn render_daily(start: Date, means: &[(String, Vec<[Option<f64>; 3]>)]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let failed = "writing CSV into memory cannot fail";
    let header = ["date", "variant"]
        .into_iter()
        .chain(SERIES.iter().map(|(key, _)| *key));
    w.write_record(header).expect(failed);
    let days = means.first().map_or(0, |(_, m)| m.len());
    for d in 0..days {
        for (name, series) in means {
            let x = series[d];
            w.write_record([
                start.add_days(d as i64).to_string(),
                name.clone(),
                fixed(x[0], 4),
                fixed(x[1], 4),
                fixed(x[2], 4),
            ])
            .expect(failed);
        }
    }
    String::from_utf8(w.into_inner().expect(failed)).expect("UTF-8 in, UTF-8 out")
}

pub(super) fn write_file(path: &Path, text: &str) -> Result<(), Error> {
    fs::write(path, text).map_err(Error::io(format!("writing {}", path.display())))
}

/// The comparison table, one block per variant, columns aligned. Metrics on which the
/// variant equals the baseline in every replication are listed after the table rather
/// than printed as rows of zeros.
pub(super) fn print_table(
    arms: &[Arm],
    rows: &[Row],
    reps: u32,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let opt = |v: Option<f64>| v.map(human).unwrap_or_default();
    for arm in &arms[1..] {
        let description = arm
            .loaded
            .scenario
            .variants
            .iter()
            .find(|v| v.name == arm.name)
            .map(|v| v.description.as_str())
            .unwrap_or_default();
        writeln!(out).map_err(Error::stdout)?;
        if description.is_empty() {
            writeln!(out, "{} vs baseline", arm.name).map_err(Error::stdout)?;
        } else {
            writeln!(out, "{} vs baseline: {description}", arm.name).map_err(Error::stdout)?;
        }
        let (same, changed): (Vec<&Row>, Vec<&Row>) = rows
            .iter()
            .filter(|r| r.variant == arm.name)
            .partition(|r| r.stats.diff == Some(0.0) && r.stats.sd_diff.unwrap_or(0.0) == 0.0);
        if !changed.is_empty() {
            let head = [
                "metric",
                "baseline",
                "variant",
                "diff",
                "rel",
                "95% CI of diff",
                "",
            ];
            let cells: Vec<[String; 7]> = changed
                .iter()
                .map(|r| {
                    let p = &r.stats;
                    [
                        r.key.name(),
                        opt(p.baseline_mean),
                        opt(p.variant_mean),
                        opt(p.diff),
                        p.rel_diff()
                            .map(|x| format!("{}%", fixed(Some(x * 100.0), 2)))
                            .unwrap_or_default(),
                        p.ci95
                            .map(|(l, h)| format!("[{}, {}]", human(l), human(h)))
                            .unwrap_or_default(),
                        if p.significant() == Some(true) {
                            "*"
                        } else {
                            ""
                        }
                        .to_string(),
                    ]
                })
                .collect();
            let mut widths = head.map(str::len);
            for c in &cells {
                for (wd, s) in widths.iter_mut().zip(c) {
                    *wd = (*wd).max(s.chars().count());
                }
            }
            let line = |c: [&str; 7]| -> String {
                let mut s = format!("  {:<w0$}", c[0], w0 = widths[0]);
                for i in 1..6 {
                    let _ = write!(s, "  {:>wi$}", c[i], wi = widths[i]);
                }
                let _ = write!(s, " {}", c[6]);
                s.trim_end().to_string()
            };
            writeln!(out, "{}", line(head)).map_err(Error::stdout)?;
            for c in &cells {
                writeln!(out, "{}", line(std::array::from_fn(|i| c[i].as_str())))
                    .map_err(Error::stdout)?;
            }
        }
        if !same.is_empty() {
            let names: Vec<String> = same.iter().map(|r| r.key.name()).collect();
            let what = if changed.is_empty() {
                format!(
                    "identical to the baseline in every replication on all {} metrics",
                    same.len()
                )
            } else {
                format!(
                    "identical to the baseline in every replication ({})",
                    same.len()
                )
            };
            // Wrapped at about 100 columns.
            let mut text = format!("  {what}:");
            let mut width = text.len();
            for (i, name) in names.iter().enumerate() {
                let sep = if i + 1 < names.len() { "," } else { "" };
                if width + 1 + name.len() + sep.len() > 100 {
                    text.push_str("\n   ");
                    width = 3;
                }
                let _ = write!(text, " {name}{sep}");
                width += 1 + name.len() + sep.len();
            }
            writeln!(out, "{text}").map_err(Error::stdout)?;
        }
    }
    writeln!(out).map_err(Error::stdout)?;
    if reps == 1 {
        writeln!(
            out,
            "One replication: no confidence interval (use --replications 2 or more)."
        )
        .map_err(Error::stdout)?;
    } else {
        writeln!(
            out,
            "* the 95 % interval of the paired difference excludes 0 (Student t, {} degrees of freedom)",
            reps - 1
        )
        .map_err(Error::stdout)?;
    }
    Ok(())
}
