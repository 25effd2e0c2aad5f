//! Work done one item at a time, in the order it was queued, by whichever thread gets
//! to it: a rayon job queued with the item, or a thread that cannot go on without it.
//! The event log's hash is such work: a chain that cannot be split, done beside the
//! rest of the run instead of holding it up.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

pub struct InOrder<T, S> {
    queue: Mutex<VecDeque<T>>,
    /// The state the work changes; held by the one thread at work.
    state: Mutex<S>,
}

impl<T, S> InOrder<T, S> {
    pub fn new(state: S) -> InOrder<T, S> {
        InOrder {
            queue: Mutex::new(VecDeque::new()),
            state: Mutex::new(state),
        }
    }

    /// Queues `items`, after everything queued before.
    pub fn push(&self, items: impl IntoIterator<Item = T>) {
        self.queue().extend(items);
    }

    /// Runs `work` on each queued item, in order, until none is left, waiting first
    /// for any other thread at work: every item queued before the call has been worked
    /// on when it returns.
    pub fn drain(&self, mut work: impl FnMut(&mut S, T)) {
        let mut state = self.state();
        // Each item is taken out under the queue's lock and worked on without it.
        let next = || self.queue().pop_front();
        while let Some(item) = next() {
            work(&mut state, item);
        }
    }

    /// Runs `work` on the next queued item, if any, unless another thread is at work
    /// (which then sees to what is queued). Returns true if this call held the state and
    /// items are left: the caller's to see to, with another call later (a thread that
    /// found this one at work has given up).
    pub fn work_next(&self, work: impl FnOnce(&mut S, T)) -> bool {
        let mut state = match self.state.try_lock() {
            Ok(state) => state,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return false,
        };
        let next = self.queue().pop_front();
        if let Some(item) = next {
            work(&mut state, item);
        }
        drop(state);
        !self.queue().is_empty()
    }

    /// The state, once no thread is at work on it.
    pub fn state(&self) -> MutexGuard<'_, S> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn queue(&self) -> MutexGuard<'_, VecDeque<T>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// However threads race to queue and work, every item is worked on once, in the
    /// order queued, as long as each call that leaves items is followed by another.
    #[test]
    fn items_are_worked_on_once_in_order_whoever_works() {
        fn work_job<'s>(scope: &rayon::Scope<'s>, work: &'s InOrder<u32, Vec<u32>>) {
            if work.work_next(|seen, item| seen.push(item)) {
                scope.spawn(move |scope| work_job(scope, work));
            }
        }
        let work = InOrder::new(Vec::new());
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap();
        pool.scope(|scope| {
            for i in 0..10_000u32 {
                work.push([i]);
                if i % 101 == 0 {
                    work.drain(|seen, item| seen.push(item));
                    assert!(work.queue().is_empty());
                }
                let work = &work;
                scope.spawn(move |scope| work_job(scope, work));
            }
        });
        assert!(work.queue().is_empty());
        assert_eq!(*work.state(), (0..10_000).collect::<Vec<u32>>());
    }
}
