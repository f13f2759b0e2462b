//! Autosave: every minute the session is written (as a job with absolute paths) to a recovery
//! file; a clean exit removes it, so finding one at start means the last session crashed.

use crate::document::Document;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub const INTERVAL: Duration = Duration::from_secs(60);

/// `$SPLATSTITCH_RECOVERY_DIR`, else `$XDG_STATE_HOME/splatstitch`, else
/// `~/.local/state/splatstitch`.
pub fn recovery_path() -> PathBuf {
    let dir = std::env::var_os("SPLATSTITCH_RECOVERY_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_STATE_HOME").map(|d| PathBuf::from(d).join("splatstitch")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state/splatstitch")))
        .unwrap_or_else(|| std::env::temp_dir().join("splatstitch"));
    dir.join("recovery.toml")
}

pub struct Autosave {
    pub path: PathBuf,
    last: Instant,
    saved_version: u64,
}

impl Autosave {
    pub fn new(path: PathBuf) -> Self {
        Self { path, last: Instant::now(), saved_version: 0 }
    }

    /// A recovery file left by a crashed session, if any.
    pub fn pending(&self) -> Option<PathBuf> {
        self.path.is_file().then(|| self.path.clone())
    }

    /// Writes the session when it changed and the interval passed (or `force`).
    pub fn tick(&mut self, doc: &Document, version: u64, force: bool) -> Result<bool, String> {
        if version == self.saved_version || (!force && self.last.elapsed() < INTERVAL) {
            return Ok(false);
        }
        self.write(doc)?;
        self.saved_version = version;
        self.last = Instant::now();
        Ok(true)
    }

    fn write(&self, doc: &Document) -> Result<(), String> {
        if let Some(d) = self.path.parent() {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        // Absolute capture paths: the recovery file lives far from the captures; layers their
        // captures no longer describe are written beside it.
        let dir = self.path.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
        let spec = doc.job_file_writing(None, &dir).map_err(|e| e.to_string())?;
        let text = toml::to_string_pretty(&spec).map_err(|e| e.to_string())?;
        splatstitch_core::formats::write_atomically(&self.path, text.as_bytes())
            .map_err(|e| format!("{}: {e}", self.path.display()))
    }

    /// A clean exit: nothing to recover.
    pub fn discard(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
