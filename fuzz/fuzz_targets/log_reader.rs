//! Guards reading an event log and folding it into tables as `replay` does: never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tradesim::log::LogReader;
use tradesim::projection::Tables;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = LogReader::open(std::io::Cursor::new(data), "fuzz") else {
        return;
    };
    let mut tables = Tables::new(&reader.context);
    while let Ok(Some(event)) = reader.next_event() {
        tables.observe(&event);
    }
    let _ = tables.render();
    let _ = tables.summary();
});
