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
            self.free_at.extend((current..r.lines).map(|_| Reverse(r.from_s)));
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
            let service_s = if service >= f64::from(u32::MAX) { u32::MAX } else { service as u32 };
            self.free_at.push(Reverse(start.saturating_add(service_s)));
            return Some(Service { start_s: start, service_s });
        }
    }
}
