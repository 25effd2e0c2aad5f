//! Random streams: every work unit and every order draws from its own ChaCha8 stream,
//! derived from (seed, replication, identity) and never from scheduling or the clock.
//!
//! The key is SHA-256 of the seed and replication; the 64-bit stream number names the
//! unit (purpose, market, day, hour). Inside an hour's `Orders` stream, order `i` owns
//! the `ORDER_SLOT` words from word `i * ORDER_SLOT`; an order that needs more goes on
//! at word `i * OVERFLOW_WORDS` of the hour's `OrderOverflow` stream. So an order's
//! draws do not depend on how many orders came before it or how many words they used
//! (common random numbers survive volume changes between variants), and consecutive
//! orders share the 4-block refills of one generator instead of paying one each.

use rand::SeedableRng;
use rand::TryRng;
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};
use std::convert::Infallible;

/// Words of the `Orders` stream each order owns. An order of the shipped scenarios
/// uses 27 to 31 (more after a rejection sampler's extra round: 6 to 14 orders in
/// 1,000 overflow), and two orders share each 64-word refill.
pub const ORDER_SLOT: u64 = 32;
/// Words of the `OrderOverflow` stream reserved for one order: far more than any
/// order needs, so the reserves never overlap.
pub const OVERFLOW_WORDS: u64 = 1 << 16;
/// Words a ChaCha8 refill makes (4 blocks of 16).
const WINDOW: u64 = 64;

#[derive(Debug, Clone, Copy)]
#[repr(u8)]
pub enum Purpose {
    /// The number of orders in an hour.
    OrderCount = 1,
    /// The orders of an hour, one slot each.
    Orders = 2,
    /// The words of an hour's orders that did not fit in their slots.
    OrderOverflow = 3,
    /// Under `--sample`, the number of full-scale orders bound for hubs beyond the
    /// sample in an hour (`Parcel::shadow`), and their draws.
    ShadowCount = 4,
    ShadowOrders = 5,
    ShadowOverflow = 6,
    /// The uncertain parameters' coordinates of a replication (`--uncertain`).
    Uncertain = 7,
}

/// The generator for (seed, replication), positioned nowhere in particular: callers
/// always set a stream and a word position before drawing.
pub fn base_rng(seed: u64, replication: u32) -> ChaCha8Rng {
    let mut h = Sha256::new();
    h.update(b"tradesim/streams/v1");
    h.update(seed.to_le_bytes());
    h.update(replication.to_le_bytes());
    ChaCha8Rng::from_seed(h.finalize().into())
}

/// The stream number of a unit of work.
pub fn stream_id(purpose: Purpose, market: u8, day: u32, hour: u32) -> u64 {
    (purpose as u64) << 56 | u64::from(market) << 48 | u64::from(day) << 16 | u64::from(hour)
}

/// The coordinates in [0, 1) of `params` uncertain parameters for replication
/// `replication` under `--uncertain`: parameter i reads word i of its own stream, so a
/// parameter's draw does not depend on how many others the scenario declares.
pub fn uncertain_coords(seed: u64, replication: u32, params: usize) -> Vec<f64> {
    use rand::Rng;
    let mut rng = base_rng(seed, replication);
    seek_unit(&mut rng, stream_id(Purpose::Uncertain, 0, 0, 0));
    (0..params)
        .map(|_| (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64))
        .collect()
}

/// Positions `rng` at the start of `unit`'s stream.
pub fn seek_unit(rng: &mut ChaCha8Rng, stream: u64) {
    rng.set_stream(stream);
    rng.set_word_pos(0);
}

/// The draws of one hour's orders: after `begin(i)`, the words of order `i`'s slot,
/// then of its overflow reserve. Orders begun in increasing order read the `Orders`
/// stream front to back, one refill per `WINDOW` words, with no seek.
pub struct OrderRng {
    orders: ChaCha8Rng,
    overflow: ChaCha8Rng,
    /// Words `[window_start, window_start + WINDOW)` of the `Orders` stream; `orders`
    /// stands at the word after them.
    window: [u8; 4 * WINDOW as usize],
    window_start: u64,
    /// The next word to read, and the end of the current order's slot.
    pos: u64,
    slot_end: u64,
    index: u64,
    overflowing: bool,
}

impl OrderRng {
    /// The orders of (`market`, `day`, `hour`), none begun yet.
    pub fn new(base: &ChaCha8Rng, market: u8, day: u32, hour: u32) -> OrderRng {
        Self::of(
            (Purpose::Orders, Purpose::OrderOverflow),
            base,
            market,
            day,
            hour,
        )
    }

    /// The draws of an hour's shadow orders (`Parcel::shadow`).
    pub fn shadow(base: &ChaCha8Rng, market: u8, day: u32, hour: u32) -> OrderRng {
        Self::of(
            (Purpose::ShadowOrders, Purpose::ShadowOverflow),
            base,
            market,
            day,
            hour,
        )
    }

    fn of(
        (slots, reserve): (Purpose, Purpose),
        base: &ChaCha8Rng,
        market: u8,
        day: u32,
        hour: u32,
    ) -> OrderRng {
        let mut orders = base.clone();
        seek_unit(&mut orders, stream_id(slots, market, day, hour));
        let mut overflow = base.clone();
        seek_unit(&mut overflow, stream_id(reserve, market, day, hour));
        OrderRng {
            orders,
            overflow,
            window: [0; 4 * WINDOW as usize],
            // No window yet: any order's slot lies past this one.
            window_start: u64::MAX - WINDOW,
            pos: 0,
            slot_end: 0,
            index: 0,
            overflowing: false,
        }
    }

    /// Starts order `index`: the next draws are its own.
    #[inline]
    pub fn begin(&mut self, index: u64) {
        self.index = index;
        self.pos = index * ORDER_SLOT;
        self.slot_end = self.pos + ORDER_SLOT;
        self.overflowing = false;
        let next_window = self.window_start.wrapping_add(WINDOW);
        if self.pos >= next_window || self.pos < self.window_start {
            let start = self.pos - self.pos % WINDOW;
            if start != next_window {
                self.orders.set_word_pos(u128::from(start));
            }
            self.refill(start);
        }
    }

    /// Reads words `[start, start + WINDOW)`; `orders` already stands at `start`.
    #[cold]
    #[inline(never)]
    fn refill(&mut self, start: u64) {
        rand::Rng::fill_bytes(&mut self.orders, &mut self.window);
        self.window_start = start;
    }

    #[inline]
    fn word_at(&self, offset: u64) -> u32 {
        let at = 4 * offset as usize;
        u32::from_le_bytes(self.window[at..at + 4].try_into().expect("4 bytes"))
    }

    /// The next word past the fast path: across a refill, or from the overflow reserve.
    #[cold]
    #[inline(never)]
    fn next_word_slow(&mut self) -> u32 {
        if self.pos >= self.slot_end {
            if !self.overflowing {
                self.overflowing = true;
                self.overflow
                    .set_word_pos(u128::from(self.index * OVERFLOW_WORDS));
            }
            return rand::Rng::next_u32(&mut self.overflow);
        }
        if self.pos >= self.window_start + WINDOW {
            self.refill(self.window_start + WINDOW);
        }
        let word = self.word_at(self.pos - self.window_start);
        self.pos += 1;
        word
    }
}

impl TryRng for OrderRng {
    type Error = Infallible;

    #[inline]
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let offset = self.pos.wrapping_sub(self.window_start);
        if offset < WINDOW && self.pos < self.slot_end {
            self.pos += 1;
            return Ok(self.word_at(offset));
        }
        Ok(self.next_word_slow())
    }

    /// Two words, the first in the low half (as `rand_core` builds a `u64` from `u32`s).
    #[inline]
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let offset = self.pos.wrapping_sub(self.window_start);
        if offset + 2 <= WINDOW && self.pos + 2 <= self.slot_end {
            self.pos += 2;
            let at = 4 * offset as usize;
            return Ok(u64::from_le_bytes(
                self.window[at..at + 8].try_into().expect("8 bytes"),
            ));
        }
        let low = self.try_next_u32()?;
        let high = self.try_next_u32()?;
        Ok(u64::from(high) << 32 | u64::from(low))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(4) {
            let word = self.try_next_u32()?.to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(())
    }
}

/// A uniform draw in (0, 1) from one word: for picks and yes/no decisions, where 2^-32
/// resolution is plenty and a second word would only cost stream.
#[inline]
pub fn unit_from_word<R: rand::Rng + ?Sized>(rng: &mut R) -> f64 {
    (f64::from(rng.next_u32()) + 0.5) * (1.0 / 4_294_967_296.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    fn hour(seed: u64, replication: u32) -> OrderRng {
        OrderRng::new(&base_rng(seed, replication), 0, 3, 10)
    }

    /// The first `n` words of order `index`.
    fn words(rng: &mut OrderRng, index: u64, n: usize) -> Vec<u32> {
        rng.begin(index);
        (0..n).map(|_| rng.next_u32()).collect()
    }

    #[test]
    fn orders_draw_the_same_words_whatever_came_before() {
        let alone = words(&mut hour(7, 0), 5, 100);
        for used in [0, 1, 31, 32, 33, 64, 200] {
            let mut rng = hour(7, 0);
            for i in 0..5 {
                words(&mut rng, i, used);
            }
            assert_eq!(
                words(&mut rng, 5, 100),
                alone,
                "earlier orders used {used} words"
            );
        }
        assert_ne!(words(&mut hour(7, 1), 5, 100), alone);
        assert_ne!(words(&mut hour(7, 0), 6, 100), alone);
    }

    #[test]
    fn slots_are_the_orders_stream_and_overflow_its_own() {
        let base = base_rng(7, 0);
        let mut orders = base.clone();
        seek_unit(&mut orders, stream_id(Purpose::Orders, 0, 3, 10));
        orders.set_word_pos(u128::from(9 * ORDER_SLOT));
        let mut overflow = base.clone();
        seek_unit(&mut overflow, stream_id(Purpose::OrderOverflow, 0, 3, 10));
        overflow.set_word_pos(u128::from(9 * OVERFLOW_WORDS));
        let expected: Vec<u32> = (0..ORDER_SLOT)
            .map(|_| orders.next_u32())
            .chain((0..30).map(|_| overflow.next_u32()))
            .collect();
        let mut rng = hour(7, 0);
        words(&mut rng, 8, 3);
        assert_eq!(words(&mut rng, 9, expected.len()), expected);
    }

    #[test]
    fn u64_draws_are_two_words_low_first_at_any_offset() {
        for skip in 0..4 {
            let mut by_words = hour(11, 0);
            let mut by_u64 = hour(11, 0);
            for index in [0, 1, 2, 7] {
                by_words.begin(index);
                by_u64.begin(index);
                for _ in 0..skip {
                    assert_eq!(by_words.next_u32(), by_u64.next_u32());
                }
                for _ in 0..30 {
                    let low = u64::from(by_words.next_u32());
                    let high = u64::from(by_words.next_u32());
                    assert_eq!(by_u64.next_u64(), high << 32 | low);
                }
            }
        }
    }

    #[test]
    fn word_uniforms_stay_inside_the_open_unit_interval() {
        struct Fixed(u32);
        impl TryRng for Fixed {
            type Error = Infallible;
            fn try_next_u32(&mut self) -> Result<u32, Infallible> {
                Ok(self.0)
            }
            fn try_next_u64(&mut self) -> Result<u64, Infallible> {
                Ok(u64::from(self.0))
            }
            fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), Infallible> {
                Ok(())
            }
        }
        let low = unit_from_word(&mut Fixed(0));
        let high = unit_from_word(&mut Fixed(u32::MAX));
        assert!(low > 0.0 && low < 1e-9);
        assert!(high < 1.0 && high > 1.0 - 1e-9);
    }
}
