//! Guards scenario loading: any text must load or give problems, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(scenario) = tradesim::scenario::load_str(text, "fuzz.toml", None, &[]) {
        common::expectations(&scenario);
        // Each variant the file declares, as `validate` loads them.
        for v in scenario.variants.iter() {
            let _ = tradesim::scenario::load_str(text, "fuzz.toml", Some(&v.name), &[]);
        }
    }
});
