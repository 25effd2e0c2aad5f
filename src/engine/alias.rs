//! Walker's alias method laid out for one cache miss and one 64-bit draw per sample.
//!
//! `rand_distr`'s `WeightedAliasIndex` keeps odds and aliases in two arrays and draws an
//! index and an `f64` apart: on a table of hundreds of thousands of sellers that is two
//! cache misses and three words of stream per order, and it was the largest single cost
//! of a run. Here each slot holds its threshold and alias side by side, and one `u64`
//! gives both the slot (the high part of `x * n`) and the coin (the low part).

use rand::Rng;

#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Keep this slot when the coin, as a `u32`, is below it; `u32::MAX` means always
    /// (the alias is then the slot itself, so the 2^-32 miss changes nothing).
    keep_below: u32,
    alias: u32,
}

#[derive(Debug, Clone)]
pub struct AliasTable {
    slots: Vec<Slot>,
}

impl AliasTable {
    /// A table drawing index `i` with probability `weights[i] / sum`. Weights must be
    /// finite, non-negative, with a positive sum, and fewer than 2^32.
    pub fn new(weights: &[f64]) -> AliasTable {
        let n = weights.len();
        assert!(n > 0 && u32::try_from(n).is_ok(), "1 to 2^32 - 1 weights");
        let total: f64 = weights.iter().sum();
        assert!(total > 0.0 && total.is_finite(), "a positive, finite total");
        // Vose's construction on probabilities scaled so that the mean slot holds 1.
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let mut slots: Vec<Slot> = (0..n as u32)
            .map(|i| Slot {
                keep_below: u32::MAX,
                alias: i,
            })
            .collect();
        let (mut small, mut large): (Vec<u32>, Vec<u32>) =
            (0..n as u32).partition(|&i| scaled[i as usize] < 1.0);
        while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
            small.pop();
            let p = scaled[s as usize];
            slots[s as usize] = Slot {
                keep_below: (p * 4_294_967_296.0) as u32,
                alias: l,
            };
            scaled[l as usize] -= 1.0 - p;
            if scaled[l as usize] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // What is left holds 1 up to rounding: those slots keep themselves.
        AliasTable { slots }
    }

    #[inline]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        let draw = self.start(rng);
        self.finish(draw)
    }

    /// Takes a draw's random number and asks for its slot's cache line without waiting
    /// for it: on a large table the slot is a miss to main memory, which other work
    /// done before `finish` hides.
    #[inline]
    pub fn start<R: Rng + ?Sized>(&self, rng: &mut R) -> AliasDraw {
        let product = u128::from(rng.next_u64()) * self.slots.len() as u128;
        let draw = AliasDraw {
            slot: (product >> 64) as u32,
            coin: (product >> 32) as u32,
        };
        super::prefetch(&self.slots[draw.slot as usize]);
        draw
    }

    #[inline]
    pub fn finish(&self, draw: AliasDraw) -> u32 {
        let slot = self.slots[draw.slot as usize];
        if draw.coin < slot.keep_below {
            draw.slot
        } else {
            slot.alias
        }
    }
}

/// A draw whose slot may still be on its way from memory.
#[derive(Debug, Clone, Copy)]
pub struct AliasDraw {
    slot: u32,
    coin: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Each index's frequency over many draws is within 5 standard errors of its weight.
    #[test]
    fn frequencies_follow_the_weights() {
        let mut weights: Vec<f64> = (1..=50).map(|k| f64::from(k).powf(-1.1)).collect();
        weights[7] = 0.0;
        let table = AliasTable::new(&weights);
        let total: f64 = weights.iter().sum();
        let draws = 2_000_000;
        let mut seen = vec![0u64; weights.len()];
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..draws {
            seen[table.sample(&mut rng) as usize] += 1;
        }
        assert_eq!(seen[7], 0, "a zero weight is never drawn");
        for (i, (w, n)) in weights.iter().zip(&seen).enumerate() {
            let p = w / total;
            let expected = p * f64::from(draws);
            let sd = (expected * (1.0 - p)).sqrt().max(1.0);
            assert!(
                (*n as f64 - expected).abs() < 5.0 * sd,
                "index {i}: {n} draws, expected {expected:.0}"
            );
        }
    }

    #[test]
    fn one_weight_always_draws_it() {
        let table = AliasTable::new(&[2.5]);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert!((0..1000).all(|_| table.sample(&mut rng) == 0));
    }
}
