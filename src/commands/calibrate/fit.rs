//! `calibrate --fit`: the `[[fit]]` parameters solved against the targets by
//! Levenberg-Marquardt on the model's expected values (`Scenario::expected_metric`), so
//! the fit is exact arithmetic on mean rates: deterministic, bit for bit, and free of
//! the runs' noise. The runs then check it.
//!
//! A dozen parameters at most, so the normal equations are solved directly; each
//! parameter is scaled to [0, 1] over its bounds, and a step that would leave them is
//! clamped to them.

use crate::Error;

/// Most iterations before the fit gives up (it reports that it did not converge).
const MAX_ITERATIONS: usize = 2000;

/// The solution, and how it was reached.
#[derive(Debug, Clone, PartialEq)]
pub struct Solution {
    pub values: Vec<f64>,
    pub iterations: usize,
    /// Evaluations of the residuals (each rebuilds the scenario).
    pub evaluations: usize,
    /// Half the sum of squared residuals at the solution.
    pub cost: f64,
    pub residuals: Vec<f64>,
    pub converged: bool,
}

/// Minimises half the sum of squares of `residuals(x)` over `lo <= x <= hi`, from `x0`.
pub fn levenberg_marquardt(
    x0: &[f64],
    lo: &[f64],
    hi: &[f64],
    mut residuals: impl FnMut(&[f64]) -> Result<Vec<f64>, Error>,
) -> Result<Solution, Error> {
    let k = x0.len();
    let to_x = |u: &[f64]| -> Vec<f64> {
        (0..k)
            .map(|j| lo[j] + u[j].clamp(0.0, 1.0) * (hi[j] - lo[j]))
            .collect()
    };
    let mut u: Vec<f64> = (0..k)
        .map(|j| ((x0[j] - lo[j]) / (hi[j] - lo[j])).clamp(0.0, 1.0))
        .collect();
    let mut evaluations = 0;
    let mut eval = |u: &[f64]| {
        evaluations += 1;
        residuals(&to_x(u))
    };
    let cost_of = |r: &[f64]| r.iter().map(|v| v * v).sum::<f64>() / 2.0;
    let mut r = eval(&u)?;
    let mut cost = cost_of(&r);
    let mut lambda = 1e-3;
    let mut iterations = 0;
    let mut converged = false;
    while iterations < MAX_ITERATIONS && !converged {
        iterations += 1;
        // The Jacobian by forward differences, stepping inwards at a bound.
        let mut jac = vec![vec![0.0; k]; r.len()];
        for j in 0..k {
            let h = if u[j] + 1e-6 <= 1.0 { 1e-6 } else { -1e-6 };
            let mut v = u.clone();
            v[j] += h;
            let rv = eval(&v)?;
            for (i, row) in jac.iter_mut().enumerate() {
                row[j] = (rv[i] - r[i]) / h;
            }
        }
        let mut jtj = vec![vec![0.0; k]; k];
        let mut jtr = vec![0.0; k];
        for (row, ri) in jac.iter().zip(&r) {
            for a in 0..k {
                jtr[a] += row[a] * ri;
                for b in 0..k {
                    jtj[a][b] += row[a] * row[b];
                }
            }
        }
        let gradient = jtr.iter().map(|g| g.abs()).fold(0.0, f64::max);
        if gradient < 1e-12 || cost < 1e-24 {
            converged = true;
            break;
        }
        // Raise the damping until a step lowers the cost.
        loop {
            let mut a = jtj.clone();
            for (j, row) in a.iter_mut().enumerate() {
                row[j] += lambda * jtj[j][j].max(1e-12);
            }
            let step = solve(a, jtr.iter().map(|g| -g).collect());
            let trial: Vec<f64> = u
                .iter()
                .zip(&step)
                .map(|(u, s)| (u + s).clamp(0.0, 1.0))
                .collect();
            let moved = trial
                .iter()
                .zip(&u)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            let rt = eval(&trial)?;
            let trial_cost = cost_of(&rt);
            if trial_cost < cost {
                let gain = (cost - trial_cost) / cost.max(1e-300);
                u = trial;
                r = rt;
                cost = trial_cost;
                lambda = (lambda / 3.0).max(1e-12);
                // Converged once a step gains less than a billionth of the cost.
                converged = gain < 1e-9 || moved < 1e-12;
                break;
            }
            lambda *= 4.0;
            if lambda > 1e12 || moved < 1e-15 {
                // No step in any direction lowers it: a (bounded) minimum.
                converged = true;
                break;
            }
        }
    }
    Ok(Solution {
        values: to_x(&u),
        iterations,
        evaluations,
        cost,
        residuals: r,
        converged,
    })
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting; a singular direction
/// (a parameter no target moves) gets no step.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Vec<f64> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .unwrap_or(col);
        a.swap(col, pivot);
        b.swap(col, pivot);
        if a[col][col].abs() < 1e-300 {
            continue;
        }
        let (upper, lower) = a.split_at_mut(col + 1);
        let pivot_row = &upper[col];
        for (offset, row) in lower.iter_mut().enumerate() {
            let f = row[col] / pivot_row[col];
            for (x, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                *x -= f * p;
            }
            b[col + 1 + offset] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        if a[row][row].abs() < 1e-300 {
            continue;
        }
        let rest: f64 = (row + 1..n).map(|c| a[row][c] * x[c]).sum();
        x[row] = (b[row] - rest) / a[row][row];
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rosenbrock's valley as residuals: the minimum at (1, 1), reached from afar.
    #[test]
    fn finds_the_minimum_of_a_curved_valley() {
        let s = levenberg_marquardt(&[-1.2, 1.0], &[-5.0, -5.0], &[5.0, 5.0], |x| {
            Ok(vec![10.0 * (x[1] - x[0] * x[0]), 1.0 - x[0]])
        })
        .unwrap();
        assert!(s.converged);
        assert!(
            (s.values[0] - 1.0).abs() < 1e-6 && (s.values[1] - 1.0).abs() < 1e-6,
            "{s:?}"
        );
    }

    /// A bound holds: the unconstrained minimum at 3 lies outside [0, 2].
    #[test]
    fn stops_at_a_bound() {
        let s = levenberg_marquardt(&[1.0], &[0.0], &[2.0], |x| Ok(vec![x[0] - 3.0])).unwrap();
        assert_eq!(s.values, vec![2.0]);
    }

    /// A linear least-squares problem has its closed-form answer, and the same inputs
    /// give the same bits.
    #[test]
    fn solves_linear_least_squares_deterministically() {
        // y = a + b t through (0, 1), (1, 3), (2, 4): a = 7/6, b = 3/2.
        let f = |x: &[f64]| {
            Ok([(0.0, 1.0), (1.0, 3.0), (2.0, 4.0)]
                .iter()
                .map(|(t, y)| x[0] + x[1] * t - y)
                .collect())
        };
        let s = levenberg_marquardt(&[0.0, 0.0], &[-10.0, -10.0], &[10.0, 10.0], f).unwrap();
        assert!((s.values[0] - 7.0 / 6.0).abs() < 1e-7 && (s.values[1] - 1.5).abs() < 1e-7);
        let again = levenberg_marquardt(&[0.0, 0.0], &[-10.0, -10.0], &[10.0, 10.0], f).unwrap();
        assert_eq!(s, again);
    }
}
