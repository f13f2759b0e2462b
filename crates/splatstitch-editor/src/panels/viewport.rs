//! The viewport: the splats drawn by the viewport backend, the camera driven by mouse and keys,
//! the selection tools' shapes drawn while they are made, the seam overlay and the gizmo.

use super::{Dock, Panel, PanelCtx};
use crate::gizmo::LayerGizmo;
use crate::history::Edit;
use crate::selection::Mode;
use crate::state::{EditorState, SelectionShape, Tool};
use crate::viewport::ViewRequest;
use glam::{Vec2, Vec3};
use splatstitch_stitch::job::TransformSpec;
use std::time::{Duration, Instant};

/// The camera counts as moving until it has been still this long.
const STILL_AFTER: Duration = Duration::from_millis(250);

/// Largest viewport side rendered, in pixels.
const MAX_VIEWPORT: f32 = 4096.0;

/// A screen-space shape being made or just finished, in points from the viewport's corner.
#[derive(Debug, Clone)]
enum Shape {
    Rect(egui::Rect),
    Lasso(Vec<egui::Pos2>),
    Brush(Vec<egui::Pos2>, f32),
    Click(egui::Pos2),
}

impl Shape {
    /// The shape in pixels, as the selection tools take it.
    fn in_pixels(self, ppp: f32) -> SelectionShape {
        let px = |p: egui::Pos2| Vec2::new(p.x, p.y) * ppp;
        let all = |ps: Vec<egui::Pos2>| ps.into_iter().map(px).collect();
        match self {
            Shape::Rect(r) => SelectionShape::Rect(px(r.min), px(r.max)),
            Shape::Lasso(ps) => SelectionShape::Lasso(all(ps)),
            Shape::Brush(ps, radius) => SelectionShape::Brush(all(ps), radius * ppp),
            Shape::Click(p) => SelectionShape::Click(px(p)),
        }
    }
}

#[derive(Default)]
pub struct ViewportPanel {
    gizmo: LayerGizmo,
    /// Transform of the selected layer when a gizmo drag started.
    drag_start: Option<(usize, TransformSpec)>,
    /// Where a selection drag started (screen points).
    shape_start: Option<egui::Pos2>,
    /// Points of a lasso or brush stroke being drawn (screen points).
    stroke: Vec<egui::Pos2>,
    /// A finished shape and its mode, applied when the camera is known.
    finished: Option<(Shape, Mode)>,
    /// The camera at the last frame, and when it last changed.
    last_camera: Option<crate::camera::OrbitCamera>,
    last_move: Option<Instant>,
}

impl Panel for ViewportPanel {
    fn title(&self) -> &'static str {
        "viewport"
    }

    fn dock(&self) -> Dock {
        Dock::Centre
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelCtx<'_>) {
        let ctx = ui.ctx().clone();
        let s = &mut *cx.state;
        let rect = ui.max_rect();
        let response = ui.allocate_rect(rect, egui::Sense::click_and_drag());
        let gizmo_busy = self.drag_start.is_some() || self.gizmo.is_active();
        self.camera_input(ui, s, &response, rect, gizmo_busy);
        let ppp = ctx.pixels_per_point();
        let w = (rect.width() * ppp).clamp(1.0, MAX_VIEWPORT) as u32;
        let h = (rect.height() * ppp).clamp(1.0, MAX_VIEWPORT) as u32;
        s.viewport_size = [w, h];
        s.viewport_rect = rect;
        let Some(camera) = s.camera.to_camera(w, h) else { return };
        if let Some((shape, mode)) = self.finished.take() {
            s.apply_shape(shape.in_pixels(ppp), mode, &camera, ppp);
        }
        let centred = |text: &str, size: f32, colour: egui::Color32| {
            ui.painter().text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                text,
                egui::FontId::proportional(size),
                colour,
            );
        };
        if s.doc.layers.is_empty() {
            ui.painter().rect_filled(rect, 0.0, egui::Color32::from_gray(30));
            centred("Drop captures or a job here, or use File > Open", 16.0, egui::Color32::GRAY);
            return;
        }
        // While the camera moves, a big or slow scene is drawn budgeted (docs/ARCHITECTURE.md §6).
        if self.last_camera.is_some_and(|c| c != s.camera) {
            self.last_move = Some(Instant::now());
        }
        self.last_camera = Some(s.camera);
        let moving = self.last_move.is_some_and(|t| t.elapsed() < STILL_AFTER);
        if moving {
            ctx.request_repaint_after(STILL_AFTER);
        }
        let budget = s.move_budget;
        let subset = moving && s.over_move_budget();
        let scale = if moving && s.full_frame_ms > budget.slow_ms { budget.resolution } else { 1.0 };
        let draw_size = [((w as f32 * scale) as u32).max(1), ((h as f32 * scale) as u32).max(1)];
        let draw_camera = s.camera.to_camera(draw_size[0], draw_size[1]).unwrap_or(camera);
        let t = Instant::now();
        let drawn = {
            // Each subset level is a scene of its own to the viewport (its upload, its cache).
            let level = if subset { 1 + s.move_level() as u64 } else { 0 };
            let (scene_version, version) = ((s.doc_version << 8) + level, s.view_version * 2 + moving as u64);
            let background = s.background;
            let layers = if subset { s.moving_layers() } else { s.render_layers() };
            let req = ViewRequest { layers, camera: draw_camera, scene_version, version, background };
            cx.viewport.draw(&ctx, &req)
        };
        match drawn {
            Ok(()) => {
                let ms = t.elapsed().as_secs_f32() * 1e3;
                if ms > 0.5 {
                    s.frame_ms = ms;
                    if !subset && scale == 1.0 {
                        s.full_frame_ms = ms;
                    }
                }
                if subset {
                    s.adapt_move_budget(ms);
                }
                cx.viewport.show(ui, rect);
                if s.first_frame.is_none() {
                    let secs = s.started.elapsed().as_secs_f64();
                    s.first_frame = Some(secs);
                    tracing::info!("first frame with splats after {secs:.2} s");
                }
            }
            Err(e) => centred(&e, 14.0, egui::Color32::RED),
        }
        s.view_note = match (subset, scale < 1.0) {
            (false, false) => String::new(),
            (true, low) => {
                let (n, total) = s.move_subset();
                let res = if low { format!(" at {:.0} % resolution", scale * 100.0) } else { String::new() };
                format!("moving: {n} of {total} Gaussians{res}")
            }
            (false, true) => format!("moving: {:.0} % resolution", scale * 100.0),
        };
        if s.show_boundary {
            boundary_overlay(ui, s, rect, &camera, ppp);
        }
        self.gizmo_ui(ui, s, rect);
    }
}

/// ∂B as small dots over the viewport (at most 20,000 of them).
fn boundary_overlay(
    ui: &egui::Ui,
    s: &mut EditorState,
    rect: egui::Rect,
    camera: &splatstitch_render::Camera,
    ppp: f32,
) {
    let points = s.boundary_points();
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

impl ViewportPanel {
    fn gizmo_ui(&mut self, ui: &egui::Ui, s: &mut EditorState, rect: egui::Rect) {
        let Some(i) = s.selected.filter(|&i| s.show_gizmo && s.tool == Tool::Orbit && i < s.doc.layers.len()) else {
            return;
        };
        self.gizmo.kind = s.gizmo_kind;
        let current = s.doc.layers[i].transform.clone();
        match self.gizmo.show(ui, rect, &s.camera, &current) {
            Some(t) => {
                if self.drag_start.is_none() {
                    self.drag_start = Some((i, current));
                }
                s.doc.layers[i].transform = t;
                s.doc_changed();
            }
            None => {
                let released = !ui.input(|inp| inp.pointer.primary_down());
                if released && let Some((layer, before)) = self.drag_start.take() {
                    let after = s.doc.layers[layer].transform.clone();
                    if after != before {
                        s.record(Edit::Transform { layer, before, after });
                    }
                }
            }
        }
    }

    fn camera_input(
        &mut self,
        ui: &egui::Ui,
        s: &mut EditorState,
        response: &egui::Response,
        rect: egui::Rect,
        gizmo_busy: bool,
    ) {
        let h = rect.height();
        let before = s.camera;
        let d = response.drag_delta();
        let m = ui.input(|i| i.modifiers);
        let mode = match (m.shift, m.command) {
            (true, true) => Mode::Intersect,
            (true, false) => Mode::Add,
            (false, true) => Mode::Subtract,
            (false, false) => Mode::Replace,
        };
        let to_local = |p: egui::Pos2| p - rect.min.to_vec2();
        if matches!(s.tool, Tool::Pick | Tool::Align)
            && response.clicked()
            && let Some(p) = response.interact_pointer_pos()
        {
            self.finished = Some((Shape::Click(to_local(p)), mode));
        }
        let selecting = matches!(s.tool, Tool::Rectangle | Tool::Lasso | Tool::Brush);
        if selecting && response.drag_started_by(egui::PointerButton::Primary) {
            self.shape_start = ui.input(|i| i.pointer.press_origin()).or(response.interact_pointer_pos());
            self.stroke = self.shape_start.into_iter().collect();
        }
        if let (true, Some(start)) = (selecting, self.shape_start) {
            let now = ui.input(|i| i.pointer.interact_pos()).unwrap_or(start);
            if self.stroke.last().is_none_or(|l| l.distance(now) > 2.0) {
                self.stroke.push(now);
            }
            self.draw_shape(ui, s, start, now);
            if response.drag_stopped() || !ui.input(|i| i.pointer.primary_down()) {
                let points: Vec<egui::Pos2> = self.stroke.drain(..).map(to_local).collect();
                let shape = match s.tool {
                    Tool::Rectangle => Shape::Rect(egui::Rect::from_two_pos(to_local(start), to_local(now))),
                    Tool::Lasso => Shape::Lasso(points),
                    _ => Shape::Brush(points, s.selection_settings.brush_radius),
                };
                self.finished = Some((shape, mode));
                self.shape_start = None;
            }
        } else if response.dragged_by(egui::PointerButton::Primary) && !gizmo_busy {
            if m.shift { s.camera.pan(d.x, d.y, h) } else { s.camera.orbit(d.x, d.y, h) }
        }
        if response.dragged_by(egui::PointerButton::Secondary) || response.dragged_by(egui::PointerButton::Middle) {
            s.camera.pan(d.x, d.y, h);
        }
        if response.hovered() {
            let scroll = ui.input(|i| i.smooth_scroll_delta.y);
            if scroll != 0.0 {
                s.camera.zoom(scroll / 50.0);
            }
        }
        if !ui.ctx().egui_wants_keyboard_input() && response.hovered() {
            fly_keys(ui, s);
        }
        if s.camera != before {
            s.mark_view_changed();
        }
    }

    /// The selection shape being made, in yellow.
    fn draw_shape(&self, ui: &egui::Ui, s: &EditorState, start: egui::Pos2, now: egui::Pos2) {
        let stroke = egui::Stroke::new(1.5, egui::Color32::YELLOW);
        match s.tool {
            Tool::Rectangle => {
                let r = egui::Rect::from_two_pos(start, now);
                ui.painter().rect_stroke(r, 0.0, stroke, egui::StrokeKind::Middle);
            }
            Tool::Lasso => {
                ui.painter().add(egui::Shape::closed_line(self.stroke.clone(), stroke));
            }
            _ => {
                let r = s.selection_settings.brush_radius;
                for p in &self.stroke {
                    ui.painter().circle_stroke(*p, r, egui::Stroke::new(1.0, egui::Color32::YELLOW));
                }
            }
        }
    }
}

/// WASD/QE flight, F to focus the selected layer, Home to reset the camera.
fn fly_keys(ui: &egui::Ui, s: &mut EditorState) {
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
        s.camera.fly(dir, dt);
        ui.ctx().request_repaint();
    }
    if focus {
        s.focus_selected();
    }
    if home {
        s.camera.reset();
    }
}
