//! Where the repository's real test captures are, for the project's own tests and benchmarks:
//! `tests/data/` (captures the tests need) and `assets/` (the demo's two small captures) of the
//! source checkout, unless `SPLATSTITCH_DATA` names another folder to look in first.

use std::path::{Path, PathBuf};

/// The repository root this crate was built from.
pub fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Folders searched for test captures, in order.
pub fn folders() -> Vec<PathBuf> {
    let root = repository_root();
    std::env::var_os("SPLATSTITCH_DATA")
        .map(PathBuf::from)
        .into_iter()
        .chain([root.join("tests/data"), root.join("assets")])
        .collect()
}

/// The path of test capture `name`: the first folder of [`folders`] holding it, or an error
/// that lists where it looked.
pub fn capture(name: &str) -> Result<PathBuf, String> {
    let folders = folders();
    folders.iter().map(|d| d.join(name)).find(|p| p.is_file()).ok_or_else(|| {
        let looked: Vec<String> = folders.iter().map(|d| d.display().to_string()).collect();
        format!("test capture {name} not found in {}", looked.join(", "))
    })
}
