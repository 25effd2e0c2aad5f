//! The designs of `tradesim sweep`, in unit coordinates: a point holds one coordinate in
//! [0, 1] per uncertain parameter, which the command maps to the parameter's value through
//! its inverse CDF. Pure and deterministic: the only randomness is a `ChaCha12Rng` seeded
//! with the study's seed, drawn from in a fixed order, so a design is the same bits on
//! every run and platform.
//!
//! Every design is refused, rather than built, past `MAX_POINTS` points or
//! `MAX_PARAMETERS` parameters, so no input reaches an allocation failure.

use rand::seq::SliceRandom;
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha12Rng;

/// One point of a design: a unit coordinate per parameter, in the parameters' order.
pub type Point = Vec<f64>;

/// Most points in any design: each point is at least one simulation run, and a million
/// runs is past any study this machine could finish.
pub const MAX_POINTS: usize = 1_000_000;

/// Most parameters in any design. Saltelli's needs two Sobol dimensions per parameter and
/// `sobol_burley` has 256; the same limit holds for every design so that a study can change
/// its design without dropping parameters.
pub const MAX_PARAMETERS: usize = (sobol_burley::NUM_DIMENSIONS / 2) as usize;

/// Most base rows of a Saltelli design: the length of `sobol_burley`'s sequence.
pub const MAX_SALTELLI_BASE_ROWS: usize = 1 << 16;

/// Why a design was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DesignError {
    #[error("a design needs at least one parameter")]
    NoParameters,
    #[error("a design needs at least one point (or trajectory)")]
    NoPoints,
    #[error("{parameters} parameters are more than the {MAX_PARAMETERS} a design may have")]
    TooManyParameters { parameters: usize },
    #[error("the design would have more than {MAX_POINTS} points")]
    TooManyPoints,
    #[error("parameter {parameter} has no levels")]
    NoLevels { parameter: usize },
    #[error("parameter {parameter}'s coordinate {value} is not in [0, 1]")]
    CoordinateOutOfRange { parameter: usize, value: f64 },
    #[error(
        "{base_rows} Saltelli base rows are more than the Sobol sequence's {MAX_SALTELLI_BASE_ROWS}"
    )]
    TooManyBaseRows { base_rows: usize },
    #[error(
        "Morris needs an even number of levels (at least 2) for its step to land on the grid, not {levels}"
    )]
    MorrisLevels { levels: u32 },
}

/// Checks what every design shares: at least one parameter and one point, and the limits.
/// `points` is `None` when counting them overflowed.
fn check_size(points: Option<usize>, parameters: usize) -> Result<(), DesignError> {
    if parameters == 0 {
        return Err(DesignError::NoParameters);
    }
    if parameters > MAX_PARAMETERS {
        return Err(DesignError::TooManyParameters { parameters });
    }
    match points {
        Some(0) => Err(DesignError::NoPoints),
        Some(points) if points <= MAX_POINTS => Ok(()),
        _ => Err(DesignError::TooManyPoints),
    }
}

/// The `n` levels of a parameter spread over its whole range, ends included: `j / (n - 1)`
/// for level `j`, and the median 0.5 for a single level. The usual form for a continuous
/// parameter in a factorial design.
pub fn level_grid(n: u32) -> Vec<f64> {
    match n {
        0 => Vec::new(),
        1 => vec![0.5],
        _ => (0..n).map(|j| f64::from(j) / f64::from(n - 1)).collect(),
    }
}

/// The `n` levels of a discrete parameter with `n` values: `(j + 0.5) / n`, the middle of
/// each value's share of [0, 1], which the inverse CDF maps back to value `j`.
pub fn level_midpoints(n: u32) -> Vec<f64> {
    (0..n)
        .map(|j| (f64::from(j) + 0.5) / f64::from(n))
        .collect()
}

/// The full factorial over `levels[i]` levels of parameter `i`, each spread by
/// `level_grid`. First parameter slowest (row-major). The tests' shorthand: `sweep`
/// builds its axes itself (a levels parameter takes its midpoints).
#[cfg(test)]
pub fn factorial(levels: &[u32]) -> Result<Vec<Point>, DesignError> {
    if let Some(parameter) = levels.iter().position(|&n| n == 0) {
        return Err(DesignError::NoLevels { parameter });
    }
    // Checked before the grids are built, so that a huge level count allocates nothing.
    let points = levels
        .iter()
        .try_fold(1usize, |product, &n| product.checked_mul(n as usize));
    check_size(points, levels.len())?;
    let axes: Vec<Vec<f64>> = levels.iter().map(|&n| level_grid(n)).collect();
    factorial_of_axes(&axes)
}

/// The full factorial over each parameter's own list of coordinates (from `level_grid`,
/// `level_midpoints` or the caller). First parameter slowest (row-major).
pub fn factorial_of_axes(axes: &[Vec<f64>]) -> Result<Vec<Point>, DesignError> {
    for (parameter, axis) in axes.iter().enumerate() {
        if axis.is_empty() {
            return Err(DesignError::NoLevels { parameter });
        }
        if let Some(&value) = axis.iter().find(|x| !(0.0..=1.0).contains(*x)) {
            return Err(DesignError::CoordinateOutOfRange { parameter, value });
        }
    }
    let count = axes
        .iter()
        .try_fold(1usize, |product, axis| product.checked_mul(axis.len()));
    check_size(count, axes.len())?;
    let count = count.unwrap_or_default();
    let mut points = Vec::with_capacity(count);
    let mut digits = vec![0usize; axes.len()];
    for _ in 0..count {
        points.push(digits.iter().zip(axes).map(|(&j, axis)| axis[j]).collect());
        // Mixed-radix increment, last parameter fastest.
        for (digit, axis) in digits.iter_mut().zip(axes).rev() {
            *digit += 1;
            if *digit < axis.len() {
                break;
            }
            *digit = 0;
        }
    }
    Ok(points)
}

/// A Latin hypercube of `n` points in `d` dimensions: in every dimension, exactly one point
/// in each stratum [k/n, (k+1)/n), uniform within it, the strata paired at random across
/// dimensions. Draws, dimension by dimension: the permutation of the strata, then one
/// uniform per point.
pub fn latin_hypercube(n: usize, d: usize, seed: u64) -> Result<Vec<Point>, DesignError> {
    check_size(Some(n), d)?;
    // n <= MAX_POINTS, so it and every stratum fit a u32 (and an f64 exactly).
    let strata_count = n as u32;
    let mut rng = ChaCha12Rng::seed_from_u64(seed);
    let mut points = vec![Vec::with_capacity(d); n];
    let mut strata: Vec<u32> = (0..strata_count).collect();
    for _ in 0..d {
        strata.shuffle(&mut rng);
        for (point, &stratum) in points.iter_mut().zip(&strata) {
            point.push(uniform_in_stratum(&mut rng, stratum, strata_count));
        }
    }
    Ok(points)
}

/// A uniform draw in [k/n, (k+1)/n). `(k + u) / n` with u < 1 can round up to the upper
/// bound itself, which belongs to the next stratum: such a draw (u within a few ulps of 1)
/// is made again.
fn uniform_in_stratum(rng: &mut ChaCha12Rng, stratum: u32, strata: u32) -> f64 {
    let upper = f64::from(stratum + 1) / f64::from(strata);
    loop {
        let x = (f64::from(stratum) + rng.random::<f64>()) / f64::from(strata);
        // Rounding is monotone, so x >= k/n always holds.
        if x < upper {
            return x;
        }
    }
}

/// Saltelli's design for Sobol indices (Saltelli et al. 2010): `n` base rows of `d + 2`
/// points each, `A_j, AB_j^(1), ..., AB_j^(d), B_j`, where `AB^(i)` is `A` with column
/// `i` taken from `B`; point `k` of base row `j` is at index `j * (d + 2) + k`. `A_j` and
/// `B_j` are the first and last `d` dimensions of point `j` of a `2d`-dimensional Sobol
/// sequence.
///
/// The sequence is `sobol_burley`'s rather than the `sobol` crate's: it is Owen-scrambled
/// with a seed, so different seeds give independent randomized quasi-Monte Carlo designs
/// (the `sobol` crate's one unscrambled sequence has a fixed error that no seed shows) with
/// no first point of all zeros; it has no dependencies and computes in integers only, so
/// its bits are the same everywhere. Its limits, 2^16 points
/// (`MAX_SALTELLI_BASE_ROWS`) and 256 dimensions (`MAX_PARAMETERS` parameters), are far past
/// a study's, and its 23-bit coordinates finer than any parameter needs. Powers of two for
/// `n` keep the Sobol points balanced.
pub fn saltelli(n: usize, d: usize, seed: u64) -> Result<Vec<Point>, DesignError> {
    check_size(d.checked_add(2).and_then(|row| n.checked_mul(row)), d)?;
    if n > MAX_SALTELLI_BASE_ROWS {
        return Err(DesignError::TooManyBaseRows { base_rows: n });
    }
    // The seed's 64 bits folded into the scramble's 32 through the same generator as the
    // other designs, so seeds that differ only in their high bits still differ.
    let scramble = ChaCha12Rng::seed_from_u64(seed).next_u32();
    let mut points = Vec::with_capacity(n * (d + 2));
    for j in 0..n as u32 {
        let sobol =
            |dimension: usize| f64::from(sobol_burley::sample(j, dimension as u32, scramble));
        let a: Point = (0..d).map(sobol).collect();
        let b: Point = (d..2 * d).map(sobol).collect();
        points.push(a.clone());
        for i in 0..d {
            let mut ab = a.clone();
            ab[i] = b[i];
            points.push(ab);
        }
        points.push(b);
    }
    Ok(points)
}

/// Morris's elementary-effects design (Morris 1991, as in Campolongo et al. 2007 and
/// SALib, without Campolongo's choice of the most spread-out among many): `r` trajectories
/// of `d + 1` points on the grid {0, 1/(p-1), ..., 1} of `p = levels` levels. Each
/// trajectory starts at a random grid point and moves one coordinate at a time, in a random
/// order, each coordinate once, by Delta = p / (2 (p - 1)), up or down at random. `p` must
/// be even so that Delta is a whole number (p / 2) of grid steps. Draws, per trajectory:
/// the base levels, the directions, the order.
pub fn morris(r: usize, d: usize, levels: u32, seed: u64) -> Result<Vec<Point>, DesignError> {
    if levels < 2 || levels % 2 != 0 {
        return Err(DesignError::MorrisLevels { levels });
    }
    check_size(d.checked_add(1).and_then(|row| r.checked_mul(row)), d)?;
    let half = levels / 2;
    let spacing = f64::from(levels - 1);
    let coordinates =
        |grid: &[u32]| -> Point { grid.iter().map(|&l| f64::from(l) / spacing).collect() };
    let mut rng = ChaCha12Rng::seed_from_u64(seed);
    let mut points = Vec::with_capacity(r * (d + 1));
    for _ in 0..r {
        // A base level in the lower half leaves room for a step of `half` levels up.
        let base: Vec<u32> = (0..d).map(|_| rng.random_range(0..half)).collect();
        let up: Vec<bool> = (0..d).map(|_| rng.random::<bool>()).collect();
        let mut order: Vec<usize> = (0..d).collect();
        order.shuffle(&mut rng);
        // A coordinate that steps down starts at the top of its step.
        let mut grid: Vec<u32> = base
            .iter()
            .zip(&up)
            .map(|(&level, &up)| if up { level } else { level + half })
            .collect();
        points.push(coordinates(&grid));
        for &i in &order {
            grid[i] = if up[i] {
                grid[i] + half
            } else {
                grid[i] - half
            };
            points.push(coordinates(&grid));
        }
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(points: &[Point]) -> Vec<Vec<u64>> {
        points
            .iter()
            .map(|p| p.iter().map(|x| x.to_bits()).collect())
            .collect()
    }

    #[test]
    fn factorial_counts_levels_row_major_with_the_first_parameter_slowest() {
        let points = factorial(&[3, 1, 2]).unwrap();
        assert_eq!(points.len(), 6);
        let expected = [
            [0.0, 0.5, 0.0],
            [0.0, 0.5, 1.0],
            [0.5, 0.5, 0.0],
            [0.5, 0.5, 1.0],
            [1.0, 0.5, 0.0],
            [1.0, 0.5, 1.0],
        ];
        for (point, want) in points.iter().zip(expected) {
            assert_eq!(point.as_slice(), want.as_slice());
        }
        let big = factorial(&[5, 4, 3, 7]).unwrap();
        assert_eq!(big.len(), 5 * 4 * 3 * 7);
        // Every combination once.
        let mut keys = bits(&big);
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), big.len());
    }

    #[test]
    fn factorial_of_axes_takes_midpoints_for_discrete_parameters() {
        assert_eq!(level_midpoints(4), vec![0.125, 0.375, 0.625, 0.875]);
        assert_eq!(level_grid(5), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        let points = factorial_of_axes(&[level_midpoints(2), level_grid(3)]).unwrap();
        let want = [
            [0.25, 0.0],
            [0.25, 0.5],
            [0.25, 1.0],
            [0.75, 0.0],
            [0.75, 0.5],
            [0.75, 1.0],
        ];
        assert_eq!(points.len(), want.len());
        for (point, want) in points.iter().zip(want) {
            assert_eq!(point.as_slice(), want.as_slice());
        }
    }

    #[test]
    fn oversized_or_empty_designs_are_refused_before_they_are_built() {
        assert_eq!(
            factorial(&[u32::MAX, u32::MAX, u32::MAX]),
            Err(DesignError::TooManyPoints)
        );
        assert_eq!(factorial(&[1001, 1000]), Err(DesignError::TooManyPoints));
        assert_eq!(factorial(&[1000, 1000]).map(|p| p.len()), Ok(MAX_POINTS));
        assert_eq!(
            factorial(&[3, 0]),
            Err(DesignError::NoLevels { parameter: 1 })
        );
        assert_eq!(factorial(&[]), Err(DesignError::NoParameters));
        assert_eq!(
            factorial_of_axes(&[vec![0.5, 1.5]]),
            Err(DesignError::CoordinateOutOfRange {
                parameter: 0,
                value: 1.5
            })
        );
        assert!(matches!(
            factorial_of_axes(&[vec![f64::NAN]]),
            Err(DesignError::CoordinateOutOfRange { .. })
        ));
        assert_eq!(latin_hypercube(0, 3, 1), Err(DesignError::NoPoints));
        assert_eq!(
            latin_hypercube(MAX_POINTS + 1, 1, 1),
            Err(DesignError::TooManyPoints)
        );
        assert_eq!(
            latin_hypercube(10, MAX_PARAMETERS + 1, 1),
            Err(DesignError::TooManyParameters {
                parameters: MAX_PARAMETERS + 1
            })
        );
        assert_eq!(saltelli(usize::MAX, 2, 1), Err(DesignError::TooManyPoints));
        assert_eq!(
            saltelli(MAX_SALTELLI_BASE_ROWS + 1, 1, 1),
            Err(DesignError::TooManyBaseRows {
                base_rows: MAX_SALTELLI_BASE_ROWS + 1
            })
        );
        assert!(saltelli(4, MAX_PARAMETERS, 1).is_ok());
        assert_eq!(
            morris(10, 3, 5, 1),
            Err(DesignError::MorrisLevels { levels: 5 })
        );
        assert_eq!(
            morris(10, 3, 0, 1),
            Err(DesignError::MorrisLevels { levels: 0 })
        );
        assert_eq!(morris(0, 3, 4, 1), Err(DesignError::NoPoints));
    }

    #[test]
    fn latin_hypercube_puts_exactly_one_point_in_each_stratum_of_each_dimension() {
        for (n, d) in [(1, 3), (7, 2), (100, 5), (1000, 3)] {
            let points = latin_hypercube(n, d, 42).unwrap();
            assert_eq!(points.len(), n);
            for i in 0..d {
                let mut column: Vec<f64> = points.iter().map(|p| p[i]).collect();
                column.sort_by(f64::total_cmp);
                // One point per stratum: the k-th smallest lies in stratum k.
                for (k, x) in column.iter().enumerate() {
                    let (lo, hi) = (k as f64 / n as f64, (k + 1) as f64 / n as f64);
                    assert!(
                        lo <= *x && *x < hi,
                        "n {n}, dim {i}: {x} not in [{lo}, {hi})"
                    );
                }
            }
        }
        // The strata are paired at random: the columns are not all in the same order.
        let points = latin_hypercube(50, 2, 42).unwrap();
        assert!(
            points
                .windows(2)
                .any(|w| (w[0][0] < w[1][0]) != (w[0][1] < w[1][1]))
        );
    }

    #[test]
    fn saltelli_lays_out_a_ab_and_b_base_row_by_base_row() {
        let (n, d) = (64, 3);
        let points = saltelli(n, d, 7).unwrap();
        assert_eq!(points.len(), n * (d + 2));
        for row in points.chunks(d + 2) {
            let (a, b) = (&row[0], &row[d + 1]);
            for i in 0..d {
                let ab = &row[1 + i];
                for k in 0..d {
                    assert_eq!(ab[k], if k == i { b[k] } else { a[k] });
                }
            }
            assert!(row.iter().flatten().all(|x| (0.0..1.0).contains(x)));
        }
        // The Sobol points stratify: with 64 base rows, each of the 8 eighths of every A and
        // B column holds exactly 8 of them.
        for column in 0..2 * d {
            let mut counts = [0; 8];
            for row in points.chunks(d + 2) {
                let x = if column < d {
                    row[0][column]
                } else {
                    row[d + 1][column - d]
                };
                counts[(x * 8.0) as usize] += 1;
            }
            assert_eq!(counts, [8; 8], "column {column}");
        }
    }

    #[test]
    fn morris_trajectories_step_once_per_coordinate_by_delta_on_the_grid() {
        let (r, d, levels) = (20, 4, 6);
        let points = morris(r, d, levels, 3).unwrap();
        assert_eq!(points.len(), r * (d + 1));
        let spacing = f64::from(levels - 1);
        let delta = f64::from(levels) / (2.0 * spacing);
        for trajectory in points.chunks(d + 1) {
            for x in trajectory.iter().flatten() {
                let level = x * spacing;
                assert!((level - level.round()).abs() < 1e-12 && (0.0..=1.0).contains(x));
            }
            let mut moved = vec![0; d];
            for pair in trajectory.windows(2) {
                let changed: Vec<usize> = (0..d).filter(|&i| pair[0][i] != pair[1][i]).collect();
                assert_eq!(changed.len(), 1);
                let i = changed[0];
                assert!(((pair[1][i] - pair[0][i]).abs() - delta).abs() < 1e-12);
                moved[i] += 1;
            }
            assert_eq!(moved, vec![1; d]);
        }
        // Both directions and several orders occur.
        let firsts: Vec<usize> = points
            .chunks(d + 1)
            .map(|t| (0..d).find(|&i| t[0][i] != t[1][i]).unwrap())
            .collect();
        assert!(firsts.iter().any(|&i| i != firsts[0]));
        let steps: Vec<f64> = points
            .chunks(d + 1)
            .flat_map(|t| {
                t.windows(2)
                    .map(|w| w[1].iter().sum::<f64>() - w[0].iter().sum::<f64>())
            })
            .collect();
        assert!(steps.iter().any(|&s| s > 0.0) && steps.iter().any(|&s| s < 0.0));
    }

    #[test]
    fn the_same_seed_gives_the_same_bits_and_another_seed_other_points() {
        type Design = fn(u64) -> Vec<Point>;
        let designs: [(&str, Design); 3] = [
            ("lhs", |seed| latin_hypercube(50, 3, seed).unwrap()),
            ("saltelli", |seed| saltelli(32, 3, seed).unwrap()),
            ("morris", |seed| morris(10, 3, 4, seed).unwrap()),
        ];
        for (name, design) in designs {
            assert_eq!(bits(&design(11)), bits(&design(11)), "{name}");
            assert_ne!(bits(&design(11)), bits(&design(12)), "{name}");
            // Seeds that differ only in their high bits differ too.
            assert_ne!(bits(&design(11)), bits(&design(11 | (1 << 40))), "{name}");
        }
    }
}
