//! The library's error type: a closed set, each kind mapped to an exit code.

use crate::scenario::ScenarioError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The scenario file or an override is wrong.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// A run that would overflow or not fit the machine.
    #[error(transparent)]
    Cost(#[from] crate::model::cost::TooCostly),
    /// Arguments that make no sense together, an output directory in the way, ...
    #[error("{0}")]
    Usage(String),
    /// A log, manifest or run directory that is not what it should be.
    #[error("{0}")]
    BadInput(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    /// A check that ran and found a difference (replay --check, reproduce, calibrate).
    #[error("{0}")]
    CheckFailed(String),
    #[error("interrupted; no output was written")]
    Interrupted,
}

impl Error {
    /// 2 for bad input or usage, 1 for anything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Scenario(_) | Error::Cost(_) | Error::Usage(_) | Error::BadInput(_) => 2,
            Error::Io { .. } | Error::CheckFailed(_) | Error::Interrupted => 1,
        }
    }

    /// A failed write to standard output (`main` treats a closed pipe as success).
    pub fn stdout(source: std::io::Error) -> Error {
        Error::Io {
            context: "writing to stdout".to_string(),
            source,
        }
    }

    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let context = context.into();
        move |source| Error::Io { context, source }
    }
}
