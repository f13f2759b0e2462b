//! The transform gizmo: transform-gizmo's framework-free core, fed egui's pointer and drawn with
//! egui's painter (its own egui adapter targets an older egui).

use crate::camera::OrbitCamera;
use splatstitch_core::transform::euler_deg_to_quat;
use splatstitch_stitch::job::TransformSpec;
use transform_gizmo::math::{DMat4, DQuat, DVec3, Pos2, Rect};
use transform_gizmo::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GizmoKind {
    #[default]
    Translate,
    Rotate,
    /// Uniform only: layers are similarity transforms (docs/ARCHITECTURE.md §3).
    Scale,
}

impl GizmoKind {
    pub const ALL: [GizmoKind; 3] = [GizmoKind::Translate, GizmoKind::Rotate, GizmoKind::Scale];

    pub fn label(self) -> &'static str {
        match self {
            GizmoKind::Translate => "Move (G)",
            GizmoKind::Rotate => "Rotate (R)",
            GizmoKind::Scale => "Scale (T)",
        }
    }

    fn modes(self) -> EnumSet<GizmoMode> {
        match self {
            GizmoKind::Translate => enum_set!(
                GizmoMode::TranslateX
                    | GizmoMode::TranslateY
                    | GizmoMode::TranslateZ
                    | GizmoMode::TranslateXY
                    | GizmoMode::TranslateXZ
                    | GizmoMode::TranslateYZ
                    | GizmoMode::TranslateView
            ),
            GizmoKind::Rotate => {
                enum_set!(GizmoMode::RotateX | GizmoMode::RotateY | GizmoMode::RotateZ | GizmoMode::RotateView)
            }
            GizmoKind::Scale => enum_set!(GizmoMode::ScaleUniform),
        }
    }
}

/// Rz·Ry·Rx Euler angles in degrees of a rotation (the inverse of [`euler_deg_to_quat`]).
pub fn quat_to_euler_deg(q: glam::Quat) -> [f32; 3] {
    let (z, y, x) = q.to_euler(glam::EulerRot::ZYX);
    [x.to_degrees(), y.to_degrees(), z.to_degrees()]
}

fn mat(m: glam::Mat4) -> transform_gizmo::mint::RowMatrix4<f64> {
    DMat4::from_cols_array(&m.to_cols_array().map(f64::from)).into()
}

#[derive(Default)]
pub struct LayerGizmo {
    gizmo: Gizmo,
    pub kind: GizmoKind,
}

impl LayerGizmo {
    /// Shows the gizmo for `t` over the viewport `rect`; returns the transform while it is
    /// being dragged. `dragging` tells the caller when a drag is in progress.
    pub fn show(
        &mut self,
        ui: &egui::Ui,
        rect: egui::Rect,
        cam: &OrbitCamera,
        t: &TransformSpec,
    ) -> Option<TransformSpec> {
        let (_, screen_up) = cam.axes();
        let view = glam::Mat4::look_at_rh(cam.eye(), cam.focus, screen_up);
        let aspect = rect.width() / rect.height().max(1.0);
        let near = (cam.distance * 1e-3).max(1e-4);
        let proj = glam::Mat4::perspective_rh(cam.fov_y, aspect, near, cam.distance * 1e3 + 1.0);
        self.gizmo.update_config(GizmoConfig {
            view_matrix: mat(view),
            projection_matrix: mat(proj),
            viewport: Rect::from_min_max(Pos2::new(rect.min.x, rect.min.y), Pos2::new(rect.max.x, rect.max.y)),
            modes: self.kind.modes(),
            orientation: GizmoOrientation::Global,
            pixels_per_point: ui.ctx().pixels_per_point(),
            ..Default::default()
        });
        let q = euler_deg_to_quat(t.rotate_deg);
        let target = transform_gizmo::math::Transform {
            scale: DVec3::splat(t.scale as f64).into(),
            rotation: DQuat::from_xyzw(q.x as f64, q.y as f64, q.z as f64, q.w as f64).into(),
            translation: DVec3::from(t.translate.map(f64::from)).into(),
        };
        let (cursor, pressed, down) = ui.input(|i| {
            (
                i.pointer.hover_pos(),
                i.pointer.button_pressed(egui::PointerButton::Primary),
                i.pointer.button_down(egui::PointerButton::Primary),
            )
        });
        let cursor = cursor.unwrap_or_default();
        let result = self.gizmo.update(
            GizmoInteraction {
                cursor_pos: (cursor.x, cursor.y),
                hovered: rect.contains(cursor),
                drag_started: pressed,
                dragging: down,
            },
            &[target],
        );
        let draw = self.gizmo.draw();
        let mesh = egui::Mesh {
            indices: draw.indices,
            vertices: draw
                .vertices
                .into_iter()
                .zip(draw.colors)
                .map(|(p, [r, g, b, a])| egui::epaint::Vertex {
                    pos: egui::pos2(p[0], p[1]),
                    uv: egui::Pos2::ZERO,
                    color: egui::Rgba::from_rgba_premultiplied(r, g, b, a).into(),
                })
                .collect(),
            ..Default::default()
        };
        ui.painter().with_clip_rect(rect).add(mesh);
        let (_, transforms) = result?;
        let n = transforms.first()?;
        let s: DVec3 = n.scale.into();
        let r: DQuat = n.rotation.into();
        let tr: DVec3 = n.translation.into();
        let rot = glam::Quat::from_xyzw(r.x as f32, r.y as f32, r.z as f32, r.w as f32).normalize();
        Some(TransformSpec {
            scale: ((s.x + s.y + s.z) / 3.0).max(1e-6) as f32,
            rotate_deg: quat_to_euler_deg(rot),
            translate: [tr.x as f32, tr.y as f32, tr.z as f32],
        })
    }

    /// True while the pointer is over a gizmo handle or dragging one (the camera then stays).
    pub fn is_active(&self) -> bool {
        self.gizmo.is_focused()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn euler_round_trip() {
        for deg in [[10.0, -20.0, 30.0], [0.0, 0.0, 0.0], [-170.0, 45.0, 90.0 - 1.0]] {
            let back = quat_to_euler_deg(euler_deg_to_quat(deg));
            let (a, b) = (euler_deg_to_quat(deg), euler_deg_to_quat(back));
            assert!(a.dot(b).abs() > 1.0 - 1e-6, "{deg:?} → {back:?}");
        }
    }
}
