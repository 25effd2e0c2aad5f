//! Validating each kind of entry: hubs, seller pools and markets (with their patterns).

use super::*;

impl Validator {
    pub(super) fn hub(&mut self, h: &RawHub) -> Hub {
        let path = format!("hub.{}", h.id);
        let lines = self.count(&format!("{path}.lines"), h.lines, 1, 1_000_000);
        let service_time = self.dist(
            &format!("{path}.service_time"),
            &h.service_time,
            Quantity::Duration,
        );
        let fee_usd = self.money(&format!("{path}.fee_usd"), h.fee_usd);
        let efinance_rate = h
            .efinance_rate
            .map(|r| self.probability(&format!("{path}.efinance_rate"), r));
        let mut changes: Vec<(u32, u32)> = Vec::new();
        // The last change before a horizon an override moved sets the lines of its
        // first day.
        let mut before = None;
        for (i, c) in h.capacity_changes.iter().enumerate() {
            let cpath = format!("{path}.capacity_changes[{i}]");
            let dated = self.dated(&format!("{cpath}.date"), &c.date);
            let lines = self.count(&format!("{cpath}.lines"), c.lines, 0, 1_000_000);
            let day = match dated {
                Some(Dated::Day(day)) => Some(day),
                Some(Dated::Before) => {
                    before = Some(lines);
                    None
                }
                Some(Dated::After) | None => None,
            };
            if let Some(day) = day {
                if changes.last().is_some_and(|(d, _)| *d >= day) {
                    self.err(
                        &format!("{cpath}.date"),
                        "capacity changes must be in increasing date order",
                    );
                }
                changes.push((day, lines));
            }
        }
        if let Some(lines) = before
            && changes.first().is_none_or(|(day, _)| *day > 0)
        {
            changes.insert(0, (0, lines));
        }
        Hub {
            id: h.id.clone(),
            name: h.name.clone(),
            lines,
            service_time,
            capacity_changes: changes,
            fee_usd,
            efinance_rate,
        }
    }

    /// Clearance and inspection at `path`; a key left out takes its value from
    /// `fallback` (the market's, for a route) or its default.
    /// A route's customs: the market's, or its own overrides (and a green lane past
    /// the market's exchange office).
    pub(super) fn route_customs(
        &mut self,
        path: &str,
        customs: Option<&RawRouteCustoms>,
        market: Option<&Market>,
    ) -> (Clearance, bool) {
        match (customs, market) {
            (Some(c), Some(m)) => {
                let cpath = format!("{path}.customs");
                if c.green_lane && m.exchange_office.is_none() {
                    self.err(
                        &format!("{cpath}.green_lane"),
                        format!(
                            "market {} has no exchange_office for the green lane to pass",
                            m.id
                        ),
                    );
                }
                let clearance = self.clearance(
                    &cpath,
                    c.inspection_rate
                        .unwrap_or(m.customs.clearance.inspection_rate),
                    c.inspection_delay.as_ref(),
                    c.clearance_time.as_ref(),
                    Some(&m.customs.clearance),
                );
                (clearance, c.green_lane)
            }
            (_, m) => (
                m.map_or_else(
                    || Clearance {
                        inspection_rate: 0.0,
                        inspection_delay: Dist::constant(0.0),
                        clearance_time: Dist::constant(0.0),
                    },
                    |m| m.customs.clearance.clone(),
                ),
                false,
            ),
        }
    }

    pub(super) fn clearance(
        &mut self,
        path: &str,
        inspection_rate: f64,
        inspection_delay: Option<&Value>,
        clearance_time: Option<&Value>,
        fallback: Option<&Clearance>,
    ) -> Clearance {
        let rate = self.probability(&format!("{path}.inspection_rate"), inspection_rate);
        let delay = match (inspection_delay, fallback) {
            (None, Some(f)) => f.inspection_delay.clone(),
            (d, _) => self.optional_dist(
                &format!("{path}.inspection_delay"),
                d,
                Quantity::Duration,
                (rate > 0.0).then_some("inspection_rate > 0"),
            ),
        };
        let time = match (clearance_time, fallback) {
            (None, Some(f)) => f.clearance_time.clone(),
            (t, _) => self.optional_dist(
                &format!("{path}.clearance_time"),
                t,
                Quantity::Duration,
                None,
            ),
        };
        Clearance {
            inspection_rate: rate,
            inspection_delay: delay,
            clearance_time: time,
        }
    }

    /// A route's line-haul schedule at `path`.
    pub(super) fn linehaul(&mut self, path: &str, l: &RawLinehaul) -> Linehaul {
        let mut departures_s = Vec::with_capacity(l.departures.len());
        if l.departures.is_empty() || l.departures.len() > MAX_DEPARTURES {
            self.err(
                &format!("{path}.departures"),
                format!(
                    "must list 1 to {MAX_DEPARTURES} departure times, found {}",
                    l.departures.len()
                ),
            );
        }
        for (i, text) in l.departures.iter().enumerate() {
            let dpath = format!("{path}.departures[{i}]");
            match time_of_day(text) {
                Some(t) if departures_s.last().is_some_and(|last| *last >= t) => self.err(
                    &dpath,
                    format!("departure times must increase through the day; \"{text}\" does not"),
                ),
                Some(t) => departures_s.push(t),
                None => self.err(
                    &dpath,
                    format!("expected a time of day such as \"14:30\", found \"{text}\""),
                ),
            }
        }
        let cutoff_hours = self.non_negative(&format!("{path}.cutoff_hours"), l.cutoff_hours);
        if cutoff_hours > 72.0 {
            self.err(
                &format!("{path}.cutoff_hours"),
                format!("must be at most 72 hours, found {cutoff_hours}"),
            );
        }
        let capacity = l
            .capacity
            .map(|c| self.count(&format!("{path}.capacity"), c, 1, 100_000_000));
        Linehaul {
            departures_s,
            cutoff_s: (cutoff_hours.min(72.0) * 3600.0).round() as u32,
            capacity,
        }
    }

    pub(super) fn pool(&mut self, s: &RawSellers, categories: &[String]) -> SellerPool {
        let path = format!("sellers.{}", s.id);
        let count = self.count(&format!("{path}.count"), s.count, 1, i64::from(u32::MAX));
        let popularity_zipf =
            self.non_negative(&format!("{path}.popularity_zipf"), s.popularity_zipf);
        let mut order_value = vec![None; categories.len()];
        for (name, value) in &s.order_value {
            let d = self.dist(
                &format!("{path}.order_value.{name}"),
                value,
                Quantity::Money,
            );
            match categories.iter().position(|c| c == name) {
                Some(c) => order_value[c] = Some(d),
                // A category no market buys is harmless but probably a typo.
                None => self.err(
                    &format!("{path}.order_value.{name}"),
                    format!(
                        "no market buys category \"{name}\"; markets' categories: {}",
                        list(categories)
                    ),
                ),
            }
        }
        let handling_time = self.dist(
            &format!("{path}.handling_time"),
            &s.handling_time,
            Quantity::Duration,
        );
        let mut tiers = Vec::new();
        for (i, t) in s.size_tiers.iter().enumerate() {
            let tpath = format!("{path}.size_tiers[{i}].name");
            if self.usable_name(&tpath, &t.name) {
                self.not_reserved(&tpath, &t.name);
                if tiers.iter().any(|(n, _): &(String, f64)| *n == t.name) {
                    self.err(&tpath, format!("duplicate size tier \"{}\"", t.name));
                }
            }
            let share = self.probability(&format!("{path}.size_tiers[{i}].share"), t.share);
            tiers.push((t.name.clone(), share));
        }
        if tiers.is_empty() {
            tiers.push(("all".to_string(), 1.0));
        } else {
            self.shares_sum_to_one(&format!("{path}.size_tiers"), tiers.iter().map(|t| t.1));
        }
        SellerPool {
            id: s.id.clone(),
            country: s.country.clone(),
            count,
            popularity_zipf,
            order_value,
            handling_time,
            size_tiers: tiers,
        }
    }

    pub(super) fn market(
        &mut self,
        m: &RawMarket,
        categories: &[String],
        pool_ids: &[String],
    ) -> Market {
        let path = format!("market.{}", m.id);
        let p = |key: &str| format!("{path}.{key}");
        let usd_rate = self.positive(&p("usd_rate"), m.usd_rate);
        let active_buyers = self.positive(&p("active_buyers"), m.active_buyers);
        let orders_per_buyer_day =
            self.positive(&p("orders_per_buyer_day"), m.orders_per_buyer_day);
        let weekly: [f64; 7] = self.pattern(&p("weekly"), m.weekly.as_deref(), false);
        let monthly: [f64; 12] = self.pattern(&p("monthly"), m.monthly.as_deref(), false);
        let growth = m.growth;
        if !(-0.9..=10.0).contains(&growth) {
            self.err(
                &p("growth"),
                format!("expected a yearly growth rate from -0.9 to 10, found {growth}"),
            );
        }
        let intraday: [f64; 24] = self.pattern(&p("intraday"), m.intraday.as_deref(), true);

        let mut category_weights = vec![0.0; categories.len()];
        for (name, share) in &m.categories {
            self.usable_name(&format!("{path}.categories.{name}"), name);
            let share = self.probability(&format!("{path}.categories.{name}"), *share);
            if let Some(c) = categories.iter().position(|c| c == name) {
                category_weights[c] = share;
            }
        }
        if m.categories.is_empty() {
            self.err(&p("categories"), "must list at least one category");
        } else {
            self.shares_sum_to_one(&p("categories"), m.categories.values().copied());
        }

        let mut methods = BTreeSet::new();
        let payment: Vec<PaymentMethod> = m
            .payment
            .iter()
            .enumerate()
            .map(|(i, pm)| {
                let mpath = format!("{path}.payment[{i}]");
                self.usable_name(&format!("{mpath}.method"), &pm.method);
                if !methods.insert(pm.method.as_str()) {
                    self.err(
                        &format!("{mpath}.method"),
                        format!("duplicate payment method \"{}\"", pm.method),
                    );
                }
                let at_delivery = match pm.collect.as_deref() {
                    None | Some("order") => false,
                    Some("delivery") => true,
                    Some(other) => {
                        self.err(
                            &format!("{mpath}.collect"),
                            format!("expected \"order\" or \"delivery\", found \"{other}\""),
                        );
                        false
                    }
                };
                let refusal = self.probability(&format!("{mpath}.refusal"), pm.refusal);
                if refusal > 0.0 && !at_delivery {
                    self.err(
                        &format!("{mpath}.refusal"),
                        "only a method collected at delivery (collect = \"delivery\") can be refused at the door",
                    );
                }
                PaymentMethod {
                    method: pm.method.clone(),
                    share: self.probability(&format!("{mpath}.share"), pm.share),
                    success: self.probability(&format!("{mpath}.success"), pm.success),
                    abandon: self.probability(&format!("{mpath}.abandon"), pm.abandon),
                    fee_rate: self.probability(&format!("{mpath}.fee_rate"), pm.fee_rate),
                    fee_usd: self.money(&format!("{mpath}.fee_usd"), pm.fee_usd),
                    at_delivery,
                    refusal,
                }
            })
            .collect();
        if payment.is_empty() {
            self.err(&p("payment"), "must list at least one payment method");
        } else {
            self.shares_sum_to_one(&p("payment"), payment.iter().map(|x| x.share));
        }
        let max_payment_attempts = self.count(
            &p("max_payment_attempts"),
            m.max_payment_attempts,
            1,
            MAX_PAYMENT_ATTEMPTS,
        ) as u8;
        let payment_retry = self.optional_dist(
            &p("payment_retry"),
            m.payment_retry.as_ref(),
            Quantity::Duration,
            (max_payment_attempts > 1).then_some("max_payment_attempts > 1"),
        );

        let commission_rate = self.probability(&p("commission_rate"), m.commission_rate);
        let fx_spread = self.probability(&p("fx_spread"), m.fx_spread);
        let sp = |key: &str| format!("{path}.settlement.{key}");
        let st = &m.settlement;
        let settlement = Settlement {
            confirmation: self.optional_dist(
                &sp("confirmation"),
                st.confirmation.as_ref(),
                Quantity::Duration,
                None,
            ),
            auto_confirm_s: st.auto_confirm_days.map(|d| {
                let days = self.non_negative(&sp("auto_confirm_days"), d);
                (days.min(f64::from(MAX_DAYS)) * f64::from(DAY_S)).round() as u32
            }),
            cod_remittance: self.optional_dist(
                &sp("cod_remittance"),
                st.cod_remittance.as_ref(),
                Quantity::Duration,
                None,
            ),
        };

        let c = &m.customs;
        let cp = |key: &str| format!("{path}.customs.{key}");
        let duty_base = match c.duty_base.as_deref() {
            None | Some("full") => DutyBase::Full,
            Some("excess") => DutyBase::Excess,
            Some(other) => {
                self.err(
                    &cp("duty_base"),
                    format!("expected \"full\" or \"excess\", found \"{other}\""),
                );
                DutyBase::Full
            }
        };
        let customs = Customs {
            de_minimis_usd: self.non_negative(&cp("de_minimis_usd"), c.de_minimis_usd),
            duty_rate: self.non_negative(&cp("duty_rate"), c.duty_rate),
            vat_rate: self.non_negative(&cp("vat_rate"), c.vat_rate),
            duty_base,
            clearance: self.clearance(
                &format!("{path}.customs"),
                c.inspection_rate,
                c.inspection_delay.as_ref(),
                c.clearance_time.as_ref(),
                None,
            ),
        };
        let exchange_office = m.exchange_office.as_ref().map(|o| {
            let op = |key: &str| format!("{path}.exchange_office.{key}");
            let lines = self.count(&op("lines"), o.lines, 1, 1_000_000);
            let rate = o.parcels_per_line_hour;
            if !(rate.is_finite() && (1.0..=3600.0).contains(&rate)) {
                self.err(
                    &op("parcels_per_line_hour"),
                    format!("must be between 1 and 3600 (a parcel a second), found {rate}"),
                );
            }
            ExchangeOffice {
                lines,
                service_s: 3600.0 / rate.clamp(1.0, 3600.0),
            }
        });

        let last_mile = self.dist(&p("last_mile"), &m.last_mile, Quantity::Duration);
        let return_rate = self.probability(&p("return_rate"), m.return_rate);
        let return_time = self.optional_dist(
            &p("return_time"),
            m.return_time.as_ref(),
            Quantity::Duration,
            (return_rate > 0.0).then_some("return_rate > 0"),
        );
        let elasticities = Elasticities {
            landed_cost: m.elasticities.landed_cost,
            delivery_time: m.elasticities.delivery_time,
            outside_share: m.elasticities.outside_share,
        };
        let o = elasticities.outside_share;
        if !(o > 0.0 && o <= 1.0) {
            self.err(
                &format!("{path}.elasticities.outside_share"),
                format!("expected a share above 0 and at most 1, found {o}"),
            );
        }
        for (key, e) in [
            ("landed_cost", elasticities.landed_cost),
            ("delivery_time", elasticities.delivery_time),
        ] {
            if !e.is_finite() || e.abs() > 20.0 {
                self.err(
                    &format!("{path}.elasticities.{key}"),
                    format!("expected a number between -20 and 20, found {e}"),
                );
            }
        }

        let mut sources = vec![0.0; pool_ids.len()];
        for (id, share) in &m.sources {
            let spath = format!("{path}.sources.{id}");
            let share = self.probability(&spath, *share);
            match pool_ids.iter().position(|x| x == id) {
                Some(i) => sources[i] = share,
                None => self.err(
                    &spath,
                    format!("unknown seller pool \"{id}\"; known: {}", list(pool_ids)),
                ),
            }
        }
        if m.sources.is_empty() {
            self.err(&p("sources"), "must name at least one seller pool");
        } else {
            self.shares_sum_to_one(&p("sources"), m.sources.values().copied());
        }

        Market {
            id: m.id.clone(),
            name: m.name.clone(),
            currency: m.currency.clone(),
            usd_rate,
            active_buyers,
            orders_per_buyer_day,
            weekly,
            monthly,
            growth,
            intraday,
            category_weights,
            payment,
            max_payment_attempts,
            payment_retry,
            commission_rate,
            fx_spread,
            settlement,
            customs,
            last_mile,
            return_rate,
            return_time,
            exchange_office,
            elasticities,
            sources,
        }
    }

    /// A fixed-length list of non-negative weights (default all 1); normalised to sum 1 if asked.
    pub(super) fn pattern<const N: usize>(
        &mut self,
        path: &str,
        values: Option<&[f64]>,
        normalise: bool,
    ) -> [f64; N] {
        let mut out = [1.0; N];
        if let Some(values) = values {
            if values.len() != N {
                self.err(
                    path,
                    format!("expected {N} numbers, found {}", values.len()),
                );
            } else if values.iter().any(|v| !v.is_finite() || *v < 0.0)
                || values.iter().sum::<f64>() <= 0.0
            {
                self.err(path, "expected non-negative numbers with a positive sum");
            } else {
                out.copy_from_slice(values);
            }
        }
        if normalise {
            let sum: f64 = out.iter().sum();
            out.iter_mut().for_each(|v| *v /= sum);
        }
        out
    }
}

/// Most departures a line-haul schedule may list in a day.
const MAX_DEPARTURES: usize = 96;

/// Seconds after midnight of "HH:MM".
fn time_of_day(text: &str) -> Option<u32> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 3600 + m * 60)
}
