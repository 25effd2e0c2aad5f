//! Guards `--set PATH=VALUE` (and `--variant NAME` with it) on a valid scenario: errors, never
//! panics, neither at loading nor in a brief run of what loaded.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

const TINY: &str = include_str!("../../tests/data/tiny.toml");
/// tiny.toml has no variants; small.toml has four (noop, low-threshold, more-lines, high-duty).
const SMALL: &str = include_str!("../../tests/data/small.toml");

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    // The first line is the `--set` argument; a second line, if any, names a variant.
    let (arg, variant) = match input.split_once('\n') {
        Some((arg, variant)) => (arg, Some(variant)),
        None => (input, None),
    };
    let Ok(set) = tradesim::scenario::parse_set(arg) else {
        return;
    };
    let sets = [set];
    if let Ok(s) = tradesim::scenario::load_str(TINY, "tiny.toml", None, &sets) {
        common::expectations(&s);
        // The overflows issue 16 found were reached only at run time.
        common::simulate_briefly(&s);
    }
    if let Some(name) = variant {
        for (text, file) in [(TINY, "tiny.toml"), (SMALL, "small.toml")] {
            if let Ok(s) = tradesim::scenario::load_str(text, file, Some(name), &sets) {
                common::expectations(&s);
            }
        }
    }
});
