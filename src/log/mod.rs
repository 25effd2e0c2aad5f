//! The event log `events.csv`: writing it as the run goes, and reading it back.
//!
//! Layout: plain CSV, a header and one row per event, so that data tools read it with
//! no options; beside it the sidecar `events.meta.json` (see `meta`) holds the schema
//! version, the run's context, the row count and digest that catch a truncated or
//! edited log, and the data dictionary. Rows are formatted in
//! parallel chunks and hashed, in order, by rayon jobs that run whenever a thread has
//! nothing else to do; a thread of its own writes them, in order, so neither the
//! formatting, the hash nor the disk serialises the run.

pub mod direct;
mod format;
mod in_order;
pub mod meta;
#[cfg(feature = "parquet")]
pub mod parquet;
mod reader;
mod schema;
mod writer;

pub use format::{AnyLogReader, AnyLogWriter, LogFormat};
pub use meta::{LogMeta, meta_path};
pub use reader::LogReader;
pub use schema::{COLUMNS, READABLE_SCHEMAS, SCHEMA_VERSION};
pub use writer::{Finished, LogWriter};

#[cfg(test)]
mod tests {
    use std::io::BufReader;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::meta::{LogMeta, meta_path};
    use super::reader::*;
    use super::writer::*;
    use crate::event::context::Context;
    use crate::event::{Event, EventKind};
    use crate::log::direct::DirectFile;
    use crate::model::date::DAY_S;
    use crate::model::{CategoryId, HubId, MarketId, MethodId, RouteId};
    use std::io::Write;
    use std::path::Path;
    use std::sync::mpsc;

    use crate::Error;
    use crate::scenario::sha256_hex;

    /// The checked-in log: its context, its events and its bytes.
    fn tiny() -> (Context, Vec<Event>, Vec<u8>) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny_run/events.csv");
        let text = std::fs::read(&path).unwrap();
        let events = read_all(&tiny_meta(), &text);
        (tiny_meta().context, events, text)
    }

    fn tiny_meta() -> LogMeta {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/tiny_run")
            .join(meta_path(Path::new("events.csv")));
        LogMeta::parse(&std::fs::read(&path).unwrap(), "tiny sidecar").unwrap()
    }

    /// Every event of a log in memory, read with its sidecar.
    fn read_all(meta: &LogMeta, text: &[u8]) -> Vec<Event> {
        let mut reader = LogReader::open(meta.clone(), BufReader::new(text), "memory").unwrap();
        let mut events = Vec::new();
        while let Some(e) = reader.next_event().unwrap() {
            events.push(e);
        }
        events
    }

    #[test]
    fn the_writer_reproduces_the_checked_in_log_byte_for_byte() {
        let (context, events, text) = tiny();
        let mut log = LogWriter::new(Vec::new(), &context).unwrap();
        // Windows of uneven sizes, an empty one among them.
        let (a, rest) = events.split_at(1000);
        let (b, c) = rest.split_at(1);
        for window in [a, &[], b, c] {
            log.write(window).unwrap();
        }
        let done = log.finish().unwrap();
        assert!(done.out == text, "the log's bytes changed");
        assert_eq!(done.sha256, sha256_hex(&text));
        assert_eq!(done.meta, tiny_meta(), "the sidecar changed");
    }

    /// An arbitrary event that the tiny log's context admits: its route serves its
    /// market, hub events only on routes via a hub, ids and ranks in range.
    fn any_event(ctx: &Context) -> impl proptest::strategy::Strategy<Value = Event> {
        use proptest::prelude::*;
        let horizon_s = ctx.span_days() * DAY_S;
        let routes: Vec<(u8, u8, Option<u8>, u32, usize, bool)> = ctx
            .routes
            .iter()
            .map(|r| {
                let market = usize::from(r.market);
                (
                    r.market,
                    r.pool,
                    r.hub,
                    ctx.pools[usize::from(r.pool)].count,
                    ctx.markets[market].methods.len(),
                    r.linehaul.is_some(),
                )
            })
            .collect();
        let categories = ctx.categories.len() as u8;
        (
            0..horizon_s,
            any::<u64>(),
            0..routes.len(),
            0usize..12,
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            (0u8..255, any::<bool>(), any::<bool>()),
        )
            .prop_map(
                move |(time_s, order_id, r, kind, a, b, c, (attempt, flag, flag2))| {
                    let (market, _, hub, sellers, methods, linehaul) = routes[r];
                    let method = MethodId((a % methods as u32) as u8);
                    let seller = b % sellers;
                    let kind = match (kind, hub, linehaul) {
                        (0, _, _) => EventKind::OrderPlaced {
                            seller,
                            category: CategoryId((c % u32::from(categories)) as u8),
                            method,
                            value_cents: c,
                        },
                        (1, _, _) => EventKind::PaymentAttempted {
                            method,
                            attempt: attempt + 1,
                            success: flag,
                        },
                        (2, _, _) => EventKind::OrderCancelled {
                            seller,
                            method,
                            value_cents: c,
                            attempts: attempt,
                        },
                        (4, Some(h), _) => EventKind::HubArrived { hub: HubId(h) },
                        (5, Some(h), _) => EventKind::HubDeparted {
                            hub: HubId(h),
                            wait_s: a,
                            service_s: b,
                            seller,
                            fee_cents: c,
                            finance_cents: a ^ c,
                        },
                        (6, _, _) => EventKind::CustomsCleared {
                            duty_cents: a,
                            vat_cents: b,
                            inspected: flag2,
                            wait_s: a ^ b,
                            service_s: c,
                        },
                        (7, _, _) => EventKind::Delivered {
                            lead_s: a,
                            collected_cents: c,
                        },
                        (8, _, _) => EventKind::Returned {
                            seller,
                            value_cents: c,
                            freight_cents: a,
                        },
                        (9, _, _) => EventKind::Refused {
                            seller,
                            method,
                            value_cents: c,
                            freight_cents: a,
                        },
                        (11, _, true) => EventKind::LinehaulDeparted { wait_s: a },
                        (10, _, _) => EventKind::SellerPaid {
                            seller,
                            method,
                            value_cents: c,
                            commission_cents: a,
                            fee_cents: b,
                            to_cash_s: a ^ b,
                        },
                        _ => EventKind::Dispatched {
                            seller,
                            value_cents: c,
                            freight_cents: a,
                        },
                    };
                    Event {
                        time_s,
                        order_id,
                        market: MarketId(market),
                        route: RouteId(r as u8),
                        kind,
                    }
                },
            )
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Whatever events a run hands the writer, in the log's order and in windows of
        /// any size, the reader gives back exactly those events.
        #[test]
        fn any_events_written_are_read_back_as_they_were(
            mut events in proptest::collection::vec(any_event(&tiny().0), 0..400),
            cut in 0usize..400,
        ) {
            let (context, _, _) = tiny();
            events.sort_by_key(Event::order_key);
            let mut log = LogWriter::new(Vec::new(), &context).unwrap();
            let (a, b) = events.split_at(cut.min(events.len()));
            log.write(a).unwrap();
            log.write(b).unwrap();
            let done = log.finish().unwrap();
            proptest::prop_assert_eq!(read_all(&done.meta, &done.out), events);
        }
    }

    proptest::proptest! {
        #[test]
        fn digits_are_the_decimal_text(v in proptest::prelude::any::<u64>()) {
            let mut line = [0u8; 24];
            for v in [v, v % 1000, 0, 9, 10, 99, 100, u64::MAX] {
                let end = put_digits(&mut line, 3, v);
                let text = v.to_string();
                proptest::prop_assert_eq!(&line[3..end], text.as_bytes());
            }
        }
    }

    /// Names longer than a padded piece (and one exactly a piece long) are written whole
    /// and read back as the same events.
    #[test]
    fn long_names_are_written_whole() {
        let (mut context, events, _) = tiny();
        context.markets[1].id = "india-via-paytm-mobile-wallets".to_string();
        context.markets[1].methods[1] = "c".repeat(PIECE - 1);
        let pool = usize::from(context.routes[3].pool);
        context.pools[pool].id = "malaysia-digital-free-trade-zone".to_string();
        // A route's id names its pool and market, as the scenario language makes it.
        for r in &mut context.routes {
            r.id = format!(
                "{}:{}",
                context.pools[usize::from(r.pool)].id,
                context.markets[usize::from(r.market)].id
            );
        }
        context.facilities[0].id = "h".repeat(3 * PIECE);
        context.categories[1] = "e".repeat(2 * PIECE + 5);
        let mut log = LogWriter::new(Vec::new(), &context).unwrap();
        log.write(&events).unwrap();
        let done = log.finish().unwrap();
        let rows = String::from_utf8(done.out.clone()).unwrap();
        for name in [
            &context.routes[3].id,
            &context.facilities[0].id,
            &context.categories[1],
        ] {
            assert!(rows.contains(&format!(",{name},")), "{name} written whole");
        }
        assert_eq!(read_all(&done.meta, &done.out), events);
    }

    /// The same events written into memory, into a file with direct I/O and into a file
    /// through the page cache: the same bytes, and the digest streamed is the file's.
    #[test]
    fn direct_and_buffered_logs_agree_and_the_streamed_digest_is_the_files() {
        let (context, events, _) = tiny();
        // 80 copies make about 11.5 MB of rows: more buffers than there are (so they are
        // recycled), two rounds in one call, and more than one staging buffer.
        let many: Vec<Event> = (0..60).flat_map(|_| events.iter().copied()).collect();
        let dir = tempfile::tempdir().unwrap();
        for copies in [0, 1, 80] {
            let write = |log: &mut dyn FnMut(&[Event])| {
                if copies == 80 {
                    log(&many);
                    (0..20).for_each(|_| log(&events));
                } else {
                    (0..copies).for_each(|_| log(&events));
                }
            };
            let mut memory = LogWriter::new(Vec::new(), &context).unwrap();
            write(&mut |e| memory.write(e).unwrap());
            let expected = memory.finish().unwrap().out;
            if copies == 0 {
                assert!(expected.len() < 4096, "a log smaller than a page");
            } else {
                assert!(expected.len() % 4096 != 0, "a log with a partial last page");
            }

            let direct_path = dir.path().join(format!("direct-{copies}.csv"));
            let mut direct = LogWriter::create(&direct_path, &context).unwrap();
            write(&mut |e| direct.write(e).unwrap());
            let direct = direct.finish().unwrap();

            let buffered_path = dir.path().join(format!("buffered-{copies}.csv"));
            let file = DirectFile::buffered(&buffered_path).unwrap();
            let mut buffered = LogWriter::new(file, &context).unwrap();
            write(&mut |e| buffered.write(e).unwrap());
            let buffered = buffered.finish().unwrap();

            for (path, digest) in [
                (&direct_path, &direct.sha256),
                (&buffered_path, &buffered.sha256),
            ] {
                let on_disk = std::fs::read(path).unwrap();
                assert!(on_disk == expected, "{}: other bytes", path.display());
                assert_eq!(*digest, sha256_hex(&on_disk), "{}", path.display());
            }
        }
    }

    /// Accepts `room` bytes, then fails as a full disk does; tells when it is dropped.
    struct Full {
        room: usize,
        dropped: Arc<AtomicBool>,
        flushed: Arc<AtomicBool>,
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::StorageFull));
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            Ok(n)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            self.flushed.store(true, Ordering::Relaxed);
            Ok(())
        }
    }

    impl Drop for Full {
        fn drop(&mut self) {
            self.dropped.store(true, Ordering::Relaxed);
        }
    }

    fn full(room: usize) -> (Full, Arc<AtomicBool>, Arc<AtomicBool>) {
        let (dropped, flushed) = (Arc::default(), Arc::default());
        let out = Full {
            room,
            dropped: Arc::clone(&dropped),
            flushed: Arc::clone(&flushed),
        };
        (out, dropped, flushed)
    }

    #[test]
    fn a_write_error_surfaces_and_stops_the_writer_thread() {
        let (context, events, _) = tiny();
        let (out, dropped, _) = full(100_000);
        let mut log = LogWriter::new(out, &context).unwrap();
        // The writer thread fails on the second write or so; the formatting side sees it
        // once its sends or its wait for a buffer fail, at the latest at `finish`.
        let mut result = Ok(());
        for _ in 0..100 {
            result = log.write(&events);
            if result.is_err() {
                break;
            }
        }
        let err = match result {
            Err(e) => e,
            Ok(()) => match log.finish() {
                Err(e) => e,
                Ok(_) => panic!("a full disk went unnoticed"),
            },
        };
        let message = err.to_string();
        assert!(
            message.starts_with("writing the event log: ") && matches!(err, Error::Io { .. }),
            "{message}"
        );
        assert!(dropped.load(Ordering::Relaxed), "the writer thread ended");
    }

    /// A disk that fails only after it has been passed every buffer: the formatting
    /// side, waiting for a buffer back, must still hear of the failure (it once waited
    /// forever, with a hashing thread in between waiting for rows).
    #[test]
    fn a_slow_failing_disk_does_not_hang_the_writer() {
        struct SlowFailure;
        impl Write for SlowFailure {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                std::thread::sleep(std::time::Duration::from_millis(500));
                Err(std::io::Error::from(std::io::ErrorKind::StorageFull))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let (context, events, _) = tiny();
        // More rows than every buffer holds, so the formatting side waits for one back.
        let many: Vec<Event> = (0..400).flat_map(|_| events.iter().copied()).collect();
        let (done, result) = mpsc::channel();
        std::thread::spawn(move || {
            let mut log = LogWriter::new(SlowFailure, &context).unwrap();
            let err = log.write(&many).err().or_else(|| log.finish().err());
            let _ = done.send(err.map(|e| e.to_string()));
        });
        let message = result
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the writer gave up within a minute")
            .expect("an error");
        assert!(message.starts_with("writing the event log: "), "{message}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_full_disk_is_named_with_the_file() {
        let (context, events, _) = tiny();
        let path = Path::new("/dev/full");
        // Only where it is the full device (a sandbox may lack it or map it elsewhere).
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|mut f| f.write_all(b"x"));
        if !full.is_err_and(|e| e.kind() == std::io::ErrorKind::StorageFull) {
            assert!(
                std::env::var_os("CI").is_none(),
                "/dev/full is not the full device here, and CI must run this test"
            );
            return;
        }
        let mut log = LogWriter::create(path, &context).unwrap();
        let err = (0..1000)
            .find_map(|_| log.write(&events).err())
            .or_else(|| log.finish().err())
            .expect("an error");
        let message = err.to_string();
        assert!(message.contains("writing /dev/full: "), "{message}");
    }

    #[test]
    fn an_unfinished_writer_stops_its_thread_without_ending_the_log() {
        let (context, events, _) = tiny();
        let (out, dropped, flushed) = full(usize::MAX);
        let mut log = LogWriter::new(out, &context).unwrap();
        log.write(&events).unwrap();
        drop(log);
        assert!(
            dropped.load(Ordering::Relaxed),
            "the writer thread was joined"
        );
        assert!(
            !flushed.load(Ordering::Relaxed),
            "no end for an abandoned log"
        );
    }

    /// The README documents the schema the code defines: every column in order, and for
    /// every kind the columns it fills.
    #[test]
    fn the_readme_documents_the_schema() {
        use super::schema::{COLUMNS, DICTIONARY, FILLED};
        use crate::event::KIND_NAMES;
        let readme =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
                .unwrap();
        let section = &readme[readme.find("## The event log").unwrap()..];
        // (name, type, unit) of each column, a row naming several giving each the same.
        let documented: Vec<(&str, &str, &str)> = section
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|l| l.split('|').map(str::trim).collect::<Vec<_>>())
            .flat_map(|cells| {
                let (ty, unit) = (cells[2], cells[3]);
                cells[1]
                    .split(", ")
                    .map(move |c| (c.trim_matches('`'), ty, unit))
                    .collect::<Vec<_>>()
            })
            .take(COLUMNS.len())
            .collect();
        let defined: Vec<(&str, &str, &str)> = DICTIONARY
            .iter()
            .map(|c| (c.name, c.ty.name(), c.unit))
            .collect();
        assert_eq!(documented, defined, "the README's column table");
        for (kind, filled) in KIND_NAMES.iter().zip(FILLED) {
            let row = section
                .lines()
                .find(|l| l.starts_with(&format!("| `{kind}` |")))
                .unwrap_or_else(|| panic!("README has no row for {kind}"));
            let listed: Vec<&str> = row
                .split('|')
                .nth(2)
                .unwrap()
                .split(',')
                .map(|c| c.trim().trim_matches('`'))
                .filter(|c| !c.is_empty())
                .collect();
            let expected: Vec<&str> = filled.iter().map(|&i| COLUMNS[i]).collect();
            assert_eq!(listed, expected, "README's columns for {kind}");
        }
    }
}
