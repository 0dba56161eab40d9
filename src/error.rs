//! Harness errors and the exit codes of the CI gate, in one place.
//!
//! A verdict (pass/fail) is not an error; these are the cases where envtwin
//! could not judge at all: invalid input (exit 2) or a broken harness (exit 3).

use std::path::PathBuf;

/// Every scenario passed or was skipped.
pub const EXIT_OK: i32 = 0;
/// At least one scenario failed a check (or `diff` found differences).
pub const EXIT_FAILED: i32 = 1;
/// Invalid input: nothing was built.
pub const EXIT_INVALID: i32 = 2;
/// The harness itself could not work.
pub const EXIT_HARNESS: i32 = 3;

/// One problem in the user's input, located as precisely as we can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl Diagnostic {
    pub fn new(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.into(),
            line: None,
            column: None,
            message: message.into(),
        }
    }

    pub fn at(mut self, line: usize, column: usize) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

/// Errors that stop a command before it can produce a verdict.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Invalid input; each diagnostic is printed on its own line.
    #[error("{}", .0.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Diagnostic>),
    /// A bad path or argument given on the command line.
    #[error("{0}")]
    Usage(String),
    /// The harness could not work (sandbox, I/O).
    #[error("{0}")]
    Harness(String),
    #[error(transparent)]
    Tree(#[from] crate::tree::TreeError),
}

impl Error {
    /// The process exit status for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Invalid(_) | Error::Usage(_) => EXIT_INVALID,
            Error::Harness(_) => EXIT_HARNESS,
            Error::Tree(e) => tree_exit_code(e),
        }
    }
}

/// The exit status for a tree error. Decided here, not in `tree`, so that
/// the house stays one-way (`tree` knows nothing of exit codes).
fn tree_exit_code(e: &crate::tree::TreeError) -> i32 {
    use crate::tree::TreeError;
    match e {
        TreeError::BadPath { .. } => EXIT_INVALID,
        TreeError::SpecialFile { .. } | TreeError::Stopped { .. } => EXIT_FAILED,
        TreeError::Io { .. } | TreeError::Write { .. } => EXIT_HARNESS,
    }
}
