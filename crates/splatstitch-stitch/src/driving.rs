//! Step 3 of the method, sampling-based cloning: every target Gaussian outside the boundary is
//! driven by the K boundary Gaussians nearest to a jittered copy of its position. The paper's
//! jitter is φ(x) = x + sin(γ·δx), δx the distance to the nearest boundary Gaussian, the same
//! offset on every axis and no amplitude factor, in world units. It varies with distance from
//! the seam, so neighbouring Gaussians sample different parts of it and the cloned appearance
//! does not come out as flat bands (without φ, driving points collapse onto the nearest seam
//! points: the paper's ablation). `JitterUnits::Size` scales it to the scene instead:
//! `A·L·sin(γ·δx/L)`.

use crate::boundary::Boundary;
use crate::centres::CentreIndex;
use crate::params::JitterUnits;
use rayon::prelude::*;
use splatstitch_core::GaussianCloud;

/// φ's parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Jitter {
    pub gamma: f32,
    pub amplitude: f32,
    pub units: JitterUnits,
}

impl Jitter {
    /// The offset (on each axis) of a point at distance `d` from the seam; `size` is L.
    pub fn offset(&self, d: f32, size: f32) -> f32 {
        match self.units {
            JitterUnits::World => self.amplitude * (self.gamma * d).sin(),
            JitterUnits::Size => self.amplitude * size * (self.gamma * d / size.max(1e-12)).sin(),
        }
    }
}

/// Interior (non-boundary) target indices and, per interior Gaussian, `k` driving points
/// (target indices of boundary members). `k` is capped by the boundary's size.
pub fn driving_points(
    target: &GaussianCloud,
    b: &Boundary,
    size: f32,
    k: usize,
    jitter: Jitter,
) -> (Vec<i64>, Vec<i64>, usize) {
    let points: Vec<[f32; 3]> = b.members.iter().map(|&i| target.positions[i as usize]).collect();
    let Some(index) = CentreIndex::from_points(&points) else { return (Vec::new(), Vec::new(), 1) };
    let k = k.min(points.len()).max(1);
    let mut is_member = vec![false; target.len()];
    for &m in &b.members {
        is_member[m as usize] = true;
    }
    let interior: Vec<i64> = (0..target.len()).filter(|&i| !is_member[i]).map(|i| i as i64).collect();
    let driving: Vec<i64> = interior
        .par_iter()
        .flat_map_iter(|&i| {
            let x = target.positions[i as usize];
            let d = index.nearest(&x, 1).first().map_or(0.0, |n| n.1);
            let shift = jitter.offset(d, size);
            let jittered = [x[0] + shift, x[1] + shift, x[2] + shift];
            index.nearest(&jittered, k).into_iter().map(|(j, _)| b.members[j as usize] as i64).collect::<Vec<_>>()
        })
        .collect();
    (interior, driving, k)
}
