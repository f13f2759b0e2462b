//! The editor's state and its egui UI: menu, layers, properties with numeric transforms and the
//! gizmo, history, status bar and the viewport with its camera controls. The window (GPU) and
//! the UI tests (CPU) drive the same [`EditorApp::ui`].

use crate::autosave::Autosave;
use crate::camera::{OrbitCamera, UpAxis};
use crate::document::{DocLayer, Document, capture_name, default_role, load_capture, unique_name};
use crate::gizmo::{GizmoKind, LayerGizmo};
use crate::history::{Edit, History, role_name};
use crate::viewport::{ViewRequest, ViewportBackend};
use glam::Vec3;
use splatstitch_core::{GaussianCloud, LayerFlags, Role};
use splatstitch_render::RenderLayer;
use splatstitch_stitch::job::TransformSpec;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};
use std::time::Instant;

/// Largest viewport side rendered, in pixels.
const MAX_VIEWPORT: f32 = 4096.0;

enum Loaded {
    Captures(Vec<(PathBuf, Option<u32>, GaussianCloud)>),
    // Boxed: a document (with its blend settings) is far larger than a list of captures.
    Document { doc: Box<Document>, recovered: bool },
}

struct Loading {
    what: String,
    started: Instant,
    rx: Receiver<Result<Loaded, String>>,
}

/// What a confirmation window is about to do.
enum Pending {
    Open(PathBuf),
    Recover(PathBuf),
}

/// The numeric transform fields, as typed.
#[derive(Default)]
struct TransformText {
    layer: Option<usize>,
    version: u64,
    fields: [String; 7],
}

const FIELD_LABELS: [&str; 7] =
    ["scale", "rotate x", "rotate y", "rotate z", "translate x", "translate y", "translate z"];

fn fields_of(t: &TransformSpec) -> [f32; 7] {
    [t.scale, t.rotate_deg[0], t.rotate_deg[1], t.rotate_deg[2], t.translate[0], t.translate[1], t.translate[2]]
}

fn with_field(t: &TransformSpec, i: usize, v: f32) -> TransformSpec {
    let mut t = t.clone();
    match i {
        0 => t.scale = v,
        1..=3 => t.rotate_deg[i - 1] = v,
        _ => t.translate[i - 4] = v,
    }
    t
}

/// What a cached seam was computed for: layer count, scene version, K and β, τ.
type SeamKey = (usize, u64, u32, u32);

/// A similarity as the job's transform fields.
fn spec_of(t: &splatstitch_core::Similarity) -> TransformSpec {
    TransformSpec {
        scale: t.scale,
        rotate_deg: crate::gizmo::quat_to_euler_deg(t.rotation),
        translate: t.translation.to_array(),
    }
}

/// A finished stitch, for the before/after toggle and its metrics.
pub struct LastStitch {
    pub layer: usize,
    pub before: Arc<GaussianCloud>,
    pub after: Arc<GaussianCloud>,
    pub report: splatstitch_stitch::Report,
    pub showing_after: bool,
}

/// A screen-space selection shape, in points relative to the viewport's top-left corner.
#[derive(Debug, Clone)]
enum Shape {
    Rect(egui::Rect),
    Lasso(Vec<egui::Pos2>),
    Brush(Vec<egui::Pos2>, f32),
    Click(egui::Pos2),
}

/// What a left-drag in the viewport does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tool {
    #[default]
    Orbit,
    /// Select the selected layer's Gaussians whose centres fall in a screen rectangle.
    Rectangle,
    /// … inside a free-hand polygon.
    Lasso,
    /// … under a round brush stroke.
    Brush,
    /// Click a Gaussian: select what its colour or its connected region says (see `PickKind`).
    Pick,
    /// Click point pairs: on the selected layer, then on the fixed layer, alternately.
    Align,
}

/// What a click with the pick tool selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PickKind {
    /// Flood over the KNN graph, stopping at distance and colour jumps.
    #[default]
    ConnectedRegion,
    /// Every Gaussian of a similar colour (eyedropper).
    Colour,
}

/// Settings of the selection tools.
#[derive(Debug, Clone)]
pub struct SelectionSettings {
    pub brush_radius: f32,
    /// Screen tools take only Gaussians on the rendered surface, not those behind it.
    pub visible_only: bool,
    pub pick: PickKind,
    pub colour_tolerance: f32,
    /// As a fraction of the layer's bounding-box diagonal.
    pub max_distance: f32,
    pub max_colour_jump: f32,
    pub opacity: (f32, f32),
    pub size: (f32, f32),
    /// World-space box and sphere volumes.
    pub box_min: [f32; 3],
    pub box_max: [f32; 3],
    pub sphere_centre: [f32; 3],
    pub sphere_radius: f32,
}

impl Default for SelectionSettings {
    fn default() -> Self {
        Self {
            brush_radius: 20.0,
            visible_only: false,
            pick: PickKind::ConnectedRegion,
            colour_tolerance: 0.1,
            max_distance: 0.02,
            max_colour_jump: 0.25,
            opacity: (0.0, 1.0),
            size: (0.0, 10.0),
            box_min: [-0.5; 3],
            box_max: [0.5; 3],
            sphere_centre: [0.0; 3],
            sphere_radius: 0.25,
        }
    }
}

/// The live (not hidden, not deleted) centre of `l` under the cursor: among those within
/// `radius` pixels of `at`, the front-most surface (depth within 2 % of the nearest), and on it
/// the one closest to the cursor.
fn pick_centre(l: &DocLayer, projected: &[Option<(glam::Vec2, f32)>], at: glam::Vec2, radius: f32) -> Option<usize> {
    let near: Vec<(usize, f32, f32)> = projected
        .iter()
        .enumerate()
        .filter_map(|(g, q)| {
            let f = l.flags[g];
            let (q, z) = (*q)?;
            let d = q.distance(at);
            (!f.has(LayerFlags::HIDDEN) && !f.has(LayerFlags::DELETED) && d <= radius).then_some((g, d, z))
        })
        .collect();
    // Faint floaters are not the surface the user points at.
    let solid: Vec<(usize, f32, f32)> =
        near.iter().copied().filter(|n| splatstitch_core::cloud::sigmoid(l.cloud.opacities[n.0]) > 0.5).collect();
    let near = if solid.is_empty() { near } else { solid };
    let front = near.iter().map(|n| n.2).fold(f32::MAX, f32::min);
    near.into_iter().filter(|n| n.2 <= front * 1.02).min_by(|a, b| a.1.total_cmp(&b.1)).map(|n| n.0)
}

/// Point pairs picked for aligning the selected ("moving") layer to a fixed one.
#[derive(Debug, Clone, Default)]
pub struct AlignState {
    pub fixed: Option<usize>,
    /// Picked on the moving layer, in its own (untransformed) frame.
    pub moving_points: Vec<glam::Vec3>,
    /// Picked on the fixed layer, in world space.
    pub fixed_points: Vec<glam::Vec3>,
    pub last: Option<crate::alignment::Fit>,
}

pub struct EditorApp {
    pub align: AlignState,
    /// The window's GPU, shared with the optimizer when a stitch runs (None in UI tests).
    pub gpu: Option<splatstitch_render::gpu::GpuContext>,
    stitch_run: Option<crate::stitching::StitchRun>,
    /// Show the seam ∂B in the viewport, recomputed when K, β, τ or the scene change.
    pub show_boundary: bool,
    /// World positions of ∂B's members, and what they were computed for.
    boundary: Option<(SeamKey, Vec<glam::Vec3>)>,
    /// The target's cloud before a running stitch's previews replaced it.
    stitch_before: Option<(usize, Arc<GaussianCloud>)>,
    /// The last stitch: its report, and before/after clouds for the comparison toggle.
    pub last_stitch: Option<LastStitch>,
    pub doc: Document,
    pub tool: Tool,
    pub history: History,
    pub camera: OrbitCamera,
    pub selected: Option<usize>,
    pub status: String,
    pub error: Option<String>,
    /// Streamed SOG files waiting for their level of detail.
    pub lod_choice: Option<crate::lod_choice::LodChoice>,
    pub show_gizmo: bool,
    gizmo: LayerGizmo,
    /// Transform of the selected layer when a gizmo drag started.
    drag_start: Option<(usize, TransformSpec)>,
    /// Where a rectangle selection drag started (screen points).
    rect_drag: Option<egui::Pos2>,
    /// A finished screen shape (points relative to the viewport) and its mode, applied when the
    /// camera is known.
    pending_shape: Option<(Shape, crate::selection::Mode)>,
    /// Points of a lasso or brush stroke being drawn (screen points).
    stroke: Vec<egui::Pos2>,
    pub selection_settings: SelectionSettings,
    /// The selected layer's KNN graph, keyed by its cloud (built on first use).
    knn: Option<(usize, crate::selection::KnnGraph)>,
    view_version: u64,
    doc_version: u64,
    /// Bumped by edits, not by stitch previews or the before/after toggle (colours only): the
    /// seam cache keys on it.
    seam_version: u64,
    saved_version: u64,
    loading: Option<Loading>,
    pending: Option<Pending>,
    recovery_offer: Option<PathBuf>,
    autosave: Option<Autosave>,
    transform_text: TransformText,
    rename_text: (Option<usize>, String),
    pub frame_ms: f32,
    /// The viewport's size in pixels at the last frame.
    pub viewport_size: [u32; 2],
    /// The viewport's rectangle in screen points at the last frame.
    pub viewport_rect: egui::Rect,
    /// Seconds from start to the first frame with splats, once known.
    pub first_frame: Option<f64>,
    started: Instant,
    pub background: [f32; 3],
}

impl EditorApp {
    pub fn new(doc: Document, autosave: Option<Autosave>) -> Self {
        let recovery_offer = autosave.as_ref().and_then(|a| a.pending());
        let mut app = EditorApp {
            align: AlignState::default(),
            gpu: None,
            stitch_run: None,
            stitch_before: None,
            show_boundary: true,
            boundary: None,
            last_stitch: None,
            doc,
            tool: Tool::Orbit,
            rect_drag: None,
            pending_shape: None,
            stroke: Vec::new(),
            selection_settings: SelectionSettings::default(),
            knn: None,
            history: History::default(),
            camera: OrbitCamera::default(),
            selected: None,
            status: String::new(),
            error: None,
            lod_choice: None,
            show_gizmo: true,
            gizmo: LayerGizmo::default(),
            drag_start: None,
            view_version: 1,
            doc_version: 1,
            seam_version: 1,
            saved_version: 0,
            loading: None,
            pending: None,
            recovery_offer,
            autosave,
            transform_text: TransformText::default(),
            rename_text: (None, String::new()),
            frame_ms: 0.0,
            viewport_size: [0, 0],
            viewport_rect: egui::Rect::NOTHING,
            first_frame: None,
            started: Instant::now(),
            background: [0.12, 0.12, 0.13],
        };
        app.selected = (!app.doc.layers.is_empty()).then_some(0);
        app
    }

    /// True when nothing is loading (tests wait for this).
    pub fn is_idle(&self) -> bool {
        self.loading.is_none() && self.stitch_run.is_none()
    }

    /// Starts the stitch of the current document on a worker thread.
    pub fn start_stitch(&mut self) {
        if self.stitch_run.is_some() {
            return;
        }
        match crate::stitching::StitchRun::start(&self.doc, self.gpu.clone()) {
            Ok(r) => {
                self.status = "stitching…".into();
                self.stitch_run = Some(r);
            }
            Err(e) => self.error = Some(format!("cannot stitch: {e}")),
        }
    }

    pub fn cancel_stitch(&mut self) {
        if let Some(r) = &self.stitch_run {
            r.cancel();
        }
    }

    fn poll_stitch(&mut self, ctx: &egui::Context) {
        let Some(run) = &self.stitch_run else { return };
        let Some(result) = run.poll() else {
            // Live preview: shown on the target, outside the history until the run ends.
            let preview = run.preview.lock().ok().and_then(|mut g| g.take());
            if let Some(cloud) = preview
                && let Some(l) = self.doc.layers.get_mut(run.target)
                && l.len() == cloud.len()
            {
                if self.stitch_before.is_none() {
                    self.stitch_before = Some((run.target, l.cloud.clone()));
                }
                l.cloud = Arc::new(cloud);
                self.doc_version += 1;
                self.view_version += 1;
            }
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
            return;
        };
        let secs = run.started.elapsed().as_secs_f32();
        self.stitch_run = None;
        if let Some((t, before)) = self.stitch_before.take()
            && let Some(l) = self.doc.layers.get_mut(t)
        {
            l.cloud = before;
            self.doc_version += 1;
            self.view_version += 1;
        }
        match result {
            Err(e) if e.contains("cancelled") => self.status = "stitch cancelled; nothing changed".into(),
            Err(e) => self.error = Some(format!("stitch failed: {e}")),
            Ok(r) => {
                let before = self.doc.layers[r.target].cloud.clone();
                let after = Arc::new(r.blended);
                let label = format!("stitch ({:?})", r.report.method).to_lowercase();
                self.apply(Edit::Cloud { layer: r.target, label, before: before.clone(), after: after.clone() });
                self.status = format!("stitched in {secs:.1} s on {}", r.report.backend);
                if r.report.validation.kept_input {
                    self.status += "; kept the input's colours (nothing beat them on the validation views)";
                }
                self.last_stitch =
                    Some(LastStitch { layer: r.target, before, after, report: r.report, showing_after: true });
            }
        }
    }

    pub fn has_unsaved_changes(&self) -> bool {
        self.history.version != self.saved_version
    }

    /// The view changed (camera): redraw.
    fn changed(&mut self) {
        self.view_version += 1;
    }

    /// Redraw the viewport (benchmarks animate the camera from outside).
    pub fn mark_view_changed(&mut self) {
        self.changed();
    }

    /// The scene changed: upload again and redraw.
    fn doc_changed(&mut self) {
        self.seam_version += 1;
        self.doc_version += 1;
        self.view_version += 1;
    }

    // ----- documents and files -----

    fn start_loading(&mut self, what: String, f: impl FnOnce() -> Result<Loaded, String> + Send + 'static) {
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        self.status = format!("loading {what}…");
        self.loading = Some(Loading { what, started: Instant::now(), rx });
    }

    /// Opens a job in the background; asks first when there are unsaved changes.
    pub fn open_job(&mut self, path: PathBuf) {
        if self.has_unsaved_changes() && !self.doc.layers.is_empty() {
            self.pending = Some(Pending::Open(path));
            return;
        }
        self.open_job_now(path, false);
    }

    fn open_job_now(&mut self, path: PathBuf, recovered: bool) {
        let what = path.display().to_string();
        self.start_loading(what, move || {
            let mut doc = Document::open_job(&path).map_err(|e| e.to_string())?;
            if recovered {
                doc.path = None;
            }
            Ok(Loaded::Document { doc: Box::new(doc), recovered })
        });
    }

    /// Adds captures as new layers (job files open instead), in the background.
    pub fn add_files(&mut self, paths: Vec<PathBuf>) {
        if let Some(job) = paths.iter().find(|p| p.extension().is_some_and(|e| e == "toml")) {
            self.open_job(job.clone());
            return;
        }
        if paths.is_empty() {
            return;
        }
        if let Some(choice) = crate::lod_choice::LodChoice::for_paths(&paths) {
            self.lod_choice = Some(choice);
            return;
        }
        self.add_files_at_levels(paths.into_iter().map(|p| (p, None)).collect());
    }

    /// Adds captures, each read at its level of detail (streamed SOG), in the background.
    pub fn add_files_at_levels(&mut self, requests: Vec<crate::lod_choice::Request>) {
        let paths: Vec<&PathBuf> = requests.iter().map(|(p, _)| p).collect();
        let bytes: u64 = paths.iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum();
        let what = if paths.len() == 1 { paths[0].display().to_string() } else { format!("{} files", paths.len()) };
        let what = format!("{what}, {:.1} MB", bytes as f64 / 1e6);
        self.start_loading(what, move || {
            requests
                .into_iter()
                .map(|(p, lod)| load_capture(&p, None, lod).map(|c| (p, lod, c)).map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, _>>()
                .map(Loaded::Captures)
        });
    }

    fn poll_loading(&mut self, ctx: &egui::Context) {
        let Some(l) = &self.loading else { return };
        let msg = match l.rx.try_recv() {
            Ok(m) => m,
            Err(std::sync::mpsc::TryRecvError::Empty) => {
                ctx.request_repaint_after(std::time::Duration::from_millis(50));
                return;
            }
            Err(std::sync::mpsc::TryRecvError::Disconnected) => Err("the loader stopped unexpectedly".into()),
        };
        let l = self.loading.take().expect("checked above");
        match msg {
            Err(e) => self.error = Some(e),
            Ok(Loaded::Captures(captures)) => {
                let mut edits = Vec::new();
                let mut doc = self.doc.clone();
                for (path, lod, cloud) in captures {
                    let mut layer = DocLayer::new(
                        unique_name(&doc.layers, &capture_name(&path)),
                        std::path::absolute(&path).unwrap_or(path),
                        default_role(&doc.layers),
                        cloud,
                    );
                    layer.lod = lod;
                    let edit = Edit::Add { index: doc.layers.len(), layer: Box::new(layer) };
                    edit.apply(&mut doc);
                    edits.push(edit);
                }
                let label = format!("add {}", l.what);
                let first_new = self.doc.layers.len();
                let edit = if edits.len() == 1 { edits.pop().expect("one") } else { Edit::Batch { label, edits } };
                self.history.push(edit, &mut self.doc);
                self.selected = Some(first_new);
                if first_new == 0 {
                    self.frame_all();
                }
                self.status = format!("loaded {} in {:.1} s", l.what, l.started.elapsed().as_secs_f32());
                self.doc_changed();
            }
            Ok(Loaded::Document { doc, recovered }) => {
                self.doc = *doc;
                self.history.clear();
                self.saved_version = if recovered { u64::MAX } else { self.history.version };
                self.selected = (!self.doc.layers.is_empty()).then_some(0);
                self.frame_all();
                self.status = format!(
                    "{} {} in {:.1} s",
                    if recovered { "recovered" } else { "opened" },
                    l.what,
                    l.started.elapsed().as_secs_f32()
                );
                self.doc_changed();
            }
        }
    }

    /// Saves the job to its path (or `path`), reporting problems in the UI.
    pub fn save_job(&mut self, path: Option<PathBuf>) -> bool {
        let Some(path) = path.or_else(|| self.doc.path.clone()) else {
            return self.save_job_as();
        };
        match self.doc.save_job(&path) {
            Ok(warning) => {
                self.saved_version = self.history.version;
                self.status = warning.unwrap_or_else(|| format!("saved {}", path.display()));
                true
            }
            Err(e) => {
                self.error = Some(e.to_string());
                false
            }
        }
    }

    fn save_job_as(&mut self) -> bool {
        match rfd::FileDialog::new().add_filter("splatstitch job", &["toml"]).set_file_name("scene.toml").save_file() {
            Some(p) => self.save_job(Some(p)),
            None => false,
        }
    }

    /// Exports the baked composite (format by extension).
    pub fn export(&mut self, path: &Path) -> bool {
        match self.doc.export(path) {
            Ok(n) => {
                self.status = format!("exported {n} Gaussians to {}", path.display());
                true
            }
            Err(e) => {
                self.error = Some(e.to_string());
                false
            }
        }
    }

    // ----- edits -----

    pub fn undo(&mut self) {
        if let Some(l) = self.history.undo(&mut self.doc) {
            self.status = format!("undid {l}");
            self.fix_selection();
            self.doc_changed();
        }
    }

    pub fn redo(&mut self) {
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

    pub fn apply(&mut self, edit: Edit) {
        self.history.push(edit, &mut self.doc);
        self.fix_selection();
        self.doc_changed();
    }

    /// Sets a layer's role; a new target demotes the old one to fixed, in the same step.
    pub fn set_role(&mut self, layer: usize, role: Role) {
        let before = self.doc.layers[layer].role;
        if before == role {
            return;
        }
        let mut edits = vec![Edit::Role { layer, before, after: role }];
        if role == Role::Target {
            for (i, l) in self.doc.layers.iter().enumerate() {
                if i != layer && l.role == Role::Target {
                    edits.push(Edit::Role { layer: i, before: Role::Target, after: Role::Fixed });
                }
            }
        }
        let edit = if edits.len() == 1 {
            edits.pop().expect("one")
        } else {
            Edit::Batch { label: format!("{} is target", self.doc.layers[layer].name), edits }
        };
        self.apply(edit);
    }

    pub fn set_transform(&mut self, layer: usize, after: TransformSpec) {
        let before = self.doc.layers[layer].transform.clone();
        if before != after {
            self.apply(Edit::Transform { layer, before, after });
        }
    }

    pub fn duplicate(&mut self, layer: usize) {
        let mut copy = self.doc.layers[layer].clone();
        copy.name = unique_name(&self.doc.layers, &format!("{} copy", copy.name));
        if copy.role == Role::Target {
            copy.role = Role::Fixed;
        }
        self.apply(Edit::Add { index: layer + 1, layer: Box::new(copy) });
        self.selected = Some(layer + 1);
    }

    pub fn remove(&mut self, layer: usize) {
        let l = self.doc.layers[layer].clone();
        self.apply(Edit::Remove { index: layer, layer: Box::new(l) });
    }

    /// Turns a finished screen shape into hits on the selected layer.
    fn apply_shape(
        &mut self,
        shape: Shape,
        mode: crate::selection::Mode,
        camera: &splatstitch_render::Camera,
        ppp: f32,
    ) {
        use crate::selection as sel;
        if let (Tool::Align, Shape::Click(p)) = (self.tool, &shape) {
            self.pick_align_point(*p, camera, ppp);
            return;
        }
        let Some(l) = self.selected.and_then(|i| self.doc.layers.get(i)) else { return };
        let t = l.transform.similarity();
        let projected = sel::project(&l.cloud, &t, camera);
        let px = |p: egui::Pos2| glam::Vec2::new(p.x, p.y) * ppp;
        let screen_tool = !matches!(shape, Shape::Click(_));
        let mut hits = match shape {
            Shape::Rect(r) => sel::rectangle(&projected, px(r.min), px(r.max)),
            Shape::Lasso(points) => sel::lasso(&projected, &points.into_iter().map(px).collect::<Vec<_>>()),
            Shape::Brush(points, radius) => {
                sel::brush(&projected, &points.into_iter().map(px).collect::<Vec<_>>(), radius * ppp)
            }
            Shape::Click(p) => {
                let Some(g) = pick_centre(l, &projected, px(p), 8.0 * ppp) else {
                    self.status = "nothing under the cursor".into();
                    return;
                };
                let s = self.selection_settings.clone();
                match s.pick {
                    PickKind::Colour => sel::by_colour(&l.cloud, sel::base_colour(&l.cloud, g), s.colour_tolerance),
                    PickKind::ConnectedRegion => {
                        let diag = l.cloud.bounds().map_or(1.0, |(a, b)| (b - a).length());
                        let cloud = l.cloud.clone();
                        self.knn_graph().connected_region(&cloud, g, s.max_distance * diag, s.max_colour_jump)
                    }
                }
            }
        };
        if screen_tool && self.selection_settings.visible_only {
            // The surface as rendered, every visible layer occluding.
            let layers = self.render_layers();
            match splatstitch_render::depth_cpu(&splatstitch_render::RenderScene { layers }, camera, 0) {
                Ok(depth) => sel::visible_only(&mut hits, &projected, &depth, camera.width as usize, 0.02),
                Err(e) => self.status = format!("visible surface: {e}"),
            }
        }
        self.select_hits(&hits, mode);
    }

    /// Adds a picked point: on the moving (selected) layer when the pairs are complete, else on
    /// the fixed layer.
    fn pick_align_point(&mut self, p: egui::Pos2, camera: &splatstitch_render::Camera, ppp: f32) {
        let (Some(moving), Some(fixed)) = (self.selected, self.align.fixed) else {
            self.status = "choose the fixed layer first".into();
            return;
        };
        let on_moving = self.align.moving_points.len() == self.align.fixed_points.len();
        let i = if on_moving { moving } else { fixed };
        let Some(l) = self.doc.layers.get(i) else { return };
        let t = l.transform.similarity();
        let projected = crate::selection::project(&l.cloud, &t, camera);
        let Some(g) = pick_centre(l, &projected, glam::Vec2::new(p.x, p.y) * ppp, 6.0 * ppp) else {
            self.status = format!("no Gaussian of {} under the cursor", l.name);
            return;
        };
        let local = glam::Vec3::from(l.cloud.positions[g]);
        if on_moving {
            self.align.moving_points.push(local);
        } else {
            self.align.fixed_points.push(t.transform_point(local));
        }
        self.status = format!("{} points picked", self.align.moving_points.len() + self.align.fixed_points.len());
    }

    /// Fits the moving layer's transform to the picked pairs (one undo step).
    pub fn align_from_pairs(&mut self) {
        let Some(moving) = self.selected else { return };
        let n = self.align.fixed_points.len();
        match crate::alignment::fit_similarity(&self.align.moving_points[..n], &self.align.fixed_points) {
            Some(fit) => {
                self.set_transform(moving, spec_of(&fit.transform));
                self.status = format!("aligned from {} pairs: residual {:.4}", fit.pairs, fit.rms);
                self.align.last = Some(fit);
            }
            None => self.error = Some("alignment needs 3 or more point pairs, not all on one line".into()),
        }
    }

    /// Refines the moving layer's transform by ICP against the fixed layer (one undo step).
    pub fn align_icp(&mut self) {
        let (Some(moving), Some(fixed)) = (self.selected, self.align.fixed) else { return };
        let (m, f) = (&self.doc.layers[moving], &self.doc.layers[fixed]);
        let stride = (m.len() / 20_000).max(1);
        let moving_pts: Vec<glam::Vec3> =
            m.cloud.positions.iter().step_by(stride).map(|p| glam::Vec3::from(*p)).collect();
        let ft = f.transform.similarity();
        let fixed_pts: Vec<glam::Vec3> =
            f.cloud.positions.iter().map(|p| ft.transform_point(glam::Vec3::from(*p))).collect();
        let diag = self.bounds(Some(fixed)).map_or(1.0, |(a, b)| (b - a).length());
        match crate::alignment::icp(&moving_pts, &fixed_pts, m.transform.similarity(), 0.05 * diag, 30) {
            Some(fit) => {
                self.set_transform(moving, spec_of(&fit.transform));
                self.status = format!("ICP over {} pairs: residual {:.4}", fit.pairs, fit.rms);
                self.align.last = Some(fit);
            }
            None => self.error = Some("ICP found too few nearby Gaussian pairs: align roughly first".into()),
        }
    }

    /// ∂B of the current scene and parameters (cached): the target's Gaussians at the seam, in
    /// world space. Empty without exactly one target and a source.
    pub fn boundary_points(&mut self) -> &[glam::Vec3] {
        let b = &self.doc.blend;
        let key = (self.doc.layers.len(), self.seam_version, b.beta.to_bits() ^ (b.k as u32), b.tau.to_bits());
        if self.boundary.as_ref().is_none_or(|(k, _)| *k != key) {
            let points = self.compute_boundary();
            self.boundary = Some((key, points));
        }
        &self.boundary.as_ref().expect("computed above").1
    }

    fn compute_boundary(&self) -> Vec<glam::Vec3> {
        use splatstitch_stitch::compose::with_sh_degree;
        let layers = &self.doc.layers;
        let targets: Vec<usize> = (0..layers.len()).filter(|&i| layers[i].role == Role::Target).collect();
        let [t] = targets[..] else { return Vec::new() };
        let bake = |l: &DocLayer| {
            let mut c = l.kept();
            l.transform.similarity().bake(&mut c);
            c
        };
        let target = bake(&layers[t]);
        let mut sources: Option<GaussianCloud> = None;
        for l in layers.iter().filter(|l| l.role == Role::Source) {
            let c = with_sh_degree(&bake(l), target.sh_degree);
            match &mut sources {
                Some(s) => s.append(&c),
                None => sources = Some(c),
            }
        }
        let Some(sources) = sources else { return Vec::new() };
        let (lo, hi) = match (target.bounds(), sources.bounds()) {
            (Some((a, b)), Some((c, d))) => (a.min(c), b.max(d)),
            _ => return Vec::new(),
        };
        let b = &self.doc.blend;
        let params = splatstitch_stitch::BoundaryParams { k: b.k, beta: b.beta, tau: b.tau };
        let found = splatstitch_stitch::find_boundary(&target, &sources, params, (hi - lo).length());
        found.members.iter().map(|&m| glam::Vec3::from(target.positions[m as usize])).collect()
    }

    /// The selected layer's KNN graph (K = 8), built once per cloud.
    fn knn_graph(&mut self) -> &crate::selection::KnnGraph {
        let l = &self.doc.layers[self.selected.expect("a selected layer")];
        let key = Arc::as_ptr(&l.cloud) as usize;
        if self.knn.as_ref().is_none_or(|(k, _)| *k != key) {
            self.knn = Some((key, crate::selection::KnnGraph::new(&l.cloud, 8)));
        }
        &self.knn.as_ref().expect("built above").1
    }

    /// Grows (or shrinks) the selection by `rings` neighbourhood rings.
    pub fn grow_selection(&mut self, rings: isize) {
        let Some(l) = self.selected.and_then(|i| self.doc.layers.get(i)) else { return };
        let current: Vec<bool> = l.flags.iter().map(|f| f.has(LayerFlags::SELECTED)).collect();
        let g = self.knn_graph();
        let hits = if rings >= 0 { g.grow(&current, rings as usize) } else { g.shrink(&current, (-rings) as usize) };
        self.select_hits(&hits, crate::selection::Mode::Replace);
    }

    /// Replaces the selected layer's flags through `f` as one undoable edit.
    pub fn change_flags(&mut self, label: &str, f: impl Fn(usize, LayerFlags) -> LayerFlags) {
        let Some(i) = self.selected.filter(|&i| i < self.doc.layers.len()) else { return };
        let before = self.doc.layers[i].flags.clone();
        let after: Vec<LayerFlags> = before.iter().enumerate().map(|(g, fl)| f(g, *fl)).collect();
        if after != *before {
            self.apply(Edit::Flags { layer: i, label: label.into(), before, after: Arc::new(after) });
        }
    }

    /// Selects by a per-Gaussian hit list with a combine mode; hidden and deleted never join.
    pub fn select_hits(&mut self, hits: &[bool], mode: crate::selection::Mode) {
        use crate::selection::Mode;
        self.change_flags("select", |g, fl| {
            let live = !fl.has(LayerFlags::HIDDEN) && !fl.has(LayerFlags::DELETED);
            let was = fl.has(LayerFlags::SELECTED);
            let h = hits.get(g).copied().unwrap_or(false) && live;
            let now = match mode {
                Mode::Replace => h,
                Mode::Add => was || h,
                Mode::Subtract => was && !h,
                Mode::Intersect => was && h,
            };
            let mut out = fl;
            out.set(LayerFlags::SELECTED, now);
            out
        });
    }

    pub fn select_all(&mut self, on: bool) {
        self.select_hits(&vec![on; self.selected_layer_len()], crate::selection::Mode::Replace);
    }

    pub fn invert_selection(&mut self) {
        let Some(l) = self.selected.and_then(|i| self.doc.layers.get(i)) else { return };
        let hits: Vec<bool> = l.flags.iter().map(|f| !f.has(LayerFlags::SELECTED)).collect();
        self.select_hits(&hits, crate::selection::Mode::Replace);
    }

    /// Hides (or deletes) the selected Gaussians, deselecting them.
    pub fn hide_selected(&mut self, bit: u8) {
        let label = if bit == LayerFlags::DELETED { "delete selected" } else { "hide selected" };
        self.change_flags(label, |_, fl| {
            let mut out = fl;
            if fl.has(LayerFlags::SELECTED) {
                out.set(bit, true);
                out.set(LayerFlags::SELECTED, false);
            }
            out
        });
    }

    pub fn unhide_all(&mut self) {
        self.change_flags("unhide all", |_, fl| {
            let mut out = fl;
            out.set(LayerFlags::HIDDEN, false);
            out
        });
    }

    /// Copies the selected Gaussians into a new layer; `separate` also deletes them from the
    /// original (one undo step either way).
    pub fn selection_to_layer(&mut self, separate: bool) {
        let Some(i) = self.selected.filter(|&i| i < self.doc.layers.len()) else { return };
        let l = &self.doc.layers[i];
        let mask: Vec<bool> = l.flags.iter().map(|f| f.has(LayerFlags::SELECTED)).collect();
        if !mask.iter().any(|m| *m) {
            self.status = "nothing selected".into();
            return;
        }
        let name = unique_name(&self.doc.layers, &format!("{} part", l.name));
        let mut part = DocLayer::new(
            name.clone(),
            l.file.with_file_name(format!("{name}.layer.ply")),
            Role::Fixed,
            l.cloud.select(&mask),
        );
        part.transform = l.transform.clone();
        part.derived = true;
        let mut edits = vec![Edit::Add { index: i + 1, layer: Box::new(part) }];
        if separate {
            let before = l.flags.clone();
            let after: Vec<LayerFlags> = before
                .iter()
                .map(|f| {
                    let mut f = *f;
                    if f.has(LayerFlags::SELECTED) {
                        f.set(LayerFlags::DELETED, true);
                        f.set(LayerFlags::SELECTED, false);
                    }
                    f
                })
                .collect();
            edits.insert(0, Edit::Flags { layer: i, label: "separate".into(), before, after: Arc::new(after) });
        }
        let label = format!("{} selection to {name}", if separate { "separate" } else { "duplicate" });
        self.apply(Edit::Batch { label, edits });
        self.selected = Some(i + 1);
    }

    fn selected_layer_len(&self) -> usize {
        self.selected.and_then(|i| self.doc.layers.get(i)).map_or(0, |l| l.len())
    }

    /// The visible layers as the renderer sees them (transform and per-Gaussian flags).
    fn render_layers(&self) -> Vec<RenderLayer<'_>> {
        self.doc
            .layers
            .iter()
            .filter(|l| l.visible)
            .map(|l| RenderLayer { cloud: &l.cloud, transform: l.transform.similarity(), flags: Some(&l.flags) })
            .collect()
    }

    /// World-space bounds of a layer (or all visible layers).
    fn bounds(&self, layer: Option<usize>) -> Option<(Vec3, Vec3)> {
        let (mut lo, mut hi) = (Vec3::splat(f32::MAX), Vec3::splat(f32::MIN));
        for (i, l) in self.doc.layers.iter().enumerate() {
            if layer.is_some_and(|s| s != i) || (layer.is_none() && !l.visible) {
                continue;
            }
            let Some((a, b)) = l.cloud.bounds() else { continue };
            let t = l.transform.similarity();
            for corner in 0..8 {
                let p = Vec3::new(
                    if corner & 1 == 0 { a.x } else { b.x },
                    if corner & 2 == 0 { a.y } else { b.y },
                    if corner & 4 == 0 { a.z } else { b.z },
                );
                let w = t.transform_point(p);
                lo = lo.min(w);
                hi = hi.max(w);
            }
        }
        (lo.x <= hi.x).then_some((lo, hi))
    }

    pub fn frame_all(&mut self) {
        if let Some((lo, hi)) = self.bounds(None) {
            self.camera.frame_box(lo, hi);
            self.changed();
        }
    }

    fn focus_selected(&mut self) {
        if let Some((lo, hi)) = self.bounds(self.selected).or_else(|| self.bounds(None)) {
            let d = self.camera.distance;
            self.camera.frame_box(lo, hi);
            self.camera.distance = self.camera.distance.min(d.max(self.camera.distance));
            self.changed();
        }
    }

    // ----- UI -----

    /// One frame of the whole UI (the root `ui` of the window). `viewport` draws the splats.
    pub fn ui(&mut self, ui: &mut egui::Ui, viewport: &mut dyn ViewportBackend) {
        let ctx = ui.ctx().clone();
        let ctx = &ctx;
        self.poll_loading(ctx);
        self.poll_stitch(ctx);
        self.dropped_files(ctx);
        self.shortcuts(ctx);
        self.menu_bar(ui);
        self.status_bar(ui, viewport);
        self.layers_panel(ui);
        self.properties_panel(ui);
        self.viewport(ui, viewport);
        self.windows(ctx);
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

    fn dropped_files(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> = ctx.input(|i| i.raw.dropped_files.iter().map(|f| f.path().to_path_buf()).collect());
        if !dropped.is_empty() {
            self.add_files(dropped);
        }
    }

    fn shortcuts(&mut self, ctx: &egui::Context) {
        use egui::{Key, KeyboardShortcut, Modifiers};
        let undo = KeyboardShortcut::new(Modifiers::COMMAND, Key::Z);
        let redo = KeyboardShortcut::new(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z);
        let redo_y = KeyboardShortcut::new(Modifiers::COMMAND, Key::Y);
        let save = KeyboardShortcut::new(Modifiers::COMMAND, Key::S);
        // Redo first: Ctrl+Shift+Z would also match Ctrl+Z's logical shortcut.
        if ctx.input_mut(|i| i.consume_shortcut(&redo) || i.consume_shortcut(&redo_y)) {
            self.redo();
        }
        if ctx.input_mut(|i| i.consume_shortcut(&undo)) {
            self.undo();
        }
        if ctx.input_mut(|i| i.consume_shortcut(&save)) {
            self.save_job(None);
        }
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        ctx.input(|i| {
            if i.key_pressed(Key::G) {
                self.gizmo.kind = GizmoKind::Translate;
            }
            if i.key_pressed(Key::R) {
                self.gizmo.kind = GizmoKind::Rotate;
            }
            if i.key_pressed(Key::T) {
                self.gizmo.kind = GizmoKind::Scale;
            }
            if i.key_pressed(Key::B) {
                self.tool = if self.tool == Tool::Rectangle { Tool::Orbit } else { Tool::Rectangle };
            }
            if i.key_pressed(Key::Delete) {
                self.hide_selected(LayerFlags::DELETED);
            }
        });
    }

    fn menu_bar(&mut self, ui: &mut egui::Ui) {
        egui::Panel::top("menu").show(ui, |ui| {
            egui::MenuBar::new().ui(ui, |ui| {
                ui.menu_button("File", |ui| {
                    if ui.button("Open job…").clicked() {
                        if let Some(p) = rfd::FileDialog::new().add_filter("splatstitch job", &["toml"]).pick_file() {
                            self.open_job(p);
                        }
                        ui.close();
                    }
                    if ui.button("Add layer…").clicked() {
                        if let Some(ps) = rfd::FileDialog::new()
                            .add_filter("splats", splatstitch_core::formats::EXTENSIONS)
                            .pick_files()
                        {
                            self.add_files(ps);
                        }
                        ui.close();
                    }
                    ui.separator();
                    if ui.add(egui::Button::new("Save job").shortcut_text("Ctrl+S")).clicked() {
                        self.save_job(None);
                        ui.close();
                    }
                    if ui.button("Save job as…").clicked() {
                        self.save_job_as();
                        ui.close();
                    }
                    if ui.button("Export composite…").clicked() {
                        if let Some(p) = rfd::FileDialog::new()
                            .add_filter("PLY", &["ply"])
                            .add_filter("compressed PLY", &["compressed.ply"])
                            .add_filter("splat", &["splat"])
                            .add_filter("spz", &["spz"])
                            .add_filter("glTF (binary)", &["glb"])
                            .add_filter("glTF", &["gltf"])
                            .set_file_name("composite.ply")
                            .save_file()
                        {
                            self.export(&p);
                        }
                        ui.close();
                    }
                });
                ui.menu_button("Edit", |ui| {
                    if ui
                        .add_enabled(self.history.can_undo(), egui::Button::new("Undo").shortcut_text("Ctrl+Z"))
                        .clicked()
                    {
                        self.undo();
                        ui.close();
                    }
                    if ui
                        .add_enabled(self.history.can_redo(), egui::Button::new("Redo").shortcut_text("Ctrl+Shift+Z"))
                        .clicked()
                    {
                        self.redo();
                        ui.close();
                    }
                });
                ui.menu_button("View", |ui| {
                    if ui.add(egui::Button::new("Frame all").shortcut_text("Home")).clicked() {
                        self.frame_all();
                        ui.close();
                    }
                    if ui.add(egui::Button::new("Focus selection").shortcut_text("F")).clicked() {
                        self.focus_selected();
                        ui.close();
                    }
                    ui.checkbox(&mut self.show_gizmo, "Transform gizmo");
                    ui.separator();
                    for up in UpAxis::ALL {
                        if ui.radio(self.camera.up == up, up.label()).clicked() {
                            self.camera.up = up;
                            self.changed();
                        }
                    }
                });
            });
        });
    }

    fn status_bar(&mut self, ui: &mut egui::Ui, viewport: &dyn ViewportBackend) {
        egui::Panel::bottom("status").show(ui, |ui| {
            ui.horizontal(|ui| {
                let visible: usize = self.doc.layers.iter().filter(|l| l.visible).map(|l| l.len()).sum();
                ui.label(format!("{visible} Gaussians"));
                ui.separator();
                ui.label(format!("frame {:.1} ms", self.frame_ms));
                ui.separator();
                ui.label(viewport.adapter());
                ui.separator();
                if let Some(l) = &self.loading {
                    ui.spinner();
                    ui.label(format!("loading {} ({:.0} s)", l.what, l.started.elapsed().as_secs_f32()));
                } else {
                    ui.label(&self.status);
                }
            });
        });
    }

    fn layers_panel(&mut self, ui: &mut egui::Ui) {
        egui::Panel::left("layers").default_size(250.0).show(ui, |ui| {
            ui.heading("Layers");
            ui.horizontal(|ui| {
                if ui.button("Add…").on_hover_text("Add captures (or drop files on the window)").clicked()
                    && let Some(ps) =
                        rfd::FileDialog::new().add_filter("splats", splatstitch_core::formats::EXTENSIONS).pick_files()
                {
                    self.add_files(ps);
                }
                let sel = self.selected;
                if ui.add_enabled(sel.is_some(), egui::Button::new("Duplicate")).clicked()
                    && let Some(s) = sel
                {
                    self.duplicate(s);
                }
                if ui.add_enabled(sel.is_some(), egui::Button::new("Remove")).clicked()
                    && let Some(s) = sel
                {
                    self.remove(s);
                }
            });
            ui.separator();
            let mut role_change = None;
            let mut visibility = None;
            for i in 0..self.doc.layers.len() {
                let l = &self.doc.layers[i];
                ui.horizontal(|ui| {
                    let mut v = l.visible;
                    if ui.checkbox(&mut v, "").on_hover_text("visible").changed() {
                        visibility = Some((i, v));
                    }
                    if ui.selectable_label(self.selected == Some(i), &l.name).clicked() {
                        self.selected = Some(i);
                    }
                    let mut role = l.role;
                    let combo = egui::ComboBox::from_id_salt(("role", i))
                        .width(70.0)
                        .selected_text(role_name(role))
                        .show_ui(ui, |ui| {
                            for r in [Role::Source, Role::Target, Role::Fixed] {
                                ui.selectable_value(&mut role, r, role_name(r));
                            }
                        });
                    let name = format!("role of {}", l.name);
                    combo.response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::ComboBox, true, name.clone()));
                    if role != l.role {
                        role_change = Some((i, role));
                    }
                    ui.weak(format!("{}", l.len()));
                });
            }
            if let Some((i, v)) = visibility {
                self.apply(Edit::Visible { layer: i, after: v });
            }
            if let Some((i, r)) = role_change {
                self.set_role(i, r);
            }
            if self.doc.layers.is_empty() {
                ui.weak("Drop .ply / .splat / .spz / .glb / .gltf files or a job (.toml) here.");
            }
        });
    }

    fn properties_panel(&mut self, ui: &mut egui::Ui) {
        egui::Panel::right("properties").default_size(280.0).show(ui, |ui| {
            egui::ScrollArea::vertical().id_salt("properties scroll").show(ui, |ui| self.properties(ui));
        });
    }

    fn properties(&mut self, ui: &mut egui::Ui) {
        {
            if let Some(i) = self.selected.filter(|&i| i < self.doc.layers.len()) {
                ui.heading("Layer");
                self.rename_field(ui, i);
                ui.weak(self.doc.layers[i].file.display().to_string());
                ui.separator();
                ui.label("Transform (applied on export)");
                self.transform_fields(ui, i);
                ui.horizontal(|ui| {
                    if ui.button("Reset transform").clicked() {
                        self.set_transform(i, TransformSpec::default());
                    }
                });
                ui.horizontal(|ui| {
                    for k in GizmoKind::ALL {
                        ui.selectable_value(&mut self.gizmo.kind, k, k.label());
                    }
                });
                ui.separator();
                self.selection_section(ui, i);
                ui.separator();
                self.align_section(ui, i);
            } else {
                ui.weak("Select a layer to edit it.");
            }
            ui.separator();
            self.stitch_section(ui);
            ui.separator();
            ui.heading("History");
            egui::ScrollArea::vertical().id_salt("history").max_height(200.0).show(ui, |ui| {
                let (done, undone) = self.history.labels();
                if done.is_empty() && undone.is_empty() {
                    ui.weak("No edits yet.");
                }
                for l in &done {
                    ui.label(*l);
                }
                for l in &undone {
                    ui.weak(format!("(undone) {l}"));
                }
            });
        }
    }

    fn align_section(&mut self, ui: &mut egui::Ui, i: usize) {
        ui.collapsing("Align to another layer", |ui| {
            let names: Vec<(usize, String)> =
                self.doc.layers.iter().enumerate().filter(|(j, _)| *j != i).map(|(j, l)| (j, l.name.clone())).collect();
            let current = self.align.fixed.and_then(|f| names.iter().find(|(j, _)| *j == f)).map(|(_, n)| n.clone());
            let combo = egui::ComboBox::from_id_salt("align fixed")
                .selected_text(current.unwrap_or_else(|| "choose…".into()))
                .show_ui(ui, |ui| {
                    for (j, n) in &names {
                        if ui.selectable_label(self.align.fixed == Some(*j), n).clicked() {
                            self.align.fixed = Some(*j);
                        }
                    }
                });
            combo.response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::ComboBox, true, "fixed layer"));
            let mut on = self.tool == Tool::Align;
            if ui
                .toggle_value(&mut on, "Pick point pairs")
                .on_hover_text(
                    "Click a point on this layer, then the same point on the fixed layer; three pairs or more.",
                )
                .changed()
            {
                self.tool = if on { Tool::Align } else { Tool::Orbit };
            }
            let pairs = self.align.fixed_points.len();
            ui.label(format!(
                "{pairs} pairs{}",
                if self.align.moving_points.len() > pairs { " + 1 point" } else { "" }
            ));
            ui.horizontal(|ui| {
                if ui.add_enabled(pairs >= 3, egui::Button::new("Align")).clicked() {
                    self.align_from_pairs();
                }
                if ui.add_enabled(self.align.fixed.is_some(), egui::Button::new("Refine (ICP)")).clicked() {
                    self.align_icp();
                }
                if ui.button("Clear pairs").clicked() {
                    self.align.moving_points.clear();
                    self.align.fixed_points.clear();
                }
            });
            if let Some(f) = self.align.last {
                ui.label(format!("residual {:.5} over {} pairs", f.rms, f.pairs));
            }
        });
    }

    fn stitch_section(&mut self, ui: &mut egui::Ui) {
        use splatstitch_stitch::Method;
        ui.heading("Stitch");
        let b = &mut self.doc.blend;
        ui.horizontal(|ui| {
            for (m, label) in [(Method::Stitch, "stitch"), (Method::Poisson, "poisson"), (Method::None, "none")] {
                ui.radio_value(&mut b.method, m, label);
            }
        });
        ui.checkbox(&mut b.seam_transfer, "Match colours across the seam first").on_hover_text(
            "Fit the colour change between the layers where they overlap (gain and offset, a colour matrix or \
             tone curves, chosen by cross-validation) and apply it, as far as the fit is trusted, before \
             blending: exposure, white balance and camera response between captures.",
        );
        ui.add(egui::Slider::new(&mut b.iterations, 0..=5000).logarithmic(true).text("iterations"));
        ui.add(egui::Slider::new(&mut b.k, 1..=64).text("K"));
        let seam = self.show_boundary.then(|| self.boundary_points().len());
        let b = &mut self.doc.blend;
        ui.add(egui::Slider::new(&mut b.beta, 0.001..=0.5).logarithmic(true).text("β"));
        ui.add(egui::Slider::new(&mut b.tau, 0.0..=1.0).text("τ"));
        ui.horizontal(|ui| {
            ui.checkbox(&mut self.show_boundary, "Show the seam (boundary)");
            if let Some(n) = seam {
                ui.label(format!("{n} Gaussians"));
            }
        });
        ui.collapsing("Advanced", |ui| crate::stitch_settings::advanced(ui, &mut self.doc.blend));
        if let Some(run) = &self.stitch_run {
            let (stage, f) = run.progress.lock().map(|g| *g).unwrap_or((splatstitch_stitch::Stage::Load, 0.0));
            let shown = if stage == splatstitch_stitch::Stage::Optimize { f } else { 0.0 };
            ui.add(egui::ProgressBar::new(shown).show_percentage().text(format!(
                "{} ({:.0} s)",
                stage.label(),
                run.started.elapsed().as_secs_f32()
            )));
            if ui.button("Cancel").clicked() {
                self.cancel_stitch();
            }
        } else if ui.button("Run stitch").clicked() {
            self.start_stitch();
        }
        if let Some(last) = &mut self.last_stitch {
            crate::stitch_settings::outcome(ui, &last.report);
            let mut after = last.showing_after;
            ui.horizontal(|ui| {
                ui.selectable_value(&mut after, false, "Before");
                ui.selectable_value(&mut after, true, "After");
            });
            if after != last.showing_after && last.layer < self.doc.layers.len() {
                last.showing_after = after;
                self.doc.layers[last.layer].cloud = if after { last.after.clone() } else { last.before.clone() };
                self.doc_version += 1;
                self.view_version += 1;
            }
        }
    }

    fn selection_section(&mut self, ui: &mut egui::Ui, i: usize) {
        let l = &self.doc.layers[i];
        let (sel, hidden, deleted) =
            (l.count(LayerFlags::SELECTED), l.count(LayerFlags::HIDDEN), l.count(LayerFlags::DELETED));
        ui.label(format!("{sel} selected, {hidden} hidden, {deleted} deleted"));
        ui.horizontal_wrapped(|ui| {
            for (tool, label) in [
                (Tool::Rectangle, "Rectangle select (B)"),
                (Tool::Lasso, "Lasso"),
                (Tool::Brush, "Brush"),
                (Tool::Pick, "Pick"),
            ] {
                let mut on = self.tool == tool;
                if ui
                    .toggle_value(&mut on, label)
                    .on_hover_text("In the viewport. Shift adds, Ctrl subtracts, Shift+Ctrl intersects.")
                    .changed()
                {
                    self.tool = if on { tool } else { Tool::Orbit };
                }
            }
        });
        let st = &mut self.selection_settings;
        ui.checkbox(&mut st.visible_only, "Visible surface only")
            .on_hover_text("Rectangle, lasso and brush skip Gaussians hidden behind the rendered surface");
        match self.tool {
            Tool::Brush => {
                ui.add(egui::Slider::new(&mut st.brush_radius, 2.0..=200.0).text("brush radius (pt)"));
            }
            Tool::Pick => {
                ui.horizontal(|ui| {
                    ui.radio_value(&mut st.pick, PickKind::ConnectedRegion, "connected region");
                    ui.radio_value(&mut st.pick, PickKind::Colour, "same colour");
                });
                match st.pick {
                    PickKind::ConnectedRegion => {
                        ui.add(
                            egui::Slider::new(&mut st.max_distance, 0.001..=0.2)
                                .logarithmic(true)
                                .text("distance jump"),
                        );
                        ui.add(egui::Slider::new(&mut st.max_colour_jump, 0.01..=1.0).text("colour jump"));
                    }
                    PickKind::Colour => {
                        ui.add(egui::Slider::new(&mut st.colour_tolerance, 0.01..=1.0).text("tolerance"));
                    }
                }
            }
            _ => {}
        }
        ui.horizontal(|ui| {
            if ui.button("Grow").clicked() {
                self.grow_selection(1);
            }
            if ui.button("Shrink").clicked() {
                self.grow_selection(-1);
            }
        });
        ui.collapsing("Box / sphere (world units)", |ui| {
            let st = &mut self.selection_settings;
            let row = |ui: &mut egui::Ui, label: &str, v: &mut [f32; 3]| {
                ui.horizontal(|ui| {
                    ui.label(label);
                    for x in v.iter_mut() {
                        ui.add(egui::DragValue::new(x).speed(0.01));
                    }
                });
            };
            row(ui, "box min", &mut st.box_min);
            row(ui, "box max", &mut st.box_max);
            row(ui, "centre", &mut st.sphere_centre);
            ui.add(egui::DragValue::new(&mut st.sphere_radius).range(0.0..=f32::MAX).speed(0.01).prefix("radius "));
            let (lo, hi, c, r) = (st.box_min, st.box_max, st.sphere_centre, st.sphere_radius);
            ui.horizontal(|ui| {
                let l = &self.doc.layers[i];
                let t = l.transform.similarity();
                if ui.button("Select box").clicked() {
                    let hits = crate::selection::in_box(
                        &l.cloud,
                        &t,
                        glam::Vec3::from(lo).min(hi.into()),
                        glam::Vec3::from(hi).max(lo.into()),
                    );
                    self.select_hits(&hits, crate::selection::Mode::Replace);
                } else if ui.button("Select sphere").clicked() {
                    let hits = crate::selection::in_sphere(&l.cloud, &t, c.into(), r);
                    self.select_hits(&hits, crate::selection::Mode::Replace);
                } else if ui.button("Fit to layer").on_hover_text("box and sphere around the layer").clicked()
                    && let Some((a, b)) = self.bounds(Some(i))
                {
                    let st = &mut self.selection_settings;
                    (st.box_min, st.box_max) = (a.to_array(), b.to_array());
                    st.sphere_centre = ((a + b) * 0.5).to_array();
                    st.sphere_radius = (b - a).length() * 0.25;
                }
            });
        });
        ui.collapsing("By opacity and size", |ui| {
            let st = &mut self.selection_settings;
            ui.horizontal(|ui| {
                ui.label("opacity");
                ui.add(egui::DragValue::new(&mut st.opacity.0).range(0.0..=1.0).speed(0.01));
                ui.add(egui::DragValue::new(&mut st.opacity.1).range(0.0..=1.0).speed(0.01));
            });
            ui.horizontal(|ui| {
                ui.label("size");
                ui.add(egui::DragValue::new(&mut st.size.0).range(0.0..=f32::MAX).speed(0.001));
                ui.add(egui::DragValue::new(&mut st.size.1).range(0.0..=f32::MAX).speed(0.001));
            });
            if ui.button("Select range").clicked() {
                let (o, sz) = (st.opacity, st.size);
                let l = &self.doc.layers[i];
                let hits = crate::selection::by_opacity_and_size(&l.cloud, &l.transform.similarity(), o, sz);
                self.select_hits(&hits, crate::selection::Mode::Replace);
            }
        });
        ui.horizontal(|ui| {
            if ui.button("All").clicked() {
                self.select_all(true);
            }
            if ui.button("None").clicked() {
                self.select_all(false);
            }
            if ui.button("Invert").clicked() {
                self.invert_selection();
            }
        });
        ui.horizontal(|ui| {
            if ui.add_enabled(sel > 0, egui::Button::new("Hide selected")).clicked() {
                self.hide_selected(LayerFlags::HIDDEN);
            }
            if ui.add_enabled(hidden > 0, egui::Button::new("Unhide all")).clicked() {
                self.unhide_all();
            }
            if ui.add_enabled(sel > 0, egui::Button::new("Delete selected")).clicked() {
                self.hide_selected(LayerFlags::DELETED);
            }
        });
        ui.horizontal(|ui| {
            if ui.add_enabled(sel > 0, egui::Button::new("Separate to layer")).clicked() {
                self.selection_to_layer(true);
            }
            if ui.add_enabled(sel > 0, egui::Button::new("Duplicate to layer")).clicked() {
                self.selection_to_layer(false);
            }
        });
    }

    fn rename_field(&mut self, ui: &mut egui::Ui, i: usize) {
        if self.rename_text.0 != Some(i) {
            self.rename_text = (Some(i), self.doc.layers[i].name.clone());
        }
        let label = ui.label("name");
        let r = ui.add(egui::TextEdit::singleline(&mut self.rename_text.1)).labelled_by(label.id);
        let commit = r.lost_focus();
        if !r.has_focus() && !commit && self.rename_text.1 != self.doc.layers[i].name {
            self.rename_text.1 = self.doc.layers[i].name.clone();
        }
        if commit {
            let new = self.rename_text.1.trim().to_string();
            let before = self.doc.layers[i].name.clone();
            if new.is_empty() || (new != before && self.doc.layers.iter().any(|l| l.name == new)) {
                self.status = format!("`{new}`: names must be unique and not empty");
                self.rename_text.1 = before;
            } else if new != before {
                self.apply(Edit::Rename { layer: i, before, after: new });
            }
        }
    }

    fn transform_fields(&mut self, ui: &mut egui::Ui, i: usize) {
        let current = self.doc.layers[i].transform.clone();
        let values = fields_of(&current);
        let stale = self.transform_text.layer != Some(i) || self.transform_text.version != self.history.version;
        egui::Grid::new("transform").num_columns(2).show(ui, |ui| {
            for f in 0..7 {
                let label = ui.label(FIELD_LABELS[f]);
                let id = ui.make_persistent_id(("field", f));
                let focused = ui.memory(|m| m.has_focus(id));
                if stale && !focused {
                    self.transform_text.fields[f] = format!("{}", values[f]);
                }
                let r = ui
                    .add(egui::TextEdit::singleline(&mut self.transform_text.fields[f]).id(id).desired_width(90.0))
                    .labelled_by(label.id);
                if r.lost_focus() {
                    match self.transform_text.fields[f].trim().parse::<f32>() {
                        Ok(v) if v.is_finite() && (f != 0 || v > 0.0) => {
                            if v != values[f] {
                                self.set_transform(i, with_field(&current, f, v));
                            }
                        }
                        _ => {
                            self.status = format!(
                                "{}: `{}` is not a valid number",
                                FIELD_LABELS[f], self.transform_text.fields[f]
                            );
                            self.transform_text.fields[f] = format!("{}", values[f]);
                        }
                    }
                }
                ui.end_row();
            }
        });
        if stale {
            self.transform_text.layer = Some(i);
            self.transform_text.version = self.history.version;
        }
    }

    fn viewport(&mut self, ui: &mut egui::Ui, backend: &mut dyn ViewportBackend) {
        let ctx = ui.ctx().clone();
        let ctx = &ctx;
        egui::CentralPanel::default().frame(egui::Frame::NONE).show(ui, |ui| {
            let rect = ui.max_rect();
            let response = ui.allocate_rect(rect, egui::Sense::click_and_drag());
            let gizmo_busy = self.drag_start.is_some() || self.gizmo.is_active();
            self.camera_input(ui, &response, rect, gizmo_busy);
            let ppp = ctx.pixels_per_point();
            let w = (rect.width() * ppp).clamp(1.0, MAX_VIEWPORT) as u32;
            let h = (rect.height() * ppp).clamp(1.0, MAX_VIEWPORT) as u32;
            self.viewport_size = [w, h];
            self.viewport_rect = rect;
            let Some(camera) = self.camera.to_camera(w, h) else { return };
            if let Some((shape, mode)) = self.pending_shape.take() {
                self.apply_shape(shape, mode, &camera, ppp);
            }
            if self.doc.layers.is_empty() {
                ui.painter().rect_filled(rect, 0.0, egui::Color32::from_gray(30));
                ui.painter().text(
                    rect.center(),
                    egui::Align2::CENTER_CENTER,
                    "Drop captures or a job here, or use File > Open",
                    egui::FontId::proportional(16.0),
                    egui::Color32::GRAY,
                );
                return;
            }
            let layers = self.render_layers();
            let req = ViewRequest {
                layers,
                camera,
                scene_version: self.doc_version,
                version: self.view_version,
                background: self.background,
            };
            let t = Instant::now();
            match backend.draw(ctx, &req) {
                Ok(tex) => {
                    let ms = t.elapsed().as_secs_f32() * 1e3;
                    if ms > 0.5 {
                        self.frame_ms = ms;
                    }
                    ui.painter().image(
                        tex,
                        rect,
                        egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
                        egui::Color32::WHITE,
                    );
                    if self.first_frame.is_none() {
                        self.first_frame = Some(self.started.elapsed().as_secs_f64());
                        tracing::info!("first frame with splats after {:.2} s", self.started.elapsed().as_secs_f64());
                    }
                }
                Err(e) => {
                    ui.painter().text(
                        rect.center(),
                        egui::Align2::CENTER_CENTER,
                        &e,
                        egui::FontId::proportional(14.0),
                        egui::Color32::RED,
                    );
                }
            }
            if self.show_boundary {
                self.boundary_overlay(ui, rect, &camera, ppp);
            }
            self.gizmo_ui(ui, rect);
        });
    }

    /// ∂B as small dots over the viewport (at most 20,000 of them).
    fn boundary_overlay(&mut self, ui: &egui::Ui, rect: egui::Rect, camera: &splatstitch_render::Camera, ppp: f32) {
        let points = self.boundary_points().to_vec();
        let stride = (points.len() / 20_000).max(1);
        let painter = ui.painter().with_clip_rect(rect);
        let colour = egui::Color32::from_rgb(255, 60, 200);
        for p in points.iter().step_by(stride) {
            let c = camera.view.transform_point3(*p);
            if c.z <= 1e-4 {
                continue;
            }
            let (x, y) = (camera.fx * c.x / c.z + camera.cx, camera.fy * c.y / c.z + camera.cy);
            let at = rect.min + egui::vec2(x / ppp, y / ppp);
            painter.rect_filled(egui::Rect::from_center_size(at, egui::vec2(2.0, 2.0)), 0.0, colour);
        }
    }

    fn gizmo_ui(&mut self, ui: &egui::Ui, rect: egui::Rect) {
        let Some(i) =
            self.selected.filter(|&i| self.show_gizmo && self.tool == Tool::Orbit && i < self.doc.layers.len())
        else {
            return;
        };
        let current = self.doc.layers[i].transform.clone();
        match self.gizmo.show(ui, rect, &self.camera, &current) {
            Some(t) => {
                if self.drag_start.is_none() {
                    self.drag_start = Some((i, current));
                }
                self.doc.layers[i].transform = t;
                self.doc_changed();
            }
            None => {
                let released = !ui.input(|inp| inp.pointer.primary_down());
                if released && let Some((layer, before)) = self.drag_start.take() {
                    let after = self.doc.layers[layer].transform.clone();
                    if after != before {
                        self.history.record(Edit::Transform { layer, before, after }, &self.doc);
                        self.changed();
                    }
                }
            }
        }
    }

    fn camera_input(&mut self, ui: &egui::Ui, response: &egui::Response, rect: egui::Rect, gizmo_busy: bool) {
        let h = rect.height();
        let before = self.camera;
        let d = response.drag_delta();
        let shift = ui.input(|i| i.modifiers.shift);
        let m = ui.input(|i| i.modifiers);
        let mode = {
            use crate::selection::Mode;
            match (m.shift, m.command) {
                (true, true) => Mode::Intersect,
                (true, false) => Mode::Add,
                (false, true) => Mode::Subtract,
                (false, false) => Mode::Replace,
            }
        };
        let to_local = |p: egui::Pos2| p - rect.min.to_vec2();
        let selecting = matches!(self.tool, Tool::Rectangle | Tool::Lasso | Tool::Brush);
        if matches!(self.tool, Tool::Pick | Tool::Align)
            && response.clicked()
            && let Some(p) = response.interact_pointer_pos()
        {
            self.pending_shape = Some((Shape::Click(to_local(p)), mode));
        }
        if selecting && response.drag_started_by(egui::PointerButton::Primary) {
            self.rect_drag = ui.input(|i| i.pointer.press_origin()).or(response.interact_pointer_pos());
            self.stroke = self.rect_drag.into_iter().collect();
        }
        if let (true, Some(start)) = (selecting, self.rect_drag) {
            let now = ui.input(|i| i.pointer.interact_pos()).unwrap_or(start);
            if self.stroke.last().is_none_or(|l| l.distance(now) > 2.0) {
                self.stroke.push(now);
            }
            let stroke = egui::Stroke::new(1.5, egui::Color32::YELLOW);
            match self.tool {
                Tool::Rectangle => {
                    ui.painter().rect_stroke(
                        egui::Rect::from_two_pos(start, now),
                        0.0,
                        stroke,
                        egui::StrokeKind::Middle,
                    );
                }
                Tool::Lasso => {
                    ui.painter().add(egui::Shape::closed_line(self.stroke.clone(), stroke));
                }
                _ => {
                    let r = self.selection_settings.brush_radius;
                    for p in &self.stroke {
                        ui.painter().circle_stroke(*p, r, egui::Stroke::new(1.0, egui::Color32::YELLOW));
                    }
                }
            }
            if response.drag_stopped() || !ui.input(|i| i.pointer.primary_down()) {
                let points: Vec<egui::Pos2> = self.stroke.drain(..).map(to_local).collect();
                let shape = match self.tool {
                    Tool::Rectangle => Shape::Rect(egui::Rect::from_two_pos(to_local(start), to_local(now))),
                    Tool::Lasso => Shape::Lasso(points),
                    _ => Shape::Brush(points, self.selection_settings.brush_radius),
                };
                self.pending_shape = Some((shape, mode));
                self.rect_drag = None;
            }
        } else if response.dragged_by(egui::PointerButton::Primary) && !gizmo_busy {
            if shift { self.camera.pan(d.x, d.y, h) } else { self.camera.orbit(d.x, d.y, h) }
        }
        if response.dragged_by(egui::PointerButton::Secondary) || response.dragged_by(egui::PointerButton::Middle) {
            self.camera.pan(d.x, d.y, h);
        }
        if response.hovered() {
            let scroll = ui.input(|i| i.smooth_scroll_delta.y);
            if scroll != 0.0 {
                self.camera.zoom(scroll / 50.0);
            }
        }
        if !ui.ctx().egui_wants_keyboard_input() && response.hovered() {
            use egui::Key;
            let (dir, dt, focus, home) = ui.input(|i| {
                let k = |a: Key, b: Key| (i.key_down(a) as i32 - i.key_down(b) as i32) as f32;
                (
                    Vec3::new(k(Key::D, Key::A), k(Key::E, Key::Q), k(Key::W, Key::S)),
                    i.stable_dt.min(0.1),
                    i.key_pressed(Key::F),
                    i.key_pressed(Key::Home),
                )
            });
            if dir != Vec3::ZERO {
                self.camera.fly(dir, dt);
                ui.ctx().request_repaint();
            }
            if focus {
                self.focus_selected();
            }
            if home {
                self.camera.reset();
            }
        }
        if self.camera != before {
            self.changed();
        }
    }

    fn windows(&mut self, ctx: &egui::Context) {
        if let Some(choice) = &mut self.lod_choice {
            match choice.ui(ctx) {
                Some(crate::lod_choice::Answer::Open) => {
                    let requests = self.lod_choice.take().map(|c| c.requests).unwrap_or_default();
                    self.add_files_at_levels(requests);
                }
                Some(crate::lod_choice::Answer::Cancel) => self.lod_choice = None,
                None => {}
            }
        }
        if let Some(e) = self.error.clone() {
            egui::Window::new("Problem").collapsible(false).resizable(false).show(ctx, |ui| {
                ui.label(e);
                if ui.button("OK").clicked() {
                    self.error = None;
                }
            });
        }
        if let Some(p) = self.recovery_offer.clone() {
            egui::Window::new("Recover the last session?").collapsible(false).show(ctx, |ui| {
                ui.label(format!("The last session ended without closing cleanly. Its autosave is {}.", p.display()));
                ui.horizontal(|ui| {
                    if ui.button("Recover").clicked() {
                        self.recovery_offer = None;
                        if self.has_unsaved_changes() && !self.doc.layers.is_empty() {
                            self.pending = Some(Pending::Recover(p.clone()));
                        } else {
                            self.open_job_now(p.clone(), true);
                        }
                    }
                    if ui.button("Discard").clicked() {
                        self.recovery_offer = None;
                        let _ = std::fs::remove_file(&p);
                    }
                });
            });
        }
        if let Some(pending) = &self.pending {
            let text = match pending {
                Pending::Open(p) => format!("Open {} and drop the unsaved changes?", p.display()),
                Pending::Recover(p) => format!("Recover {} and drop the unsaved changes?", p.display()),
            };
            let mut answer = None;
            egui::Window::new("Unsaved changes").collapsible(false).show(ctx, |ui| {
                ui.label(text);
                ui.horizontal(|ui| {
                    if ui.button("Save first").clicked() {
                        answer = Some(self.save_job(None));
                    }
                    if ui.button("Discard changes").clicked() {
                        answer = Some(true);
                    }
                    if ui.button("Cancel").clicked() {
                        answer = Some(false);
                    }
                });
            });
            if let Some(go) = answer {
                match self.pending.take() {
                    Some(Pending::Open(p)) if go => self.open_job_now(p, false),
                    Some(Pending::Recover(p)) if go => self.open_job_now(p, true),
                    _ => {}
                }
            }
        }
    }
}
