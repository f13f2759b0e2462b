//! Nearest-centre queries over a cloud (kiddo's k-d tree): the seam search, the radiance
//! field's neighbours, driving points and the editor's region tools all ask them.

use kiddo::{ImmutableKdTree, SquaredEuclidean};
use splatstitch_core::GaussianCloud;
use std::num::NonZero;

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
