//! Numbers as people read them in what the commands print.

/// `1234567.8` -> `1,234,568`.
pub fn thousands(v: f64) -> String {
    grouped(v, 0)
}

/// `v` with `decimals` decimals and its integer digits in groups of three
/// (`-1234.5`, 1 -> `-1,234.5`); never a negative zero.
pub fn grouped(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    let (sign, digits) = match s.strip_prefix('-') {
        Some(rest) if rest.bytes().all(|b| b == b'0' || b == b'.') => ("", rest),
        Some(rest) => ("-", rest),
        None => ("", s.as_str()),
    };
    let (int, frac) = digits.split_once('.').map_or((digits, ""), |(i, f)| (i, f));
    let mut out = sign.to_string();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// Fixed decimals, without a negative zero; empty for `None`.
pub fn fixed(v: Option<f64>, decimals: usize) -> String {
    match v {
        Some(v) => {
            let s = format!("{v:.decimals$}");
            match s.strip_prefix('-') {
                Some(rest) if rest.bytes().all(|b| b == b'0' || b == b'.') => rest.to_string(),
                _ => s,
            }
        }
        None => String::new(),
    }
}

/// A number for people: about four significant digits (at most four decimals), with
/// thousands separators.
pub fn human(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    let magnitude = v.abs().log10().floor() as i64;
    grouped(v, (3 - magnitude).clamp(0, 4) as usize)
}
