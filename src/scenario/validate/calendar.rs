//! Dated entries: dates against the horizon (and the file's own horizon when overrides
//! moved it), the calendar's peaks, the calibration targets and the parameters fitted to
//! them.

use super::*;

/// Where a dated entry falls against the horizon.
pub(super) enum Dated {
    Day(u32),
    /// Before the start or after the end of a horizon an override moved, but inside the
    /// file's own.
    Before,
    After,
}

impl Validator {
    /// The scenario's clock: UTC unless it says otherwise.
    pub(super) fn utc_offset(&mut self, text: Option<&str>) -> UtcOffset {
        let Some(text) = text else {
            return UtcOffset::UTC;
        };
        UtcOffset::parse(text).unwrap_or_else(|| {
            self.err(
                "scenario.utc_offset",
                format!(
                    "expected an offset from UTC as +HH:MM or -HH:MM (at most 14:00), found \"{text}\""
                ),
            );
            UtcOffset::UTC
        })
    }

    /// A date, anywhere in the calendar.
    fn date(&mut self, path: &str, text: &str) -> Option<Date> {
        let date = Date::parse(text);
        if date.is_none() {
            self.err(
                path,
                format!("expected a date YYYY-MM-DD, found \"{text}\""),
            );
        }
        date
    }

    /// A date inside the horizon as a day index, or outside a horizon that overrides
    /// moved (see `validate_within`); `None` (and a problem) for any other date.
    pub(super) fn dated(&mut self, path: &str, text: &str) -> Option<Dated> {
        let date = self.date(path, text)?;
        let start = self.start?;
        let offset = date.days_since(start);
        let written = self
            .as_written
            .is_some_and(|(first, last)| first <= date && date <= last);
        if written && offset < 0 {
            return Some(Dated::Before);
        }
        if written && offset >= i64::from(self.days) {
            return Some(Dated::After);
        }
        self.day_of(path, date, start).map(Dated::Day)
    }

    fn day_of(&mut self, path: &str, date: Date, start: Date) -> Option<u32> {
        let offset = date.days_since(start);
        if offset < 0 || offset >= i64::from(self.days) {
            let last = start.add_days(i64::from(self.days) - 1);
            self.err(
                path,
                format!("{date} is outside the horizon {start} to {last}"),
            );
            return None;
        }
        Some(offset as u32)
    }

    pub(super) fn peaks(&mut self, raw: &RawScenario, market_ids: &[String]) -> Vec<Peak> {
        raw.peak
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let path = format!("peak[{i}]");
                let day = match self.dated(&format!("{path}.date"), &p.date) {
                    Some(Dated::Day(d)) => Some(d),
                    // Left out: it does not happen in this horizon.
                    Some(Dated::Before | Dated::After) => return None,
                    None => None,
                };
                let multiplier = self.non_negative(&format!("{path}.multiplier"), p.multiplier);
                let mut ms = Vec::new();
                for (j, id) in p.markets.iter().enumerate() {
                    match find(market_ids, id) {
                        Some(m) => ms.push(MarketId(m as u8)),
                        None => self.err(
                            &format!("{path}.markets[{j}]"),
                            format!("unknown market \"{id}\"; known: {}", market_ids.join(", ")),
                        ),
                    }
                }
                Some(Peak {
                    name: p.name.clone(),
                    day: day?,
                    markets: ms,
                    multiplier,
                })
            })
            .collect()
    }

    /// The dated changes in force order (by date, then file order); a change before a
    /// horizon an override moved applies from its first day, one after it never comes.
    pub(super) fn changes(&mut self, raw: &RawScenario) -> Vec<Change> {
        let mut names = BTreeSet::new();
        let mut changes: Vec<Change> = raw
            .change
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let path = format!("change[{i}]");
                if self.usable_name(&format!("{path}.name"), &c.name)
                    && !names.insert(c.name.as_str())
                {
                    self.err(
                        &format!("{path}.name"),
                        format!("duplicate change name \"{}\"", c.name),
                    );
                }
                if c.set.is_empty() {
                    self.err(
                        &format!("{path}.set"),
                        "a change must set at least one path",
                    );
                }
                let day = match self.dated(&format!("{path}.date"), &c.date)? {
                    Dated::Day(day) => day,
                    Dated::Before => 0,
                    Dated::After => return None,
                };
                Some(Change {
                    day,
                    index: i,
                    name: c.name.clone(),
                    description: c.description.clone(),
                })
            })
            .collect();
        changes.sort_by_key(|c| (c.day, c.index));
        changes
    }

    pub(super) fn targets(&mut self, raw: &RawScenario, market_ids: &[String]) -> Vec<Target> {
        raw.target
            .iter()
            .enumerate()
            .filter_map(|(i, t)| {
                let path = format!("target[{i}]");
                // A target outside the horizon is not an error: only `calibrate` reads
                // targets, and it notes and skips those a run cannot reach.
                let (from, to) = match (&t.date, &t.from, &t.to) {
                    (Some(d), None, None) => {
                        let d = self.date(&format!("{path}.date"), d);
                        (d, d)
                    }
                    (None, Some(f), Some(t)) => {
                        let from = self.date(&format!("{path}.from"), f);
                        let to = self.date(&format!("{path}.to"), t);
                        if let (Some(f), Some(t)) = (from, to)
                            && t < f
                        {
                            self.err(&format!("{path}.to"), format!("{t} is before from {f}"));
                        }
                        (from, to)
                    }
                    _ => {
                        self.err(
                            &path,
                            "give either `date` (one day) or both `from` and `to` (a period)",
                        );
                        (None, None)
                    }
                };
                let market = find(market_ids, &t.market);
                if market.is_none() {
                    self.err(
                        &format!("{path}.market"),
                        format!(
                            "unknown market \"{}\"; known: {}",
                            t.market,
                            market_ids.join(", ")
                        ),
                    );
                }
                let grown = t.metric.strip_prefix("growth:");
                let versus = match (grown, &t.versus_from, &t.versus_to) {
                    (Some(_), Some(f), Some(v)) => {
                        let from = self.date(&format!("{path}.versus_from"), f);
                        let to = self.date(&format!("{path}.versus_to"), v);
                        from.zip(to)
                    }
                    (Some(_), _, _) => {
                        self.err(
                            &path,
                            "a growth:METRIC target needs versus_from and versus_to (the earlier period)",
                        );
                        None
                    }
                    (None, None, None) => None,
                    (None, _, _) => {
                        self.err(
                            &path,
                            "versus_from and versus_to belong to a growth:METRIC target",
                        );
                        None
                    }
                };
                if let Some(inner) = grown
                    && (inner.starts_with("growth:")
                        || !(TARGET_METRICS.contains(&inner)
                            || inner.starts_with("share:")
                            || inner.starts_with("method_orders:")
                            || inner.starts_with("pool_share:")))
                {
                    self.err(
                        &format!("{path}.metric"),
                        format!("growth of an unknown metric \"{inner}\""),
                    );
                }
                let pool = t.metric.strip_prefix("pool_share:");
                if let Some(pool) = pool
                    && !raw.sellers.iter().any(|s| s.id == pool)
                {
                    self.err(
                        &format!("{path}.metric"),
                        format!("no seller pool \"{pool}\" for a pool share"),
                    );
                }
                // A payment method's share or its orders, and the growth of either.
                let bare = grown.unwrap_or(&t.metric);
                let method = bare
                    .strip_prefix("share:")
                    .or_else(|| bare.strip_prefix("method_orders:"));
                let known_method = |m: usize, method: &str| {
                    raw.market[m].payment.iter().any(|p| p.method == method)
                };
                match (method, market) {
                    (Some(method), Some(m)) if !known_method(m, method) => self.err(
                        &format!("{path}.metric"),
                        format!(
                            "market {} has no payment method \"{method}\"",
                            t.market
                        ),
                    ),
                    (Some(_), _) => {}
                    (None, _)
                        if TARGET_METRICS.contains(&t.metric.as_str())
                            || pool.is_some()
                            || grown.is_some() => {}
                    (None, _) => self.err(
                        &format!("{path}.metric"),
                        format!(
                            "unknown metric \"{}\"; expected one of {}, share:METHOD, method_orders:METHOD or pool_share:POOL",
                            t.metric,
                            TARGET_METRICS.join(", ")
                        ),
                    ),
                }
                if grown.is_some() {
                    if !t.value.is_finite() || t.value <= -1.0 {
                        self.err(
                            &format!("{path}.value"),
                            format!("a growth is a ratio less 1, above -1; found {}", t.value),
                        );
                    }
                } else {
                    self.non_negative(&format!("{path}.value"), t.value);
                }
                self.positive(&format!("{path}.scope"), t.scope);
                self.positive(&format!("{path}.tolerance"), t.tolerance);
                if let Some(r) = &t.record {
                    self.usable_name(&format!("{path}.record"), r);
                }
                Some(Target {
                    from: from?,
                    to: to?,
                    market: MarketId(market? as u8),
                    metric: t.metric.clone(),
                    value: t.value,
                    scope: t.scope,
                    tolerance: t.tolerance,
                    source: t.source.clone(),
                    record: t.record.clone(),
                    fit: t.fit,
                    versus,
                })
            })
            .collect()
    }

    /// The `[[fit]]` parameters: one override path or several, whether the parameter
    /// scales their written values, its bounds, and optionally the path that balances it
    /// (two shares of one mix keep their sum).
    pub(super) fn fits(&mut self, raw: &RawScenario) -> Vec<Fit> {
        raw.fit
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let path = format!("fit[{i}]");
                let paths = match (&f.path, &f.paths) {
                    (Some(one), None) => {
                        if one.trim().is_empty() {
                            self.err(&format!("{path}.path"), "expected an override path");
                        }
                        vec![one.clone()]
                    }
                    (None, Some(many)) => {
                        if many.is_empty() {
                            self.err(
                                &format!("{path}.paths"),
                                "expected at least one override path",
                            );
                        }
                        for (j, p) in many.iter().enumerate() {
                            if p.trim().is_empty() {
                                self.err(&format!("{path}.paths[{j}]"), "expected an override path");
                            } else if many[..j].contains(p) {
                                self.err(
                                    &format!("{path}.paths[{j}]"),
                                    format!("`{p}` is named twice: one parameter moves it once"),
                                );
                            }
                        }
                        many.clone()
                    }
                    _ => {
                        self.err(
                            &path,
                            "give either `path` (one value) or `paths` (several, moved by one parameter)",
                        );
                        Vec::new()
                    }
                };
                if !(f.min.is_finite() && f.max.is_finite() && f.min < f.max) {
                    self.err(
                        &path,
                        format!(
                            "expected finite bounds min < max, found {} and {}",
                            f.min, f.max
                        ),
                    );
                } else if f.scale && f.min <= 0.0 {
                    self.err(
                        &format!("{path}.min"),
                        format!(
                            "a scale multiplies the written values: its bounds must be positive, found {}",
                            f.min
                        ),
                    );
                }
                if let Some(b) = &f.balance {
                    if f.scale || paths.len() > 1 {
                        self.err(
                            &format!("{path}.balance"),
                            "a balance moves against one value: not with `paths` or `scale`",
                        );
                    } else if b.trim().is_empty() || paths.contains(b) {
                        self.err(
                            &format!("{path}.balance"),
                            "expected another override path, the value that moves the other way",
                        );
                    }
                }
                Fit {
                    paths,
                    scale: f.scale,
                    min: f.min,
                    max: f.max,
                    balance: f.balance.clone(),
                }
            })
            .collect()
    }
}
