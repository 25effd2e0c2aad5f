//! The `tradesim` binary: parse arguments, call the library, map errors to exit codes.

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Parser;
use tradesim::Error;
use tradesim::cli::{Cli, execute};

fn main() -> ExitCode {
    static STOP: AtomicBool = AtomicBool::new(false);
    let cli = Cli::parse();
    // Ctrl-C, SIGTERM and SIGHUP ask the work to stop; it then removes its staging output.
    let _ = ctrlc::set_handler(|| STOP.store(true, Ordering::Relaxed));
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = execute(cli, &STOP, &mut out).and_then(|()| out.flush().map_err(Error::stdout));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `tradesim ... | head` closing the pipe early is not a failure.
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
