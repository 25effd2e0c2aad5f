//! The rules a scenario's names, shares and horizon obey, in one place: the scenario
//! language checks a file with them, and `replay` checks a log's context with the same
//! ones, so a log accepts nothing the scenario language would refuse.
//!
//! Each rule says what is wrong in the user's terms, or nothing.

use crate::model::date::Date;

/// Longest horizon accepted: ten years of days keeps every time in a `u32` of seconds.
pub const MAX_DAYS: u32 = 3660;
/// Longest warm-up, in days (a year: a longer one settles nothing more).
pub const MAX_WARMUP_DAYS: u32 = 366;
/// Shares must sum to 1 within this.
pub const SHARE_EPSILON: f64 = 1e-6;
/// Most entries of each kind (hubs, markets, seller pools, routes, categories, payment
/// methods of a market, size tiers of a pool): ids are stored in a byte.
pub const MAX_ENTITIES: usize = 250;
/// Most entries of a list that is not an id space: peaks, variants, targets, a hub's
/// capacity changes, a variant's overrides.
pub const MAX_LIST: usize = 10_000;
/// The most entries of each top-level list of a scenario file (`[[hub]]`, ...).
pub const TOP_LEVEL_LIMITS: [(&str, usize); 8] = [
    ("hub", MAX_ENTITIES),
    ("market", MAX_ENTITIES),
    ("sellers", MAX_ENTITIES),
    ("route", MAX_ENTITIES),
    ("peak", MAX_LIST),
    ("variant", MAX_LIST),
    ("target", MAX_LIST),
    ("change", MAX_CHANGES),
];

/// Most dated changes a scenario may hold: each is a whole scenario in memory (a monthly
/// path over eight years fits).
pub const MAX_CHANGES: usize = 100;

/// Longest name in bytes: keeps every row of the event log within what its reader takes.
/// The largest fee or freight price, in US dollars: 10^8 cents, so that an order's
/// fees and charges stay far inside the log's 32-bit cents.
pub const MAX_FEE_USD: f64 = 1_000_000.0;

pub const MAX_NAME_BYTES: usize = 100;
/// The name the tables give the total over markets, and the tier row of a whole pool.
pub const ALL: &str = "all";

/// An id, method, tier or category: it appears in override paths and CSV cells.
pub fn name(name: &str) -> Result<(), String> {
    if name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "a name of {} bytes is too long (at most {MAX_NAME_BYTES})",
            name.len()
        ));
    }
    let bad = |c: char| {
        matches!(c, '.' | '=' | '[' | ']' | ',' | '"' | '\'') || c.is_whitespace() || c.is_control()
    };
    if name.is_empty() || name.contains(bad) {
        return Err(format!(
            "\"{}\" is not a usable name (non-empty; no spaces, dots, `=`, brackets, commas or quotes)",
            name.escape_debug()
        ));
    }
    Ok(())
}

/// A name that is also the name of an output directory (a scenario's or a variant's).
pub fn file_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".to_string());
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "a name of {} bytes is too long (at most {MAX_NAME_BYTES})",
            name.len()
        ));
    }
    let bad = |c: char| "/\\:*?\"<>|".contains(c) || c.is_control();
    if name.starts_with('.') || name.contains(bad) {
        return Err(format!(
            "\"{}\" names an output directory, so it may not start with a dot or hold \
             / \\ : * ? \" < > | or control characters",
            name.escape_debug()
        ));
    }
    Ok(())
}

/// A name the tables use for themselves (`all`) cannot also be a market's or a tier's.
pub fn not_reserved(name: &str) -> Result<(), String> {
    if name == ALL {
        return Err(format!(
            "\"{ALL}\" is reserved: the tables use it for the total"
        ));
    }
    Ok(())
}

/// The first name that occurs twice.
pub fn first_duplicate<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut seen = std::collections::BTreeSet::new();
    names.into_iter().find(|n| !seen.insert(*n))
}

pub fn probability(value: f64) -> Result<(), String> {
    if !(0.0..=1.0).contains(&value) {
        return Err(format!(
            "{value} is not a probability (expected a number in [0, 1])"
        ));
    }
    Ok(())
}

/// Shares that must each be a probability and together sum to 1.
pub fn shares(shares: impl IntoIterator<Item = f64> + Clone) -> Result<(), String> {
    shares.clone().into_iter().try_for_each(probability)?;
    sum_to_one(shares)
}

/// Shares (each already checked) that must sum to 1.
pub fn sum_to_one(shares: impl IntoIterator<Item = f64>) -> Result<(), String> {
    let sum: f64 = shares.into_iter().sum();
    if (sum - 1.0).abs() > SHARE_EPSILON {
        // Rounded so that 0.1 + 0.8 reads as 0.9, not 0.8999999999999999.
        let shown = (sum * 1e9).round() / 1e9;
        return Err(format!("shares must sum to 1, found {shown}"));
    }
    Ok(())
}

/// A horizon of `days` from `start`: every date in it, and the day after it ends (which
/// the tables may name), stays within years 1 to 9999.
pub fn horizon(start: Date, days: u32) -> Result<(), String> {
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(format!(
            "days must be a whole number from 1 to {MAX_DAYS}, found {days}"
        ));
    }
    let first = Date::from_ymd(1, 1, 1).expect("a date");
    let last = Date::from_ymd(9999, 12, 31).expect("a date");
    let end = start.add_days(i64::from(days));
    if start < first || end > last {
        return Err(format!(
            "a horizon of {days} days from {start} ends on {end}; dates must stay within \
             the years 1 to 9999"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_cannot_leave_their_directory() {
        for bad in [
            "", ".", "..", "../x", "a/b", "a\\b", ".hidden", "a\0b", "c:d",
        ] {
            assert!(file_name(bad).is_err(), "{bad:?}");
        }
        for good in [
            "aliexpress_russia_2016",
            "dftz-direct",
            "x.y",
            "ru-de-minimis-200",
        ] {
            assert!(file_name(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn shares_are_probabilities_that_sum_to_one() {
        assert!(shares([0.3, 0.7]).is_ok());
        assert!(shares([1e308, 0.9]).is_err());
        assert!(shares([1.5, -0.5]).is_err());
        assert!(shares([0.1, 0.8]).unwrap_err().contains("0.9"));
    }

    #[test]
    fn a_horizon_stays_in_four_digit_years() {
        let d = |s| Date::parse(s).unwrap();
        assert!(horizon(d("2016-11-01"), 30).is_ok());
        assert!(horizon(d("9999-12-29"), 3).is_err());
        assert!(horizon(d("9999-12-01"), 30).is_ok());
        assert!(horizon(d("2016-11-01"), 0).is_err());
        assert!(horizon(d("2016-11-01"), MAX_DAYS + 1).is_err());
    }

    #[test]
    fn duplicates_are_found() {
        assert_eq!(first_duplicate(["a", "b", "a"]), Some("a"));
        assert_eq!(first_duplicate(["a", "b"]), None);
    }
}
