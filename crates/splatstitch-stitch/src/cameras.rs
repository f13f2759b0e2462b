//! Step 4 of the method: cameras on a Fibonacci sphere around the composite, looking at its
//! centre, at the working resolution.

use glam::Vec3;
use splatstitch_render::Camera;

/// Horizontal and vertical field of view of the working cameras.
const FOV_DEG: f32 = 60.0;

/// `views` cameras evenly spread over a sphere that sees the whole box `[lo, hi]`.
pub fn fibonacci_cameras(lo: Vec3, hi: Vec3, views: usize, resolution: u32) -> Vec<Camera> {
    fibonacci_cameras_turned(lo, hi, views, resolution, 0.0)
}

/// Turn of the validation cameras' sphere about the vertical axis, so that they look from
/// between the working cameras.
pub const VALIDATION_TURN: f32 = 1.0;

/// As [`fibonacci_cameras`] with the sphere of directions turned by `turn` radians about y.
pub fn fibonacci_cameras_turned(lo: Vec3, hi: Vec3, views: usize, resolution: u32, turn: f32) -> Vec<Camera> {
    let center = (lo + hi) * 0.5;
    let radius = ((hi - lo).length() * 0.5).max(1e-3);
    let half = (FOV_DEG * 0.5).to_radians();
    let distance = radius / half.sin() * 1.05;
    let f = 0.5 * resolution as f32 / half.tan();
    let golden = std::f32::consts::PI * (3.0 - 5f32.sqrt());
    (0..views)
        .map(|i| {
            let y = 1.0 - 2.0 * (i as f32 + 0.5) / views as f32;
            let r = (1.0 - y * y).sqrt();
            let t = golden * i as f32 + turn;
            let dir = Vec3::new(r * t.cos(), y, r * t.sin());
            // −y is up in most captures; near the poles pick another up vector.
            let up = if dir.y.abs() > 0.95 { Vec3::Z } else { Vec3::NEG_Y };
            let c = resolution as f32 * 0.5;
            Camera::new(resolution, resolution, f, f, c, c)
                .looking_at(center + dir * distance, center, up)
                .expect("fibonacci directions are finite and never collinear with their up vector")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cameras_surround_and_see_the_centre() {
        let cams = fibonacci_cameras(Vec3::splat(-1.0), Vec3::splat(1.0), 32, 64);
        assert_eq!(cams.len(), 32);
        let mean: Vec3 = cams.iter().map(|c| c.position()).sum::<Vec3>() / 32.0;
        assert!(mean.length() < 0.2, "cameras are not spread around the centre: {mean}");
        for c in &cams {
            let p = c.view.transform_point3(Vec3::ZERO);
            assert!(p.x.abs() < 1e-4 && p.y.abs() < 1e-4 && p.z > 1.0);
            // Every corner of the box projects inside the image.
            for corner in [Vec3::splat(-1.0), Vec3::splat(1.0), Vec3::new(1.0, -1.0, 1.0)] {
                let q = c.view.transform_point3(corner);
                let u = c.fx * q.x / q.z + c.cx;
                assert!(q.z > 0.0 && (0.0..64.0).contains(&u));
            }
        }
    }
}
