//! The editor's state, apart from its UI: the document and its history, the selected layer, the
//! camera, the tools' settings, alignment picks, the running stitch, loading and autosave. Every
//! edit is a method here that pushes an [`Edit`], so a panel's button and a test call the same
//! function; the panels (`crate::panels`) only draw this state and call these methods. Nothing
//! here needs a window: tests build an [`EditorState`] and drive it directly.

mod aligning;
mod files;
mod grading;
mod layers;
mod seam;
mod selecting;
mod stitching;
mod view_budget;

pub use aligning::AlignState;
pub use grading::{GradeScope, GradeSettings};
pub use selecting::{PickKind, SelectionSettings, SelectionShape, Tool};
pub use stitching::LastStitch;
pub use view_budget::MoveBudget;

use crate::autosave::Autosave;
use crate::camera::OrbitCamera;
use crate::document::{DocLayer, Document};
use crate::gizmo::GizmoKind;
use crate::history::{Edit, History};
use splatstitch_core::GaussianCloud;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a confirmation window is about to do.
pub enum Pending {
    Open(PathBuf),
    Recover(PathBuf),
}

pub struct EditorState {
    pub doc: Document,
    pub history: History,
    pub selected: Option<usize>,
    pub camera: OrbitCamera,
    pub tool: Tool,
    pub gizmo_kind: GizmoKind,
    pub show_gizmo: bool,
    /// Show the seam ∂B in the viewport, recomputed when K, β, τ or the scene change.
    pub show_boundary: bool,
    pub background: [f32; 3],
    pub selection_settings: SelectionSettings,
    pub align: AlignState,
    pub grade: GradeSettings,
    /// One line about the last thing that happened (the status bar).
    pub status: String,
    /// A problem the user must acknowledge (a window).
    pub error: Option<String>,
    /// Streamed SOG files waiting for their level of detail.
    pub lod_choice: Option<crate::lod_choice::LodChoice>,
    /// The window's GPU, shared with the optimizer when a stitch runs (None in UI tests).
    pub gpu: Option<splatstitch_render::gpu::GpuContext>,
    /// The last stitch: its report, and before/after clouds for the comparison toggle.
    pub last_stitch: Option<LastStitch>,
    pub(crate) stitch_run: Option<crate::stitching::StitchRun>,
    /// The target's cloud before a running stitch's previews replaced it.
    stitch_before: Option<(usize, Arc<GaussianCloud>)>,
    /// A grade being previewed (a slider held), outside the history until it is committed.
    grade_preview: Option<grading::Preview>,
    last_selection_grade: Option<grading::SelectionGrade>,
    seam: seam::SeamCache,
    /// The selected layer's KNN graph, keyed by its cloud (built on first use).
    knn: Option<(usize, crate::selection::KnnGraph)>,
    /// Bumped when the camera moves or anything is redrawn.
    pub(crate) view_version: u64,
    /// Bumped when the scene's Gaussians change (upload again).
    pub(crate) doc_version: u64,
    /// Bumped by edits, not by previews or the before/after toggle (colours only): the seam cache
    /// keys on it.
    seam_version: u64,
    saved_version: u64,
    loading: Option<files::Loading>,
    pub pending: Option<Pending>,
    pub recovery_offer: Option<PathBuf>,
    autosave: Option<Autosave>,
    /// How the viewport draws while the camera moves.
    pub move_budget: MoveBudget,
    proxy: view_budget::ProxyCache,
    /// What the viewport drew last, for the status bar ("moving: 300,000 of 1,000,000 …").
    pub view_note: String,
    /// The last viewport frame's draw time, and the last full-quality one's.
    pub frame_ms: f32,
    pub full_frame_ms: f32,
    /// The whole window's last frame (UI, viewport, drawing and presenting), as the window
    /// measured it; 0 where nothing paints a window (tests).
    pub window_frame_ms: f32,
    /// The viewport's size in pixels at the last frame.
    pub viewport_size: [u32; 2],
    /// Where the viewport was drawn, in UI points (tests and benchmarks aim clicks with it).
    pub viewport_rect: egui::Rect,
    /// Seconds from start to the first frame with splats, once known.
    pub first_frame: Option<f64>,
    pub(crate) started: Instant,
}

impl EditorState {
    pub fn new(doc: Document, autosave: Option<Autosave>) -> Self {
        let recovery_offer = autosave.as_ref().and_then(|a| a.pending());
        let selected = (!doc.layers.is_empty()).then_some(0);
        EditorState {
            doc,
            history: History::default(),
            selected,
            camera: OrbitCamera::default(),
            tool: Tool::Orbit,
            gizmo_kind: GizmoKind::default(),
            show_gizmo: true,
            show_boundary: true,
            background: [0.12, 0.12, 0.13],
            selection_settings: SelectionSettings::default(),
            align: AlignState::default(),
            grade: GradeSettings::default(),
            status: String::new(),
            error: None,
            lod_choice: None,
            gpu: None,
            last_stitch: None,
            stitch_run: None,
            stitch_before: None,
            grade_preview: None,
            last_selection_grade: None,
            seam: seam::SeamCache::default(),
            knn: None,
            view_version: 1,
            doc_version: 1,
            seam_version: 1,
            saved_version: 0,
            loading: None,
            pending: None,
            recovery_offer,
            autosave,
            move_budget: MoveBudget::default(),
            proxy: Default::default(),
            view_note: String::new(),
            frame_ms: 0.0,
            full_frame_ms: 0.0,
            window_frame_ms: 0.0,
            viewport_size: [0, 0],
            viewport_rect: egui::Rect::NOTHING,
            first_frame: None,
            started: Instant::now(),
        }
    }

    /// True when nothing is loading or stitching (tests wait for this).
    pub fn is_idle(&self) -> bool {
        self.loading.is_none() && self.stitch_run.is_none()
    }

    /// Takes in what background work finished (loading, a stitch's progress or result). Returns
    /// how soon to look again while work is running.
    pub fn poll(&mut self) -> Option<Duration> {
        let loading = self.poll_loading();
        let stitching = self.poll_stitch();
        loading.into_iter().chain(stitching).min()
    }

    /// Once a frame: writes the autosave when it is due.
    pub fn tick_autosave(&mut self) {
        if let Some(a) = &mut self.autosave
            && let Err(e) = a.tick(&self.doc, self.history.version, false)
        {
            self.status = format!("autosave failed: {e}");
        }
    }

    /// Call on a clean exit: the recovery file is removed.
    pub fn on_exit(&mut self) {
        if let Some(a) = &self.autosave {
            a.discard();
        }
    }

    /// Forces an autosave now (tests; a window losing focus).
    pub fn autosave_now(&mut self) -> Result<bool, String> {
        match &mut self.autosave {
            Some(a) => a.tick(&self.doc, self.history.version, true),
            None => Ok(false),
        }
    }

    pub fn has_unsaved_changes(&self) -> bool {
        self.history.version != self.saved_version
    }

    /// The view changed (camera): redraw.
    pub fn mark_view_changed(&mut self) {
        self.view_version += 1;
    }

    /// The scene changed: upload again and redraw.
    pub(crate) fn doc_changed(&mut self) {
        self.seam_version += 1;
        self.colours_changed();
    }

    /// Only colours changed (a preview, the before/after toggle): upload and redraw, the seam
    /// stays.
    pub(crate) fn colours_changed(&mut self) {
        self.doc_version += 1;
        self.view_version += 1;
    }

    /// The selected layer, when there is one.
    pub fn selected_layer(&self) -> Option<(usize, &DocLayer)> {
        self.selected.and_then(|i| self.doc.layers.get(i).map(|l| (i, l)))
    }

    // ----- history -----

    pub fn undo(&mut self) {
        self.commit_grade();
        if let Some(l) = self.history.undo(&mut self.doc) {
            self.status = format!("undid {l}");
            self.fix_selection();
            self.doc_changed();
        }
    }

    pub fn redo(&mut self) {
        self.commit_grade();
        if let Some(l) = self.history.redo(&mut self.doc) {
            self.status = format!("redid {l}");
            self.fix_selection();
            self.doc_changed();
        }
    }

    fn fix_selection(&mut self) {
        if self.selected.is_some_and(|s| s >= self.doc.layers.len()) {
            self.selected = self.doc.layers.len().checked_sub(1);
        }
    }

    /// Applies an edit as one undo step.
    pub fn apply(&mut self, edit: Edit) {
        self.history.push(edit, &mut self.doc);
        self.fix_selection();
        self.doc_changed();
    }

    /// Records an edit the UI already applied (a finished gizmo drag).
    pub fn record(&mut self, edit: Edit) {
        self.history.record(edit, &self.doc);
        self.mark_view_changed();
    }
}
