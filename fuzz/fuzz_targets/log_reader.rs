//! Guards reading an event log and folding it into tables as `replay` does: never panics.
//! An input is the sidecar as one line of JSON (without the data dictionary, which is
//! added, so that the fuzzer's bytes go to the context and the rows), then the CSV.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tradesim::log::LogReader;
use tradesim::log::meta::{LogMeta, dictionary};
use tradesim::projection::Tables;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let (meta, csv) = (&data[..split], data.get(split + 1..).unwrap_or_default());
    let Ok(serde_json::Value::Object(mut meta)) = serde_json::from_slice(meta) else {
        return;
    };
    meta.entry("columns")
        .or_insert_with(|| serde_json::to_value(dictionary()).expect("serialises"));
    let text = serde_json::to_vec(&meta).expect("serialises");
    let Ok(meta) = LogMeta::parse(&text, "fuzz sidecar") else {
        return;
    };
    let Ok(mut reader) = LogReader::open(meta, std::io::Cursor::new(csv), "fuzz") else {
        return;
    };
    let mut tables = Tables::new(&reader.context);
    while let Ok(Some(event)) = reader.next_event() {
        tables.observe(&event);
    }
    let _ = tables.render();
    let _ = tables.summary();
});
