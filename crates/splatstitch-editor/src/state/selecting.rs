//! Selecting Gaussians on the selected layer: the tools' settings, screen shapes turned into
//! hits, volumes and ranges, the KNN tools, and what a selection becomes (hidden, deleted, a
//! layer of its own). The maths is in `crate::selection`; this is the editing on top.

use super::EditorState;
use crate::document::{DocLayer, unique_name};
use crate::history::Edit;
use crate::selection::{self as sel, Mode};
use glam::Vec2;
use splatstitch_core::{LayerFlags, Role};
use splatstitch_render::Camera;
use std::sync::Arc;

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

/// A finished screen-space shape, in pixels from the viewport's top-left corner.
#[derive(Debug, Clone)]
pub enum SelectionShape {
    Rect(Vec2, Vec2),
    Lasso(Vec<Vec2>),
    /// The stroke and the brush radius.
    Brush(Vec<Vec2>, f32),
    Click(Vec2),
}

/// The live (not hidden, not deleted) centre of `l` under the cursor: among those within
/// `radius` pixels of `at`, the front-most surface (depth within 2 % of the nearest), and on it
/// the one closest to the cursor.
pub(super) fn pick_centre(l: &DocLayer, projected: &[Option<(Vec2, f32)>], at: Vec2, radius: f32) -> Option<usize> {
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

impl EditorState {
    /// Turns a finished screen shape into hits on the selected layer (with the align tool, a
    /// click picks a point pair instead). `ppp` is pixels per UI point (pick radii are in points).
    pub fn apply_shape(&mut self, shape: SelectionShape, mode: Mode, camera: &Camera, ppp: f32) {
        if let (super::Tool::Align, SelectionShape::Click(p)) = (self.tool, &shape) {
            self.pick_align_point(*p, camera, ppp);
            return;
        }
        let Some((_, l)) = self.selected_layer() else { return };
        let projected = sel::project(&l.cloud, &l.transform.similarity(), camera);
        let screen_tool = !matches!(shape, SelectionShape::Click(_));
        let mut hits = match shape {
            SelectionShape::Rect(a, b) => sel::rectangle(&projected, a, b),
            SelectionShape::Lasso(points) => sel::lasso(&projected, &points),
            SelectionShape::Brush(points, radius) => sel::brush(&projected, &points, radius),
            SelectionShape::Click(p) => {
                let Some(g) = pick_centre(l, &projected, p, 8.0 * ppp) else {
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

    /// The selected layer's KNN graph (K = 8), built once per cloud.
    fn knn_graph(&mut self) -> &sel::KnnGraph {
        let l = &self.doc.layers[self.selected.expect("a selected layer")];
        let key = Arc::as_ptr(&l.cloud) as usize;
        if self.knn.as_ref().is_none_or(|(k, _)| *k != key) {
            self.knn = Some((key, sel::KnnGraph::new(&l.cloud, 8)));
        }
        &self.knn.as_ref().expect("built above").1
    }

    /// Grows (or shrinks) the selection by `rings` neighbourhood rings.
    pub fn grow_selection(&mut self, rings: isize) {
        let Some((_, l)) = self.selected_layer() else { return };
        let current: Vec<bool> = l.flags.iter().map(|f| f.has(LayerFlags::SELECTED)).collect();
        let g = self.knn_graph();
        let hits = if rings >= 0 { g.grow(&current, rings as usize) } else { g.shrink(&current, (-rings) as usize) };
        self.select_hits(&hits, Mode::Replace);
    }

    /// Replaces the selected layer's flags through `f` as one undoable edit.
    pub fn change_flags(&mut self, label: &str, f: impl Fn(usize, LayerFlags) -> LayerFlags) {
        let Some((i, l)) = self.selected_layer() else { return };
        let before = l.flags.clone();
        let after: Vec<LayerFlags> = before.iter().enumerate().map(|(g, fl)| f(g, *fl)).collect();
        if after != *before {
            self.apply(Edit::Flags { layer: i, label: label.into(), before, after: Arc::new(after) });
        }
    }

    /// Selects by a per-Gaussian hit list with a combine mode; hidden and deleted never join.
    pub fn select_hits(&mut self, hits: &[bool], mode: Mode) {
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

    /// Selects the selected layer's Gaussians whose centres lie in a world-space box.
    pub fn select_box(&mut self, lo: glam::Vec3, hi: glam::Vec3) {
        let Some((_, l)) = self.selected_layer() else { return };
        let hits = sel::in_box(&l.cloud, &l.transform.similarity(), lo.min(hi), hi.max(lo));
        self.select_hits(&hits, Mode::Replace);
    }

    /// … in a world-space sphere.
    pub fn select_sphere(&mut self, centre: glam::Vec3, radius: f32) {
        let Some((_, l)) = self.selected_layer() else { return };
        let hits = sel::in_sphere(&l.cloud, &l.transform.similarity(), centre, radius);
        self.select_hits(&hits, Mode::Replace);
    }

    /// … with opacity and world-space size in the settings' ranges.
    pub fn select_range(&mut self) {
        let Some((_, l)) = self.selected_layer() else { return };
        let (o, sz) = (self.selection_settings.opacity, self.selection_settings.size);
        let hits = sel::by_opacity_and_size(&l.cloud, &l.transform.similarity(), o, sz);
        self.select_hits(&hits, Mode::Replace);
    }

    /// Sets the box and sphere volumes around the layer.
    pub fn fit_volumes_to_layer(&mut self, layer: usize) {
        if let Some((a, b)) = self.bounds(Some(layer)) {
            let st = &mut self.selection_settings;
            (st.box_min, st.box_max) = (a.to_array(), b.to_array());
            st.sphere_centre = ((a + b) * 0.5).to_array();
            st.sphere_radius = (b - a).length() * 0.25;
        }
    }

    pub fn select_all(&mut self, on: bool) {
        let n = self.selected_layer().map_or(0, |(_, l)| l.len());
        self.select_hits(&vec![on; n], Mode::Replace);
    }

    pub fn invert_selection(&mut self) {
        let Some((_, l)) = self.selected_layer() else { return };
        let hits: Vec<bool> = l.flags.iter().map(|f| !f.has(LayerFlags::SELECTED)).collect();
        self.select_hits(&hits, Mode::Replace);
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
        let Some((i, l)) = self.selected_layer() else { return };
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
}
