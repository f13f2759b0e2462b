//! Pinhole camera in the OpenCV convention: x right, y down, z forward; intrinsics in pixels.

use crate::{MAX_IMAGE_SIDE, RenderError};
use glam::{Mat3, Mat4, Vec3};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Camera {
    pub width: u32,
    pub height: u32,
    pub fx: f32,
    pub fy: f32,
    pub cx: f32,
    pub cy: f32,
    /// World → camera (rigid), column-major as glam stores it.
    pub view: Mat4,
}

impl Camera {
    /// Checks sizes and intrinsics before anything is allocated by them.
    pub fn validate(&self) -> Result<(), RenderError> {
        if self.width == 0 || self.height == 0 || self.width > MAX_IMAGE_SIDE || self.height > MAX_IMAGE_SIDE {
            return Err(RenderError::BadImageSize { width: self.width, height: self.height, max: MAX_IMAGE_SIDE });
        }
        let intrinsics = [self.fx, self.fy, self.cx, self.cy];
        if !intrinsics.iter().all(|v| v.is_finite()) || self.fx <= 0.0 || self.fy <= 0.0 {
            return Err(RenderError::BadCamera(format!(
                "intrinsics fx={} fy={} must be positive and finite",
                self.fx, self.fy
            )));
        }
        if !self.view.is_finite() {
            return Err(RenderError::BadCamera("view matrix holds NaN or infinite values".into()));
        }
        Ok(())
    }

    /// A camera at the world origin looking down +z, for `looking_at` to place.
    pub fn new(width: u32, height: u32, fx: f32, fy: f32, cx: f32, cy: f32) -> Self {
        Camera { width, height, fx, fy, cx, cy, view: Mat4::IDENTITY }
    }

    /// This camera moved to `eye`, looking at `target`, with `up` pointing up in the image (so
    /// image y, which points down, is −up).
    pub fn looking_at(self, eye: Vec3, target: Vec3, up: Vec3) -> Result<Self, RenderError> {
        let forward = (target - eye).normalize_or_zero();
        let right = forward.cross(up).normalize_or_zero();
        if forward == Vec3::ZERO || right == Vec3::ZERO || !eye.is_finite() {
            return Err(RenderError::BadCamera("eye, target and up must be finite, distinct and not collinear".into()));
        }
        let down = forward.cross(right);
        // Rows of the rotation are the camera axes in world coordinates.
        let r = Mat3::from_cols(right, down, forward).transpose();
        let cam = Camera { view: Mat4::from_mat3(r) * Mat4::from_translation(-eye), ..self };
        cam.validate()?;
        Ok(cam)
    }

    /// A camera that sees the whole box `[lo, hi]` from a three-quarter view, with a focal
    /// length of one image width.
    pub fn framing(width: u32, height: u32, lo: Vec3, hi: Vec3) -> Result<Self, RenderError> {
        let center = (lo + hi) * 0.5;
        let radius = ((hi - lo).length() * 0.5).max(1e-3);
        let f = width.max(height) as f32;
        let half_fov = (0.5 * width.min(height) as f32 / f).atan();
        let distance = radius / half_fov.sin() * 1.05;
        let dir = Vec3::new(0.6, -0.45, -0.65).normalize();
        // −y is up in most captures (COLMAP convention); the three-quarter view works either way.
        Self::new(width, height, f, f, width as f32 * 0.5, height as f32 * 0.5).looking_at(
            center + dir * distance,
            center,
            Vec3::NEG_Y,
        )
    }

    /// Camera centre in world coordinates.
    pub fn position(&self) -> Vec3 {
        self.view.inverse().transform_point3(Vec3::ZERO)
    }

    pub fn pixel_count(&self) -> usize {
        self.width as usize * self.height as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_at_puts_target_on_the_optical_axis() {
        let cam = Camera::new(64, 48, 50.0, 50.0, 32.0, 24.0)
            .looking_at(Vec3::new(1.0, 2.0, 3.0), Vec3::ZERO, Vec3::Y)
            .unwrap();
        let t = cam.view.transform_point3(Vec3::ZERO);
        assert!(t.x.abs() < 1e-5 && t.y.abs() < 1e-5 && t.z > 0.0);
        // World up appears towards the top of the image (negative camera y).
        let up = cam.view.transform_vector3(Vec3::Y);
        assert!(up.y < 0.0);
        assert!((cam.position() - Vec3::new(1.0, 2.0, 3.0)).length() < 1e-5);
    }

    #[test]
    fn bad_sizes_are_rejected() {
        let mut cam = Camera::framing(16, 16, Vec3::ZERO, Vec3::ONE).unwrap();
        cam.width = 16384;
        cam.height = 16384;
        assert!(matches!(cam.validate(), Err(RenderError::BadImageSize { .. })));
    }
}
