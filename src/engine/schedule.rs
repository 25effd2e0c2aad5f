//! The schedule of later hours: each hour's parcels in buckets of fixed-size blocks,
//! on shelves that any task may file into.

use super::*;

/// Per hour, the parcels whose next event falls in it, in blocks of at most `BLOCK`,
/// taken from the schedule's pool of emptied ones. A new block is full-size, except an
/// hour's first, which grows as parcels come (many hours only ever get a few); a reused
/// one grows as needed up to `BLOCK`.
pub(super) struct Buckets<T> {
    pub(super) hours: Vec<Vec<Vec<T>>>,
}

impl<T: Copy> Buckets<T> {
    pub(super) fn new(hours: usize) -> Buckets<T> {
        Buckets {
            hours: (0..hours).map(|_| Vec::new()).collect(),
        }
    }

    pub(super) fn file(&mut self, hour: usize, item: T, spare: &Mutex<Vec<Vec<T>>>) {
        let bucket = &mut self.hours[hour];
        if bucket.last().is_none_or(|b| b.len() == BLOCK) {
            let reused = spare.lock().expect("no task panics").pop();
            bucket.push(reused.unwrap_or_else(|| {
                // Growing doubles the capacity, up to exactly `BLOCK` (a power of two).
                if bucket.is_empty() {
                    Vec::new()
                } else {
                    Vec::with_capacity(BLOCK)
                }
            }));
        }
        bucket.last_mut().expect("a block").push(item);
    }

    pub(super) fn is_empty(&self) -> bool {
        self.hours.iter().all(Vec::is_empty)
    }
}

/// Puts `blocks` into `pool` for reuse, emptied (a first block that stopped short of
/// full size too: freeing and growing one again every hour cost 8 % of a small run).
pub(super) fn recycle_blocks<T>(blocks: &mut Vec<Vec<T>>, pool: &mut Mutex<Vec<Vec<T>>>) {
    let pool = pool.get_mut().expect("no task panics");
    for mut block in blocks.drain(..) {
        block.clear();
        pool.push(block);
    }
}

/// One shelf of the schedule: filled by whichever task holds it.
pub(super) struct Shelf {
    pub(super) unpaid: Buckets<Parcel>,
    /// Paid parcels, kept compact.
    pub(super) paid: Buckets<Stored>,
    /// Parcels whose next event falls past the horizon, per market.
    pub(super) in_flight: Vec<u64>,
}

/// Most shelves a schedule has, whatever the thread count: each holds up to two partly
/// filled blocks per hour (unpaid and paid), memory that grows with the shelves, not
/// the parcels.
pub(super) const MAX_SHELVES: usize = 4;

/// Where every parcel waits for the hour of its next event. Tasks file their parcels
/// in parallel, each into a shelf it locks; a parcel's shelf and its place in an hour
/// change nothing, since each step's events are sorted and its hub arrivals ordered.
/// Emptied blocks go back to one pool per kind that every shelf draws from, so the
/// blocks in existence never outnumber those the busiest hours held at once (per-shelf
/// pools would pile up blocks in a shelf that files less than it gets back).
pub(super) struct Schedule {
    pub(super) shelves: Vec<Mutex<Shelf>>,
    pub(super) spare_unpaid: Mutex<Vec<Vec<Parcel>>>,
    pub(super) spare_paid: Mutex<Vec<Vec<Stored>>>,
    pub(super) hours: usize,
}

impl Schedule {
    pub(super) fn new(hours: usize, markets: usize, shelves: usize) -> Schedule {
        Schedule {
            shelves: (0..shelves.max(1))
                .map(|_| {
                    Mutex::new(Shelf {
                        unpaid: Buckets::new(hours),
                        paid: Buckets::new(hours),
                        in_flight: vec![0; markets],
                    })
                })
                .collect(),
            spare_unpaid: Mutex::new(Vec::new()),
            spare_paid: Mutex::new(Vec::new()),
            hours,
        }
    }

    /// A shelf no other task holds (the current thread's own when it is free).
    pub(super) fn shelf(&self) -> MutexGuard<'_, Shelf> {
        let n = self.shelves.len();
        let first = rayon::current_thread_index().unwrap_or(0) % n;
        (0..n)
            .find_map(|k| self.shelves[(first + k) % n].try_lock().ok())
            .unwrap_or_else(|| self.shelves[first].lock().expect("no task panics"))
    }

    /// Files parcels that continue in a later hour.
    pub(super) fn file(&self, parcels: &[Parcel]) {
        if parcels.is_empty() {
            return;
        }
        let mut shelf = self.shelf();
        for p in parcels {
            let slot = (p.next / HOUR_S) as usize;
            if slot < self.hours {
                if p.is_paid() {
                    shelf.paid.file(slot, p.store(), &self.spare_paid);
                } else {
                    shelf.unpaid.file(slot, *p, &self.spare_unpaid);
                }
            } else if p.stage <= parcel::Stage::Deliver {
                // Delivered parcels that wait for a payment or a return are not in flight.
                shelf.in_flight[p.market.ix()] += 1;
            }
        }
    }

    /// Takes hour `w`'s parcels out of every shelf.
    pub(super) fn take(&mut self, w: usize) -> (Vec<Vec<Parcel>>, Vec<Vec<Stored>>) {
        let mut unpaid = Vec::new();
        let mut paid = Vec::new();
        for shelf in &mut self.shelves {
            let shelf = shelf.get_mut().expect("no task panics");
            unpaid.append(&mut shelf.unpaid.hours[w]);
            paid.append(&mut shelf.paid.hours[w]);
        }
        (unpaid, paid)
    }

    /// Returns an hour's emptied blocks to the pools.
    pub(super) fn recycle(&mut self, unpaid: &mut Vec<Vec<Parcel>>, paid: &mut Vec<Vec<Stored>>) {
        recycle_blocks(unpaid, &mut self.spare_unpaid);
        recycle_blocks(paid, &mut self.spare_paid);
    }

    /// Blocks in existence: in the hours' buckets and in the pools.
    #[cfg(test)]
    pub(super) fn blocks(&mut self) -> usize {
        let filed: usize = self
            .shelves
            .iter_mut()
            .map(|s| {
                let s = s.get_mut().expect("no task panics");
                s.unpaid.hours.iter().map(Vec::len).sum::<usize>()
                    + s.paid.hours.iter().map(Vec::len).sum::<usize>()
            })
            .sum();
        filed
            + self.spare_unpaid.get_mut().expect("no task panics").len()
            + self.spare_paid.get_mut().expect("no task panics").len()
    }

    /// Parcels in flight at the horizon, per market.
    pub(super) fn in_flight(&mut self) -> Vec<u64> {
        let mut total: Vec<u64> = Vec::new();
        for shelf in &mut self.shelves {
            let shelf = shelf.get_mut().expect("no task panics");
            total.resize(shelf.in_flight.len(), 0);
            for (t, n) in total.iter_mut().zip(&shelf.in_flight) {
                *t += n;
            }
        }
        total
    }

    pub(super) fn is_empty(&mut self) -> bool {
        self.shelves.iter_mut().all(|s| {
            let s = s.get_mut().expect("no task panics");
            s.unpaid.is_empty() && s.paid.is_empty()
        })
    }
}
