//! Step 3 of the method, sampling-based cloning: every target Gaussian outside the boundary is
//! driven by the K boundary Gaussians nearest to a jittered copy of its position. The jitter
//! φ(x) = x + A·sin(γ·d(x)/L)·(1,1,1)/√3, with d the distance to the nearest boundary Gaussian,
//! varies with distance from the seam, so neighbouring Gaussians sample slightly different
//! parts of it and the cloned appearance does not come out as flat bands.

use crate::boundary::{Boundary, CentreIndex};
use rayon::prelude::*;
use splatstitch_core::GaussianCloud;

pub const GAMMA: f32 = 10.0;
/// A as a fraction of L.
pub const AMPLITUDE: f32 = 0.02;

/// Interior (non-boundary) target indices and, per interior Gaussian, `k` driving points
/// (target indices of boundary members). `k` is capped by the boundary's size.
pub fn driving_points(target: &GaussianCloud, b: &Boundary, diagonal: f32, k: usize) -> (Vec<i64>, Vec<i64>, usize) {
    let points: Vec<[f32; 3]> = b.members.iter().map(|&i| target.positions[i as usize]).collect();
    let Some(index) = CentreIndex::from_points(&points) else { return (Vec::new(), Vec::new(), 1) };
    let k = k.min(points.len()).max(1);
    let mut is_member = vec![false; target.len()];
    for &m in &b.members {
        is_member[m as usize] = true;
    }
    let interior: Vec<i64> = (0..target.len()).filter(|&i| !is_member[i]).map(|i| i as i64).collect();
    let amplitude = AMPLITUDE * diagonal;
    let dir = 1.0 / 3f32.sqrt();
    let driving: Vec<i64> = interior
        .par_iter()
        .flat_map_iter(|&i| {
            let x = target.positions[i as usize];
            let d = index.nearest(&x, 1).first().map_or(0.0, |n| n.1);
            let shift = amplitude * (GAMMA * d / diagonal.max(1e-12)).sin() * dir;
            let jittered = [x[0] + shift, x[1] + shift, x[2] + shift];
            index.nearest(&jittered, k).into_iter().map(|(j, _)| b.members[j as usize] as i64).collect::<Vec<_>>()
        })
        .collect();
    (interior, driving, k)
}
