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

/// Lets GPU tests (wgpu rasterizer, burn-wgpu, the editor window) skip where the machine has no
/// Vulkan adapter or no Xvfb. With an adapter they run whatever this says.
pub const SKIP_GPU: &str = "SPLATSTITCH_SKIP_GPU";
/// Lets the interop tests skip where `@playcanvas/splat-transform` is not installed.
pub const SKIP_INTEROP: &str = "SPLATSTITCH_SKIP_INTEROP";
/// Lets the Slurm tests skip where a one-node cluster cannot start.
pub const SKIP_SLURM: &str = "SPLATSTITCH_SKIP_SLURM";
/// A file every skip is appended to (one line each), for a suite summary to count.
pub const SKIP_LOG: &str = "SPLATSTITCH_SKIP_LOG";

/// Called by a test whose requirement (`missing`) is absent. Returns — the test then returns
/// early, skipped — only when `variable` is set and this is not CI (`CI=true`), which installs
/// everything the tests need; otherwise the test fails here. A skip is written to the terminal
/// past the test harness's capture, so it never looks like a pass, and appended to the file
/// named by [`SKIP_LOG`].
pub fn skip(variable: &str, missing: &str) {
    let test = std::thread::current().name().unwrap_or("a test").to_string();
    let on_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if std::env::var_os(variable).is_none() {
        panic!("{test}: {missing} (set {variable}=1 to skip where that cannot be installed)");
    }
    if on_ci {
        panic!("{test}: {missing}, and {variable} is set on CI, which must install what the tests need");
    }
    let line = format!("SKIPPED {test} ({variable}): {missing}");
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
    if let Some(log) = std::env::var_os(SKIP_LOG)
        && let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(log)
    {
        let _ = writeln!(f, "{line}");
    }
}
