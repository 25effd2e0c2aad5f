//! A hub: a FIFO queue in front of parallel processing lines whose number changes on
//! given dates. Arrivals must be offered in (time, order id) order.
//!
//! A capacity change at time T takes effect for parcels that start service at or after
//! T: an increase adds lines free from T; a decrease retires the lines that free up
//! first (a parcel already on a line finishes there). Under `--sample F` a hub of L
//! lines runs max(1, round(L F)) lines with service times scaled so that capacity is
//! exactly F times the full-scale capacity.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Lines and service-time scale from a time on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Regime {
    pub from_s: u32,
    pub lines: u32,
    pub service_scale: f64,
}

/// Lines actually simulated for `lines` full-scale lines at sample fraction `sample`,
/// and the factor on service times that keeps capacity proportional.
pub fn sampled_lines(lines: u32, sample: f64) -> (u32, f64) {
    if lines == 0 {
        return (0, 1.0);
    }
    let scaled = f64::from(lines) * sample;
    let simulated = (scaled.round() as u32).max(1);
    (simulated, f64::from(simulated) / scaled)
}

#[derive(Debug, Clone)]
pub struct HubQueue {
    /// When each line in service next becomes free.
    free_at: BinaryHeap<Reverse<u32>>,
    /// Future regimes, earliest first.
    pending: Vec<Regime>,
    next_regime: usize,
    service_scale: f64,
}

/// What the hub decided for one parcel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    pub start_s: u32,
    pub service_s: u32,
}

impl HubQueue {
    /// `regimes[0]` applies from time 0; later ones in increasing time.
    pub fn new(regimes: Vec<Regime>) -> HubQueue {
        let mut q = HubQueue {
            free_at: BinaryHeap::new(),
            pending: regimes,
            next_regime: 0,
            service_scale: 1.0,
        };
        q.apply_next();
        q
    }

    fn apply_next(&mut self) {
        let r = self.pending[self.next_regime];
        self.next_regime += 1;
        let current = self.free_at.len() as u32;
        if r.lines > current {
            self.free_at
                .extend((current..r.lines).map(|_| Reverse(r.from_s)));
        } else {
            for _ in r.lines..current {
                self.free_at.pop();
            }
        }
        self.service_scale = r.service_scale;
    }

    /// Queues a parcel arriving at `arrival_s` needing `base_service_s` of full-scale
    /// line time. `None` when no line will ever serve it (capacity stays at zero).
    pub fn serve(&mut self, arrival_s: u32, base_service_s: u32) -> Option<Service> {
        loop {
            let free = self.free_at.peek().map(|r| r.0);
            let start = free.map(|f| f.max(arrival_s));
            let change_due = self
                .pending
                .get(self.next_regime)
                .is_some_and(|r| start.is_none_or(|s| r.from_s <= s));
            if change_due {
                self.apply_next();
                continue;
            }
            let start = start?;
            self.free_at.pop();
            let service = (f64::from(base_service_s) * self.service_scale).round();
            let service_s = if service >= f64::from(u32::MAX) {
                u32::MAX
            } else {
                service as u32
            };
            self.free_at.push(Reverse(start.saturating_add(service_s)));
            return Some(Service {
                start_s: start,
                service_s,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The obviously correct queue: scan every line, apply regime changes when due.
    fn oracle(regimes: &[Regime], jobs: &[(u32, u32)]) -> Vec<Option<Service>> {
        let mut lines: Vec<u32> = Vec::new();
        let mut next = 0;
        let mut scale = 1.0;
        let apply = |lines: &mut Vec<u32>, next: &mut usize, scale: &mut f64| {
            let r = regimes[*next];
            *next += 1;
            while (lines.len() as u32) < r.lines {
                lines.push(r.from_s);
            }
            while lines.len() as u32 > r.lines {
                // Retire the line that frees up first.
                let i = (0..lines.len()).min_by_key(|i| (lines[*i], *i)).unwrap();
                lines.remove(i);
            }
            *scale = r.service_scale;
        };
        apply(&mut lines, &mut next, &mut scale);
        jobs.iter()
            .map(|&(arrival, need)| {
                loop {
                    let earliest = lines.iter().copied().min();
                    let start = earliest.map(|f| f.max(arrival));
                    if next < regimes.len() && start.is_none_or(|s| regimes[next].from_s <= s) {
                        apply(&mut lines, &mut next, &mut scale);
                        continue;
                    }
                    let start = start?;
                    let i = (0..lines.len())
                        .find(|i| lines[*i] == earliest.unwrap())
                        .unwrap();
                    let service_s = (f64::from(need) * scale).round() as u32;
                    lines[i] = start + service_s;
                    return Some(Service {
                        start_s: start,
                        service_s,
                    });
                }
            })
            .collect()
    }

    fn regimes() -> impl Strategy<Value = Vec<Regime>> {
        (0u32..4, prop::collection::vec((1u32..5_000, 0u32..5), 0..4)).prop_map(
            |(first, changes)| {
                let mut t = 0;
                let mut v = vec![Regime {
                    from_s: 0,
                    lines: first,
                    service_scale: 1.0,
                }];
                for (gap, lines) in changes {
                    t += gap;
                    v.push(Regime {
                        from_s: t,
                        lines,
                        service_scale: 1.0 + f64::from(lines) / 4.0,
                    });
                }
                v
            },
        )
    }

    proptest! {
        #[test]
        fn matches_the_oracle(regimes in regimes(), gaps in prop::collection::vec((0u32..300, 0u32..900), 1..400)) {
            let mut t = 0;
            let jobs: Vec<(u32, u32)> = gaps.iter().map(|(g, s)| { t += g; (t, *s) }).collect();
            let mut q = HubQueue::new(regimes.clone());
            let got: Vec<Option<Service>> = jobs.iter().map(|(a, s)| q.serve(*a, *s)).collect();
            let expected = oracle(&regimes, &jobs);
            prop_assert_eq!(&got, &expected);
            for (s, (a, _)) in got.iter().zip(&jobs) {
                if let Some(s) = s {
                    prop_assert!(s.start_s >= *a, "service never starts before arrival");
                }
            }
            let starts: Vec<u32> = got.iter().flatten().map(|s| s.start_s).collect();
            prop_assert!(starts.windows(2).all(|w| w[0] <= w[1]), "FIFO: starts in arrival order");
        }
    }

    #[test]
    fn sampling_keeps_capacity_proportional() {
        for (lines, sample) in [(10u32, 0.05), (24, 0.01), (7, 1.0), (3, 0.5)] {
            let (simulated, scale) = sampled_lines(lines, sample);
            let capacity = f64::from(simulated) / scale;
            assert!(
                (capacity - f64::from(lines) * sample).abs() < 1e-9,
                "{lines} x {sample}"
            );
        }
        assert_eq!(sampled_lines(0, 0.1), (0, 1.0));
    }
}
