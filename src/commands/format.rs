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
