//! Typed errors of the core crate. Every error about a file names the file.

use std::path::PathBuf;

/// What is wrong with the bytes of a splat file, independent of where they came from.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("not a PLY file (it does not start with \"ply\")")]
    NotPly,
    #[error("PLY header is malformed: {0}")]
    BadHeader(String),
    #[error("PLY header declares {what} `{name}` twice{}", element.as_ref().map(|e| format!(" in element `{e}`")).unwrap_or_default())]
    Duplicate { what: &'static str, name: String, element: Option<String> },
    #[error(
        "{bytes} bytes follow the last row the header declares ({detail}): the header's counts do not match the body"
    )]
    TrailingData { bytes: u64, detail: String },
    #[error("PLY header has no end_header line within the first {0} bytes")]
    HeaderTooLong(usize),
    #[error("unsupported PLY layout: {0}")]
    Unsupported(String),
    #[error("missing required property `{0}` in element `vertex`")]
    MissingProperty(String),
    #[error("file is truncated: the header declares {expected} bytes of data but only {actual} follow")]
    Truncated { expected: u64, actual: u64 },
    #[error("absurd element count: {element} declares {count} rows, which cannot fit in {available} bytes")]
    AbsurdCount { element: String, count: u64, available: u64 },
    #[error("ASCII body: {0}")]
    AsciiBody(String),
    #[error("unsupported number of SH rest coefficients: {0} (expected 0, 9, 24 or 45)")]
    BadShCount(usize),
    #[error("{count} Gaussians have NaN or infinite values (first at index {first}); use --non-finite drop or keep")]
    NonFinite { count: usize, first: usize },
    #[error("invalid {format} data: {reason}")]
    Invalid { format: &'static str, reason: String },
    #[error(
        "unknown file extension for `{0}`: expected .ply, .compressed.ply, .splat, .spz, .glb, .gltf, .sog, meta.json or lod-meta.json"
    )]
    UnknownExtension(String),
    #[error("{0}")]
    FormatNotSupported(String),
    #[error("cannot write: {0}")]
    CannotWrite(String),
    // The cause is part of the message and deliberately not exposed as `source()`, so error
    // chains printed by the binary do not repeat it.
    #[error("{0}")]
    Io(std::io::Error),
}

impl From<std::io::Error> for FormatError {
    fn from(e: std::io::Error) -> Self {
        FormatError::Io(e)
    }
}

/// A [`FormatError`] together with the file it happened in.
#[derive(Debug, thiserror::Error)]
#[error("{}: {error}", path.display())]
pub struct LoadError {
    pub path: PathBuf,
    pub error: FormatError,
}

impl LoadError {
    pub fn new(path: impl Into<PathBuf>, error: FormatError) -> Self {
        Self { path: path.into(), error }
    }
}

pub type Result<T, E = FormatError> = std::result::Result<T, E>;
