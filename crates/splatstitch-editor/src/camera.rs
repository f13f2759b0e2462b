//! The viewport camera: orbit around a focus point, pan, zoom towards it, fly with WASD/QE.
//! Angles are kept relative to a chosen up axis, since captures differ (−y up is common).

use glam::{Quat, Vec3};
use splatstitch_render::Camera;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpAxis {
    /// COLMAP/3DGS captures: y points down.
    #[default]
    NegY,
    PosY,
    PosZ,
}

impl UpAxis {
    pub const ALL: [UpAxis; 3] = [UpAxis::NegY, UpAxis::PosY, UpAxis::PosZ];

    pub fn vector(self) -> Vec3 {
        match self {
            UpAxis::NegY => Vec3::NEG_Y,
            UpAxis::PosY => Vec3::Y,
            UpAxis::PosZ => Vec3::Z,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            UpAxis::NegY => "−Y up (COLMAP)",
            UpAxis::PosY => "+Y up",
            UpAxis::PosZ => "+Z up",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrbitCamera {
    pub focus: Vec3,
    pub distance: f32,
    /// Around the up axis, radians.
    pub yaw: f32,
    /// Above the horizon, radians, within ±89°.
    pub pitch: f32,
    pub up: UpAxis,
    pub fov_y: f32,
    home: (Vec3, f32),
}

const MAX_PITCH: f32 = 89f32.to_radians();

impl Default for OrbitCamera {
    fn default() -> Self {
        Self {
            focus: Vec3::ZERO,
            distance: 3.0,
            yaw: 0.6,
            pitch: 0.35,
            up: UpAxis::default(),
            fov_y: 50f32.to_radians(),
            home: (Vec3::ZERO, 3.0),
        }
    }
}

impl OrbitCamera {
    /// Rotation from a +Y-up frame into the chosen up axis.
    fn frame(&self) -> Quat {
        Quat::from_rotation_arc(Vec3::Y, self.up.vector())
    }

    /// Unit vector from the focus to the eye.
    pub fn back(&self) -> Vec3 {
        let (sy, cy) = self.yaw.sin_cos();
        let (sp, cp) = self.pitch.sin_cos();
        self.frame() * Vec3::new(cp * sy, sp, cp * cy)
    }

    pub fn eye(&self) -> Vec3 {
        self.focus + self.back() * self.distance
    }

    /// Screen-right and screen-up in world space.
    pub fn axes(&self) -> (Vec3, Vec3) {
        let forward = -self.back();
        let right = forward.cross(self.up.vector()).normalize_or(Vec3::X);
        (right, right.cross(forward))
    }

    /// Drag by `(dx, dy)` points over a viewport `height` points tall.
    pub fn orbit(&mut self, dx: f32, dy: f32, height: f32) {
        let speed = std::f32::consts::PI / height.max(1.0);
        self.yaw -= dx * speed;
        self.pitch = (self.pitch + dy * speed).clamp(-MAX_PITCH, MAX_PITCH);
    }

    /// Moves the focus so the scene follows the cursor.
    pub fn pan(&mut self, dx: f32, dy: f32, height: f32) {
        let (right, up) = self.axes();
        let per_point = 2.0 * self.distance * (self.fov_y * 0.5).tan() / height.max(1.0);
        self.focus += (-right * dx + up * dy) * per_point;
    }

    /// Scroll `steps` (positive = in): exponential, so it feels the same at any scale.
    pub fn zoom(&mut self, steps: f32) {
        self.distance = (self.distance * 0.85f32.powf(steps)).clamp(1e-4, 1e6);
    }

    /// Moves eye and focus together: `dir` is (right, up, forward) in −1..1, for `dt` seconds.
    pub fn fly(&mut self, dir: Vec3, dt: f32) {
        let (right, up) = self.axes();
        let forward = -self.back();
        let speed = self.distance.max(1e-3) * 0.8;
        self.focus += (right * dir.x + up * dir.y + forward * dir.z) * speed * dt;
    }

    /// Looks at a box from a distance that fits it; this becomes the "home" view.
    pub fn frame_box(&mut self, lo: Vec3, hi: Vec3) {
        let radius = ((hi - lo).length() * 0.5).max(1e-3);
        self.focus = (lo + hi) * 0.5;
        self.distance = radius / (self.fov_y * 0.5).tan() * 1.1;
        self.home = (self.focus, self.distance);
    }

    /// Back to the last framed view.
    pub fn reset(&mut self) {
        (self.focus, self.distance) = self.home;
        self.yaw = 0.6;
        self.pitch = 0.35;
    }

    /// The renderer's camera for a `width × height` pixel viewport.
    pub fn to_camera(&self, width: u32, height: u32) -> Option<Camera> {
        let f = height as f32 * 0.5 / (self.fov_y * 0.5).tan();
        Camera::new(width.max(1), height.max(1), f, f, width as f32 * 0.5, height as f32 * 0.5)
            .looking_at(self.eye(), self.focus, self.up.vector())
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orbit_keeps_distance_and_pan_moves_focus_sideways() {
        let mut c = OrbitCamera::default();
        c.frame_box(Vec3::splat(-1.0), Vec3::splat(1.0));
        let d = (c.eye() - c.focus).length();
        c.orbit(120.0, -40.0, 600.0);
        assert!(((c.eye() - c.focus).length() - d).abs() < 1e-4);
        let before = c.focus;
        c.pan(50.0, 0.0, 600.0);
        let (right, _) = c.axes();
        assert!((c.focus - before).normalize().dot(-right) > 0.99);
        c.zoom(2.0);
        assert!(c.distance < d);
        c.reset();
        assert!((c.distance - d).abs() < 1e-5 && c.focus == Vec3::ZERO);
        for up in UpAxis::ALL {
            c.up = up;
            c.pitch = 1.5;
            c.orbit(0.0, 1000.0, 10.0);
            assert!(c.to_camera(64, 48).is_some(), "{up:?}: a valid camera even at the pole");
        }
    }
}
