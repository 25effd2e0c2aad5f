//! The sensitivity estimators of `tradesim sweep`: Sobol first-order and total indices over
//! a Saltelli design, and Morris's elementary effects over Morris trajectories. Pure
//! functions of one metric's outputs, one per point of the design, in its order.
//!
//! An index that cannot be estimated is `None`, never NaN: a metric that never moves (zero
//! variance, so no share of it to explain) or an output that is not a finite number (a
//! run that produced no value).

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha12Rng;

/// A parameter's Sobol indices for one metric.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SobolIndex {
    /// First-order index: the share of the metric's variance the parameter explains alone.
    pub first: Option<f64>,
    /// 95 % percentile bootstrap interval of `first`: `None` without resamples, or when a
    /// resample's index was undefined (a resample whose outputs never move).
    pub first_ci95: Option<(f64, f64)>,
    /// Total index: the share the parameter explains alone and through interactions.
    pub total: Option<f64>,
    /// 95 % percentile bootstrap interval of `total`, as `first_ci95`.
    pub total_ci95: Option<(f64, f64)>,
}

/// A parameter's Morris statistics for one metric, over its elementary effects
/// `(y(x') - y(x)) / (x'_i - x_i)` in unit coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MorrisIndex {
    /// The mean effect; effects of both signs cancel in it.
    pub mu: Option<f64>,
    /// The mean absolute effect: how much the parameter matters.
    pub mu_star: Option<f64>,
    /// The effects' sample standard deviation (n - 1; needs two effects): large when the
    /// effect depends on where it is taken, through interactions or nonlinearity.
    pub sigma: Option<f64>,
    /// Elementary effects found for the parameter.
    pub effects: usize,
}

/// Outputs or points that do not fit the design they claim to come from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("sensitivity needs at least one parameter")]
    NoParameters,
    #[error("{outputs} outputs do not fill whole Saltelli base rows of {row} points")]
    SaltelliRows { outputs: usize, row: usize },
    #[error("{points} points but {outputs} outputs")]
    Lengths { points: usize, outputs: usize },
    #[error("{points} points do not fill whole Morris trajectories of {trajectory} points")]
    Trajectories { points: usize, trajectory: usize },
    #[error("point {point} has {coordinates} coordinates, not {parameters}")]
    PointWidth {
        point: usize,
        coordinates: usize,
        parameters: usize,
    },
    #[error("points {point} and {} differ in {changed} coordinates, not one", point + 1)]
    NotOneStep { point: usize, changed: usize },
}

/// The Sobol indices of each of `d` parameters from `y`, one output per point of
/// `design::saltelli(n, d, _)` in its order (`A_j, AB_j^(1..d), B_j` for each base row j).
///
/// First order, Saltelli et al. (2010): `mean(f(B) (f(AB_i) - f(A))) / V`; total, Jansen
/// (1999): `mean((f(A) - f(AB_i))^2) / 2 / V`; V the variance (population) of all A and B
/// outputs. The first-order estimator is applied to the outputs less their mean: the
/// indices do not change under a shift, but the estimator's error grows with the mean's
/// square, and a metric such as an order count has a mean far larger than its spread.
///
/// The intervals are percentile bootstrap intervals over `bootstrap` resamples of the base
/// rows (drawn with replacement from a `ChaCha12Rng` seeded with `seed`); 0 resamples
/// give none.
pub fn sobol_indices(
    y: &[f64],
    d: usize,
    bootstrap: u32,
    seed: u64,
) -> Result<Vec<SobolIndex>, LayoutError> {
    if d == 0 {
        return Err(LayoutError::NoParameters);
    }
    let row = d.saturating_add(2);
    if y.is_empty() || y.len() % row != 0 {
        return Err(LayoutError::SaltelliRows {
            outputs: y.len(),
            row,
        });
    }
    let base_rows = y.len() / row;
    let undefined = vec![SobolIndex::default(); d];
    if y.iter().any(|v| !v.is_finite()) {
        return Ok(undefined);
    }
    let every_row: Vec<usize> = (0..base_rows).collect();
    let Some(estimates) = estimate(y, d, &every_row) else {
        return Ok(undefined);
    };
    let mut indices: Vec<SobolIndex> = estimates
        .iter()
        .map(|&(first, total)| SobolIndex {
            first: first.is_finite().then_some(first),
            total: total.is_finite().then_some(total),
            ..SobolIndex::default()
        })
        .collect();
    if bootstrap == 0 {
        return Ok(indices);
    }
    let mut rng = ChaCha12Rng::seed_from_u64(seed);
    let mut resample = vec![0usize; base_rows];
    let mut firsts = vec![Vec::with_capacity(bootstrap as usize); d];
    let mut totals = vec![Vec::with_capacity(bootstrap as usize); d];
    for _ in 0..bootstrap {
        for j in resample.iter_mut() {
            *j = rng.random_range(0..base_rows);
        }
        let Some(estimates) = estimate(y, d, &resample) else {
            // No interval rather than one from the resamples that happened to move.
            return Ok(indices);
        };
        for (i, (first, total)) in estimates.into_iter().enumerate() {
            firsts[i].push(first);
            totals[i].push(total);
        }
    }
    for (index, (firsts, totals)) in indices.iter_mut().zip(firsts.into_iter().zip(totals)) {
        index.first_ci95 = index.first.and(percentile_interval(firsts));
        index.total_ci95 = index.total.and(percentile_interval(totals));
    }
    Ok(indices)
}

/// (first, total) for each parameter over the given base rows (repeats allowed), or `None`
/// when their A and B outputs have no variance or an infinite one.
fn estimate(y: &[f64], d: usize, rows: &[usize]) -> Option<Vec<(f64, f64)>> {
    let row = d + 2;
    let a = |j: usize| y[j * row];
    let b = |j: usize| y[j * row + d + 1];
    let ab = |j: usize, i: usize| y[j * row + 1 + i];
    // Checked outright: the mean of equal values can round off them and leave a variance of
    // a few ulps, which would divide noise by noise.
    let some_output = a(*rows.first()?);
    if rows
        .iter()
        .all(|&j| a(j) == some_output && b(j) == some_output)
    {
        return None;
    }
    let count = 2.0 * rows.len() as f64;
    let mean = rows.iter().map(|&j| a(j) + b(j)).sum::<f64>() / count;
    let variance = rows
        .iter()
        .map(|&j| (a(j) - mean).powi(2) + (b(j) - mean).powi(2))
        .sum::<f64>()
        / count;
    if !(variance.is_finite() && variance > 0.0) {
        return None;
    }
    let n = rows.len() as f64;
    let estimates = (0..d)
        .map(|i| {
            let (mut first, mut total) = (0.0, 0.0);
            for &j in rows {
                let step = ab(j, i) - a(j);
                first += (b(j) - mean) * step;
                total += step * step;
            }
            (first / n / variance, total / n / (2.0 * variance))
        })
        .collect();
    Some(estimates)
}

/// The 2.5 % and 97.5 % quantiles (linear between order statistics), or `None` when a
/// value is not finite.
fn percentile_interval(mut values: Vec<f64>) -> Option<(f64, f64)> {
    if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some((quantile(&values, 0.025), quantile(&values, 0.975)))
}

fn quantile(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let below = h.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    sorted[below] + (h - below as f64) * (sorted[above] - sorted[below])
}

/// The Morris statistics of each of `d` parameters from trajectories of `d + 1` points
/// (`points`, with `y` their outputs), as `design::morris` lays them out. Each step's
/// parameter and length are read from the points themselves (the one coordinate that
/// differs), so the estimator holds for any trajectories that move one coordinate per
/// step, whatever their order, directions or step lengths. A parameter with an output
/// that is not finite among its effects has undefined statistics.
pub fn morris_indices(
    points: &[Vec<f64>],
    y: &[f64],
    d: usize,
) -> Result<Vec<MorrisIndex>, LayoutError> {
    if d == 0 {
        return Err(LayoutError::NoParameters);
    }
    if points.len() != y.len() {
        return Err(LayoutError::Lengths {
            points: points.len(),
            outputs: y.len(),
        });
    }
    let trajectory = d.saturating_add(1);
    if points.is_empty() || points.len() % trajectory != 0 {
        return Err(LayoutError::Trajectories {
            points: points.len(),
            trajectory,
        });
    }
    if let Some((point, p)) = points.iter().enumerate().find(|(_, p)| p.len() != d) {
        return Err(LayoutError::PointWidth {
            point,
            coordinates: p.len(),
            parameters: d,
        });
    }
    let mut effects = vec![Vec::new(); d];
    for (start, (path, outputs)) in points
        .chunks(trajectory)
        .zip(y.chunks(trajectory))
        .enumerate()
        .map(|(t, chunks)| (t * trajectory, chunks))
    {
        for step in 0..d {
            let (from, to) = (&path[step], &path[step + 1]);
            let changed: Vec<usize> = (0..d).filter(|&i| from[i] != to[i]).collect();
            let &[i] = changed.as_slice() else {
                return Err(LayoutError::NotOneStep {
                    point: start + step,
                    changed: changed.len(),
                });
            };
            effects[i].push((outputs[step + 1] - outputs[step]) / (to[i] - from[i]));
        }
    }
    Ok(effects.iter().map(|e| morris_statistics(e)).collect())
}

fn morris_statistics(effects: &[f64]) -> MorrisIndex {
    let count = effects.len();
    if count == 0 || effects.iter().any(|e| !e.is_finite()) {
        return MorrisIndex {
            mu: None,
            mu_star: None,
            sigma: None,
            effects: count,
        };
    }
    let n = count as f64;
    let mu = effects.iter().sum::<f64>() / n;
    let mu_star = effects.iter().map(|e| e.abs()).sum::<f64>() / n;
    let sigma = (count >= 2)
        .then(|| (effects.iter().map(|e| (e - mu).powi(2)).sum::<f64>() / (n - 1.0)).sqrt());
    let finite = |x: f64| x.is_finite().then_some(x);
    MorrisIndex {
        mu: finite(mu),
        mu_star: finite(mu_star),
        sigma: sigma.and_then(finite),
        effects: count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::sweep::design;
    use std::f64::consts::PI;

    /// The Ishigami function (a = 7, b = 0.1) of three inputs uniform on [-pi, pi], each
    /// mapped from its unit coordinate by the inverse CDF.
    fn ishigami(u: &[f64]) -> f64 {
        let x: Vec<f64> = u.iter().map(|u| -PI + 2.0 * PI * u).collect();
        x[0].sin() + 7.0 * x[1].sin().powi(2) + 0.1 * x[2].powi(4) * x[0].sin()
    }

    /// Its analytic (first, total) indices (Ishigami and Homma 1990; Sobol' and Levitan 1999).
    fn ishigami_indices() -> [(f64, f64); 3] {
        let (a, b) = (7.0_f64, 0.1_f64);
        let v1 = 0.5 * (1.0 + b * PI.powi(4) / 5.0).powi(2);
        let v2 = a * a / 8.0;
        let v13 = b * b * PI.powi(8) * 8.0 / 225.0;
        let v = v1 + v2 + v13;
        [(v1 / v, (v1 + v13) / v), (v2 / v, v2 / v), (0.0, v13 / v)]
    }

    fn outputs(points: &[Vec<f64>], f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
        points.iter().map(|p| f(p)).collect()
    }

    fn contains((lo, hi): (f64, f64), x: f64) -> bool {
        lo <= x && x <= hi
    }

    #[test]
    fn the_analytic_ishigami_indices_are_the_published_ones() {
        let published = [(0.3139, 0.5576), (0.4424, 0.4424), (0.0, 0.2437)];
        for ((first, total), (want_first, want_total)) in
            ishigami_indices().into_iter().zip(published)
        {
            assert!((first - want_first).abs() < 1e-4 && (total - want_total).abs() < 1e-4);
        }
    }

    #[test]
    fn sobol_indices_of_ishigami_match_the_analytic_ones_and_an_ignored_input_gets_zero() {
        // A fourth input that the function ignores.
        let d = 4;
        let points = design::saltelli(1 << 13, d, 2024).unwrap();
        let y = outputs(&points, |u| ishigami(&u[..3]));
        let indices = sobol_indices(&y, d, 200, 5).unwrap();
        for (i, (index, (first, total))) in indices.iter().zip(ishigami_indices()).enumerate() {
            let (got_first, got_total) = (index.first.unwrap(), index.total.unwrap());
            assert!(
                (got_first - first).abs() < 0.02,
                "S1 of x{}: {got_first} vs {first}",
                i + 1
            );
            assert!(
                (got_total - total).abs() < 0.02,
                "ST of x{}: {got_total} vs {total}",
                i + 1
            );
            let (first_ci, total_ci) = (index.first_ci95.unwrap(), index.total_ci95.unwrap());
            assert!(
                contains(first_ci, first),
                "S1 of x{}: {first} not in {first_ci:?}",
                i + 1
            );
            assert!(
                contains(total_ci, total),
                "ST of x{}: {total} not in {total_ci:?}",
                i + 1
            );
            // An interval, not a point, and around its estimate.
            assert!(first_ci.0 < first_ci.1 && contains(first_ci, got_first));
            assert!(total_ci.0 < total_ci.1 && contains(total_ci, got_total));
        }
        // AB^(4) differs from A only in the ignored input, so every output is unchanged.
        let ignored = indices[3];
        assert_eq!((ignored.first, ignored.total), (Some(0.0), Some(0.0)));
        assert_eq!(
            (ignored.first_ci95, ignored.total_ci95),
            (Some((0.0, 0.0)), Some((0.0, 0.0)))
        );
    }

    #[test]
    fn sobol_indices_do_not_change_when_the_metric_is_shifted_far_from_zero() {
        let d = 3;
        let points = design::saltelli(1 << 10, d, 9).unwrap();
        let y = outputs(&points, ishigami);
        let shifted: Vec<f64> = y.iter().map(|v| v + 1e6).collect();
        let (plain, far) = (
            sobol_indices(&y, d, 0, 1).unwrap(),
            sobol_indices(&shifted, d, 0, 1).unwrap(),
        );
        for (p, f) in plain.iter().zip(&far) {
            assert!((p.first.unwrap() - f.first.unwrap()).abs() < 1e-6);
            assert!((p.total.unwrap() - f.total.unwrap()).abs() < 1e-6);
        }
    }

    #[test]
    fn an_additive_function_has_equal_first_and_total_indices_in_proportion_to_its_variances() {
        let coefficients = [4.0, 2.0, 1.0];
        let points = design::saltelli(1 << 11, 3, 1).unwrap();
        let y = outputs(&points, |u| {
            u.iter().zip(&coefficients).map(|(u, c)| c * u).sum()
        });
        let sum_squares: f64 = coefficients.iter().map(|c| c * c).sum();
        for (index, c) in sobol_indices(&y, 3, 0, 1).unwrap().iter().zip(coefficients) {
            let share = c * c / sum_squares;
            assert!((index.first.unwrap() - share).abs() < 0.02);
            assert!((index.total.unwrap() - share).abs() < 0.02);
            assert_eq!((index.first_ci95, index.total_ci95), (None, None));
        }
    }

    #[test]
    fn a_metric_that_never_moves_or_has_no_value_has_undefined_indices() {
        let d = 2;
        let points = design::saltelli(64, d, 1).unwrap();
        let undefined = vec![SobolIndex::default(); d];
        // 0.1 thrice has a mean that rounds off 0.1: the check must not see a variance there.
        let constant = vec![0.1; points.len()];
        assert_eq!(sobol_indices(&constant, d, 50, 1).unwrap(), undefined);
        let mut y = outputs(&points, |u| u[0] + u[1]);
        assert!(sobol_indices(&y, d, 50, 1).unwrap()[0].first_ci95.is_some());
        y[7] = f64::NAN;
        assert_eq!(sobol_indices(&y, d, 50, 1).unwrap(), undefined);
        y[7] = f64::INFINITY;
        assert_eq!(sobol_indices(&y, d, 50, 1).unwrap(), undefined);
    }

    #[test]
    fn a_resample_that_never_moves_leaves_no_interval() {
        // One base row of four moves; a resample can miss it.
        let d = 1;
        let mut y = vec![1.0; 4 * (d + 2)];
        y[d + 1] = 2.0;
        let indices = sobol_indices(&y, d, 100, 1).unwrap();
        assert!(indices[0].total.is_some());
        assert_eq!((indices[0].first_ci95, indices[0].total_ci95), (None, None));
    }

    #[test]
    fn bootstrap_intervals_follow_the_seed() {
        let d = 3;
        let points = design::saltelli(256, d, 1).unwrap();
        let y = outputs(&points, ishigami);
        let intervals = |seed| -> Vec<_> {
            sobol_indices(&y, d, 100, seed)
                .unwrap()
                .iter()
                .map(|i| (i.first_ci95, i.total_ci95))
                .collect()
        };
        assert_eq!(intervals(3), intervals(3));
        assert_ne!(intervals(3), intervals(4));
    }

    #[test]
    fn layouts_that_do_not_fit_the_design_are_refused() {
        assert_eq!(
            sobol_indices(&[1.0; 7], 3, 0, 1),
            Err(LayoutError::SaltelliRows { outputs: 7, row: 5 })
        );
        assert_eq!(
            sobol_indices(&[], 3, 0, 1),
            Err(LayoutError::SaltelliRows { outputs: 0, row: 5 })
        );
        assert_eq!(
            sobol_indices(&[1.0; 4], 0, 0, 1),
            Err(LayoutError::NoParameters)
        );
        let points = design::morris(3, 2, 4, 1).unwrap();
        let y = vec![0.0; points.len()];
        assert_eq!(
            morris_indices(&points, &y[1..], 2),
            Err(LayoutError::Lengths {
                points: 9,
                outputs: 8
            })
        );
        assert_eq!(
            morris_indices(&points[1..], &y[1..], 2),
            Err(LayoutError::Trajectories {
                points: 8,
                trajectory: 3
            })
        );
        let mut narrow = points.clone();
        narrow[4].pop();
        assert!(matches!(
            morris_indices(&narrow, &y, 2),
            Err(LayoutError::PointWidth { point: 4, .. })
        ));
        // A step that moves both coordinates, and one that moves none.
        let mut diagonal = points.clone();
        diagonal[4] = diagonal[3].iter().map(|x| 1.0 - x).collect();
        assert!(matches!(
            morris_indices(&diagonal, &y, 2),
            Err(LayoutError::NotOneStep {
                point: 3,
                changed: 2
            })
        ));
        let mut still = points.clone();
        still[1] = still[0].clone();
        assert_eq!(
            morris_indices(&still, &y, 2),
            Err(LayoutError::NotOneStep {
                point: 0,
                changed: 0
            })
        );
    }

    #[test]
    fn morris_on_a_linear_function_gives_its_coefficients_and_no_spread() {
        let coefficients = [3.0, -2.0, 0.5, 0.0];
        let (r, d) = (30, coefficients.len());
        let points = design::morris(r, d, 6, 8).unwrap();
        let y = outputs(&points, |u| {
            u.iter().zip(&coefficients).map(|(u, c)| c * u).sum()
        });
        for (index, c) in morris_indices(&points, &y, d)
            .unwrap()
            .iter()
            .zip(coefficients)
        {
            assert_eq!(index.effects, r);
            assert!((index.mu.unwrap() - c).abs() < 1e-12);
            assert!((index.mu_star.unwrap() - c.abs()).abs() < 1e-12);
            assert!(index.sigma.unwrap() < 1e-12);
        }
    }

    #[test]
    fn morris_finds_ishigamis_third_input_through_its_interaction_alone() {
        // On the 4-level grid, x1 and x3 take the values -pi, -pi/3, pi/3, pi and a step is
        // 2/3 of the range: x3's effect is +-0.1 * ((pi^4 - (pi/3)^4) / (2/3)) * sin(x1), that
        // is +-14.4 sin(x1), with sin(x1) in {0, -+0.87}: |effect| is 0 or 12.5 with even odds
        // and either sign, so mu* is about 6.2, mu about 0 and sigma about 8.8, although x3
        // has no first-order effect at all. x1's effect, 1.30 (1 + 0.1 x3^4), is always
        // positive (sin rises by 0.87 over every step), so mu = mu*.
        let (r, d) = (100, 3);
        let points = design::morris(r, d, 4, 21).unwrap();
        let y = outputs(&points, ishigami);
        let indices = morris_indices(&points, &y, d).unwrap();
        let third = indices[2];
        let (mu, mu_star, sigma) = (
            third.mu.unwrap(),
            third.mu_star.unwrap(),
            third.sigma.unwrap(),
        );
        assert!((4.0..8.5).contains(&mu_star), "mu* {mu_star}");
        assert!(mu.abs() < 3.0, "mu {mu}");
        assert!(sigma > mu_star, "sigma {sigma}, mu* {mu_star}");
        let first = indices[0];
        assert!((first.mu.unwrap() - first.mu_star.unwrap()).abs() < 1e-12);
        assert!((1.4..14.0).contains(&first.mu_star.unwrap()));
    }

    #[test]
    fn morris_statistics_are_undefined_where_an_output_is_missing() {
        let points = design::morris(5, 2, 4, 1).unwrap();
        let mut y = outputs(&points, |u| u[0] + 2.0 * u[1]);
        // Point 0 starts trajectory 0; only the first step's parameter loses its effect.
        let first_step = (0..2).find(|&i| points[0][i] != points[1][i]).unwrap();
        y[0] = f64::NAN;
        let indices = morris_indices(&points, &y, 2).unwrap();
        assert_eq!(indices[first_step].mu_star, None);
        assert_eq!(indices[first_step].effects, 5);
        assert!(indices[1 - first_step].mu_star.is_some());
        let one = morris_indices(&points[..3], &y[..3], 2).unwrap();
        assert_eq!(one[1 - first_step].sigma, None);
    }
}
