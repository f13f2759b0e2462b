//! Similarity transforms (uniform scale, rotation, translation) and baking them into a cloud.

use crate::cloud::GaussianCloud;
use crate::sh::ShRotation;
use glam::{Mat3, Mat4, Quat, Vec3};
use rayon::prelude::*;

/// `p ↦ scale · R·p + translation`: what a layer may undergo without distorting its Gaussians.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub scale: f32,
    pub rotation: Quat,
    pub translation: Vec3,
}

impl Default for Similarity {
    fn default() -> Self {
        Self::IDENTITY
    }
}

impl Similarity {
    pub const IDENTITY: Self = Self { scale: 1.0, rotation: Quat::IDENTITY, translation: Vec3::ZERO };

    /// Scale, then rotate by XYZ Euler angles in degrees with `R = Rz·Ry·Rx`, then translate.
    pub fn from_scale_euler_translation(scale: f32, rotate_deg: [f32; 3], translate: [f32; 3]) -> Self {
        Self { scale, rotation: euler_deg_to_quat(rotate_deg), translation: Vec3::from(translate) }
    }

    pub fn is_identity(&self) -> bool {
        self.scale == 1.0 && self.rotation == Quat::IDENTITY && self.translation == Vec3::ZERO
    }

    pub fn transform_point(&self, p: Vec3) -> Vec3 {
        self.rotation * (p * self.scale) + self.translation
    }

    /// `self ∘ other`: apply `other` first.
    pub fn then_after(&self, other: &Similarity) -> Similarity {
        Similarity {
            scale: self.scale * other.scale,
            rotation: (self.rotation * other.rotation).normalize(),
            translation: self.transform_point(other.translation),
        }
    }

    pub fn inverse(&self) -> Similarity {
        let inv_r = self.rotation.inverse();
        Similarity { scale: 1.0 / self.scale, rotation: inv_r, translation: -(inv_r * self.translation) / self.scale }
    }

    pub fn to_mat4(&self) -> Mat4 {
        Mat4::from_scale_rotation_translation(Vec3::splat(self.scale), self.rotation, self.translation)
    }

    /// Applies the transform to every Gaussian: positions, orientations (composed), log-scales
    /// (`+ ln s`) and SH bands 1..=3 (rotated exactly).
    pub fn bake(&self, cloud: &mut GaussianCloud) {
        if self.is_identity() {
            return;
        }
        let r = self.rotation.normalize();
        let ln_s = self.scale.ln();
        cloud.positions.par_iter_mut().for_each(|p| {
            *p = self.transform_point(Vec3::from(*p)).to_array();
        });
        cloud.rotations.par_iter_mut().for_each(|q| {
            let composed = (r * Quat::from_xyzw(q[1], q[2], q[3], q[0])).normalize();
            *q = [composed.w, composed.x, composed.y, composed.z];
        });
        if ln_s != 0.0 {
            cloud.log_scales.par_iter_mut().for_each(|s| {
                for v in s.iter_mut() {
                    *v += ln_s;
                }
            });
        }
        if cloud.sh_degree > 0 && r != Quat::IDENTITY {
            let rot = ShRotation::new(Mat3::from_quat(r));
            let degree = cloud.sh_degree;
            let stride = cloud.coeffs_per_channel() * 3;
            cloud.sh.par_chunks_mut(stride).for_each(|block| rot.apply(degree, block));
        }
    }
}

/// `R = Rz·Ry·Rx` from angles in degrees.
pub fn euler_deg_to_quat(deg: [f32; 3]) -> Quat {
    let [x, y, z] = deg.map(f32::to_radians);
    Quat::from_rotation_z(z) * Quat::from_rotation_y(y) * Quat::from_rotation_x(x)
}

/// Which Gaussians have their centre inside the axis-aligned box (bounds inclusive).
pub fn in_box(cloud: &GaussianCloud, min: Vec3, max: Vec3) -> Vec<bool> {
    cloud
        .positions
        .iter()
        .map(|p| {
            let p = Vec3::from(*p);
            p.cmpge(min).all() && p.cmple(max).all()
        })
        .collect()
}

/// Keeps the Gaussians whose centre lies inside the axis-aligned box (bounds inclusive). The
/// kept ones are copied out, so a small crop of a big capture holds only its own memory.
pub fn crop_to_box(cloud: &mut GaussianCloud, min: Vec3, max: Vec3) {
    *cloud = cloud.select(&in_box(cloud, min, max));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sh::eval_color;

    #[test]
    fn euler_order_is_z_after_y_after_x() {
        let q = euler_deg_to_quat([90.0, 0.0, 90.0]);
        // Rx(90) takes +y to +z; Rz(90) leaves +z alone.
        assert!((q * Vec3::Y - Vec3::Z).length() < 1e-6);
        // Rx(90) leaves +x; Rz(90) takes +x to +y.
        assert!((q * Vec3::X - Vec3::Y).length() < 1e-6);
    }

    #[test]
    fn bake_moves_geometry_and_keeps_view_dependent_colour_attached() {
        let mut c = GaussianCloud::with_len(1, 3);
        c.positions[0] = [1.0, 2.0, 3.0];
        c.log_scales[0] = [0.1, 0.2, 0.3];
        for (i, v) in c.sh.iter_mut().enumerate() {
            *v = ((i * 7919) % 13) as f32 * 0.05 - 0.3;
        }
        let orig = c.clone();
        let t = Similarity::from_scale_euler_translation(2.0, [30.0, -45.0, 120.0], [0.5, -1.0, 4.0]);
        t.bake(&mut c);
        let p = t.transform_point(Vec3::new(1.0, 2.0, 3.0));
        assert!((Vec3::from(c.positions[0]) - p).length() < 1e-5);
        assert!((c.log_scales[0][0] - (0.1 + 2f32.ln())).abs() < 1e-6);
        let v = Vec3::new(0.3, -0.5, 0.8).normalize();
        let a = eval_color(3, orig.sh_of(0), v);
        let b = eval_color(3, c.sh_of(0), t.rotation * v);
        for k in 0..3 {
            assert!((a[k] - b[k]).abs() < 1e-5);
        }
    }

    #[test]
    fn inverse_and_composition() {
        let a = Similarity::from_scale_euler_translation(1.5, [10.0, 20.0, 30.0], [1.0, 2.0, 3.0]);
        let b = Similarity::from_scale_euler_translation(0.5, [-40.0, 5.0, 60.0], [-2.0, 0.0, 1.0]);
        let p = Vec3::new(0.3, 0.7, -1.1);
        assert!((a.then_after(&b).transform_point(p) - a.transform_point(b.transform_point(p))).length() < 1e-5);
        assert!((a.inverse().transform_point(a.transform_point(p)) - p).length() < 1e-5);
    }
}
