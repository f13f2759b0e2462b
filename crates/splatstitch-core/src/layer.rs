//! Scenes: ordered layers, each a loaded cloud plus a non-destructive transform and flags.

use crate::cloud::GaussianCloud;
use crate::transform::Similarity;

/// What a layer is for in a stitch (docs/ARCHITECTURE.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Appearance donor, never modified.
    Source,
    /// Its SH are optimized.
    Target,
    /// Part of the composite, neither donor nor optimized.
    #[default]
    Fixed,
}

/// Per-Gaussian editor state, one bit each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LayerFlags(pub u8);

impl LayerFlags {
    pub const SELECTED: u8 = 1;
    pub const HIDDEN: u8 = 2;
    pub const DELETED: u8 = 4;

    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    pub fn set(&mut self, bit: u8, on: bool) {
        if on {
            self.0 |= bit;
        } else {
            self.0 &= !bit;
        }
    }
}

/// One loaded capture placed in the scene. `cloud` stays as loaded; `transform` and `flags` are
/// the edits, applied only by [`Layer::baked`].
#[derive(Debug, Clone)]
pub struct Layer {
    pub name: String,
    pub cloud: GaussianCloud,
    pub transform: Similarity,
    pub visible: bool,
    pub role: Role,
    pub flags: Vec<LayerFlags>,
}

impl Layer {
    pub fn new(name: impl Into<String>, cloud: GaussianCloud) -> Self {
        let n = cloud.len();
        Self {
            name: name.into(),
            cloud,
            transform: Similarity::IDENTITY,
            visible: true,
            role: Role::default(),
            flags: vec![LayerFlags::default(); n],
        }
    }

    /// The layer's Gaussians in world space, deleted ones removed, in file order.
    pub fn baked(&self) -> GaussianCloud {
        let keep: Vec<bool> = self.flags.iter().map(|f| !f.has(LayerFlags::DELETED)).collect();
        let mut cloud = if keep.iter().all(|k| *k) { self.cloud.clone() } else { self.cloud.select(&keep) };
        self.transform.bake(&mut cloud);
        cloud
    }
}

/// An ordered list of layers.
#[derive(Debug, Clone, Default)]
pub struct Scene {
    pub layers: Vec<Layer>,
}

impl Scene {
    /// All layers baked and concatenated in order. SH degrees are lowered to the smallest one
    /// present so the composite has one layout.
    pub fn baked_composite(&self) -> GaussianCloud {
        let degree = self.layers.iter().map(|l| l.cloud.sh_degree).min().unwrap_or(0);
        let mut out = GaussianCloud::new(degree);
        for (i, layer) in self.layers.iter().enumerate() {
            let mut baked = layer.baked();
            baked.truncate_sh_degree(degree);
            if i == 0 {
                out = baked;
            } else {
                out.append(&baked);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baking_skips_deleted_and_applies_transform() {
        let mut cloud = GaussianCloud::with_len(3, 0);
        cloud.positions = vec![[0.0; 3], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0]];
        let mut layer = Layer::new("a", cloud);
        layer.flags[1].set(LayerFlags::DELETED, true);
        layer.transform.translation = glam::Vec3::new(0.0, 1.0, 0.0);
        let baked = layer.baked();
        assert_eq!(baked.positions, vec![[0.0, 1.0, 0.0], [2.0, 1.0, 0.0]]);
        let scene = Scene { layers: vec![layer.clone(), layer] };
        assert_eq!(scene.baked_composite().len(), 4);
    }
}
