//! Step 2 of the method: the seam. A target Gaussian belongs to the boundary ∂B when the mean
//! distance to its K nearest source Gaussians is below β·L and its opacity exceeds τ; its
//! reference appearance is the mean SH of those neighbours.

use kiddo::{ImmutableKdTree, SquaredEuclidean};
use rayon::prelude::*;
use splatstitch_core::GaussianCloud;
use splatstitch_core::cloud::sigmoid;
use std::num::NonZero;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundaryParams {
    pub k: usize,
    pub beta: f32,
    pub tau: f32,
}

/// ∂B and what the optimizer needs about it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Boundary {
    /// Target indices in ∂B, ascending.
    pub members: Vec<u32>,
    /// K source indices per member, nearest first.
    pub neighbours: Vec<u32>,
    /// Mean distance to the K neighbours, per member.
    pub mean_distance: Vec<f32>,
    /// Mean SH of the K neighbours per member, in the target's `K × 3` layout.
    pub reference_sh: Vec<f32>,
    pub k: usize,
}

impl Boundary {
    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

/// A k-d tree over a cloud's centres.
pub struct CentreIndex {
    tree: ImmutableKdTree<f32, 3>,
    len: usize,
}

impl CentreIndex {
    pub fn new(cloud: &GaussianCloud) -> Option<Self> {
        Self::from_points(&cloud.positions)
    }

    pub fn from_points(points: &[[f32; 3]]) -> Option<Self> {
        if points.is_empty() {
            return None;
        }
        let tree = ImmutableKdTree::new_from_slice(points).ok()?;
        Some(Self { tree, len: points.len() })
    }

    /// The `k` nearest centres to `p` (fewer when the cloud is smaller): (index, distance).
    pub fn nearest(&self, p: &[f32; 3], k: usize) -> Vec<(u32, f32)> {
        let k = NonZero::new(k.min(self.len).max(1)).expect("k ≥ 1");
        self.tree
            .query(p)
            .nearest_n::<SquaredEuclidean<f32>>(k)
            .execute()
            .into_iter()
            .map(|r| (r.item, r.distance.sqrt()))
            .collect()
    }
}

/// Finds ∂B of `target` against `source` (both in world space, same SH degree); `diagonal` is L.
pub fn find_boundary(target: &GaussianCloud, source: &GaussianCloud, p: BoundaryParams, diagonal: f32) -> Boundary {
    let Some(index) = CentreIndex::new(source) else { return Boundary { k: p.k, ..Default::default() } };
    let limit = p.beta * diagonal;
    let stride = target.coeffs_per_channel() * 3;
    assert_eq!(source.sh_degree, target.sh_degree, "source SH must be at the target's degree");
    // Per target Gaussian: its neighbours and their mean distance, when it is in ∂B.
    type Found = Option<(Vec<(u32, f32)>, f32)>;
    let found: Vec<Found> = (0..target.len())
        .into_par_iter()
        .map(|i| {
            if sigmoid(target.opacities[i]) <= p.tau || !target.positions[i].iter().all(|v| v.is_finite()) {
                return None;
            }
            let nn = index.nearest(&target.positions[i], p.k);
            let mean = nn.iter().map(|n| n.1).sum::<f32>() / nn.len() as f32;
            (mean < limit).then_some((nn, mean))
        })
        .collect();
    let mut b = Boundary { k: p.k.min(source.len()), ..Default::default() };
    for (i, f) in found.into_iter().enumerate() {
        let Some((nn, mean)) = f else { continue };
        b.members.push(i as u32);
        b.mean_distance.push(mean);
        let start = b.reference_sh.len();
        b.reference_sh.extend(std::iter::repeat_n(0.0, stride));
        for (j, _) in &nn {
            b.neighbours.push(*j);
            for (acc, v) in b.reference_sh[start..].iter_mut().zip(source.sh_of(*j as usize)) {
                *acc += v / nn.len() as f32;
            }
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: usize, x0: f32, opacity: f32, dc: f32) -> GaussianCloud {
        let mut c = GaussianCloud::with_len(n, 0);
        for i in 0..n {
            c.positions[i] = [x0 + i as f32 * 0.01, 0.0, 0.0];
            c.opacities[i] = opacity;
            c.sh[i * 3] = dc;
        }
        c
    }

    #[test]
    fn only_near_opaque_target_gaussians_join_the_boundary() {
        let source = line(100, 0.0, 5.0, 1.0); // x in [0, 0.99]
        let mut target = line(100, 0.95, 5.0, -1.0); // x in [0.95, 1.94]: overlaps at the start
        target.opacities[0] = -5.0; // transparent: never in ∂B
        let b = find_boundary(&target, &source, BoundaryParams { k: 4, beta: 0.05, tau: 0.95 }, 2.0);
        assert!(!b.members.contains(&0));
        assert!(b.members.contains(&1) && b.members.contains(&5));
        assert_eq!(b.members, (1..=12).collect::<Vec<u32>>());
        assert_eq!(b.neighbours.len(), b.len() * 4);
        assert!(b.reference_sh.iter().step_by(3).all(|v| (*v - 1.0).abs() < 1e-6));
        // Far apart: no boundary at all.
        let far = line(10, 50.0, 5.0, 0.0);
        assert!(find_boundary(&far, &source, BoundaryParams { k: 4, beta: 0.05, tau: 0.95 }, 2.0).is_empty());
    }
}
