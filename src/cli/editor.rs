//! `splatstitch` (no command) and `splatstitch open`: the desktop editor.

use anyhow::Context;
use clap::Args;
use splatstitch_editor::autosave::{Autosave, recovery_path};
use splatstitch_editor::state::MoveBudget;
use splatstitch_editor::window::{Present, ViewportRenderer, WindowError, WindowOptions};
use splatstitch_editor::{Document, EditorApp};
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(after_help = "Without files the editor opens the bundled demo (assets/demo.toml). Mouse: left-drag \
orbits, right/middle-drag or Shift+left pans, wheel zooms; W/A/S/D/Q/E fly, F focuses the selected layer, \
Home resets the view; G/R/T pick move/rotate/scale for the gizmo; Ctrl+Z / Ctrl+Shift+Z undo and redo; \
Ctrl+S saves the job. The session is autosaved every minute and offered back after a crash.")]
pub struct OpenArgs {
    /// Captures (.ply, .compressed.ply, .splat, .spz, .sog, .glb, .gltf, meta.json, lod-meta.json)
    /// to add as layers, or one job file (.toml).
    pub files: Vec<PathBuf>,
    /// While the camera moves, draw at most this many Gaussians (the most opaque and largest,
    /// chosen once per scene), the whole scene once it stops; 0 always draws everything.
    #[arg(long, default_value_t = MoveBudget::default().gaussians)]
    pub move_budget: usize,
    /// While the camera moves, draw at this fraction of the viewport's resolution when a full
    /// frame takes longer than 60 ms (0.1 to 1; 1 keeps full resolution).
    #[arg(long, default_value_t = MoveBudget::default().resolution, value_parser = resolution_fraction)]
    pub move_resolution: f32,
    /// While the camera moves, keep the whole window's frame under this many milliseconds by
    /// drawing fewer of the budget's Gaussians (halvings down to 5,000); 0 keeps the budget fixed
    #[arg(long, default_value_t = MoveBudget::default().target_ms, value_parser = frame_target)]
    pub move_target_ms: f32,
    /// How frames reach the screen: in step with the display (no tearing) or as soon as drawn
    #[arg(long, value_enum, default_value_t = PresentArg::Vsync)]
    pub present: PresentArg,
    /// Which renderer draws the viewport: `auto` is the GPU rasterizer on a GPU and its CPU twin
    /// on a software adapter, where the twin is 3–9× faster
    #[arg(long, value_enum, default_value_t = ViewportArg::Auto)]
    pub viewport: ViewportArg,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PresentArg {
    /// In step with the display (no tearing)
    Vsync,
    /// As soon as a frame is drawn
    NoVsync,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewportArg {
    Auto,
    Gpu,
    Cpu,
}

impl OpenArgs {
    fn window_options(&self) -> WindowOptions {
        WindowOptions {
            present: match self.present {
                PresentArg::Vsync => Present::Vsync,
                PresentArg::NoVsync => Present::NoVsync,
            },
            viewport: match self.viewport {
                ViewportArg::Auto => ViewportRenderer::Auto,
                ViewportArg::Gpu => ViewportRenderer::Gpu,
                ViewportArg::Cpu => ViewportRenderer::Cpu,
            },
        }
    }
}

impl OpenArgs {
    /// The editor on `files` with every setting at its default.
    pub fn of(files: Vec<PathBuf>) -> Self {
        let b = MoveBudget::default();
        OpenArgs {
            files,
            move_budget: b.gaussians,
            move_resolution: b.resolution,
            move_target_ms: b.target_ms,
            present: PresentArg::Vsync,
            viewport: ViewportArg::Auto,
        }
    }
}

fn frame_target(s: &str) -> Result<f32, String> {
    let v: f32 = s.parse().map_err(|e| format!("`{s}`: {e}"))?;
    if v == 0.0 || (10.0..=1000.0).contains(&v) { Ok(v) } else { Err(format!("{v} is neither 0 nor in 10..=1000")) }
}

fn resolution_fraction(s: &str) -> Result<f32, String> {
    let v: f32 = s.parse().map_err(|e| format!("`{s}`: {e}"))?;
    if (0.1..=1.0).contains(&v) { Ok(v) } else { Err(format!("{v} is outside 0.1..=1")) }
}

/// The bundled demo job: next to the working directory's assets, or the source tree's.
fn demo_job() -> Option<PathBuf> {
    [PathBuf::from("assets/demo.toml"), PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo.toml")]
        .into_iter()
        .find(|p| p.is_file())
}

fn has_display() -> bool {
    !cfg!(target_os = "linux") || ["DISPLAY", "WAYLAND_DISPLAY"].iter().any(|v| std::env::var_os(v).is_some())
}

pub fn run(a: OpenArgs) -> anyhow::Result<()> {
    if !has_display() {
        return Err(WindowError::NoDisplay("neither DISPLAY nor WAYLAND_DISPLAY is set".into()).into());
    }
    for f in &a.files {
        if !f.exists() {
            anyhow::bail!("{}: no such file", f.display());
        }
    }
    let options = a.window_options();
    let mut app = EditorApp::new(Document::default(), Some(Autosave::new(recovery_path())));
    app.state.move_budget.gaussians = a.move_budget;
    app.state.move_budget.resolution = a.move_resolution;
    app.state.move_budget.target_ms = a.move_target_ms;
    let files = if a.files.is_empty() { demo_job().into_iter().collect() } else { a.files };
    app.state.add_files(files);
    splatstitch_editor::window::run(app, options).context("editor")
}
