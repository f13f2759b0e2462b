//! What the renderer draws: layers of clouds, each with its non-destructive transform.

use splatstitch_core::{GaussianCloud, Layer, LayerFlags, Similarity};

/// One layer as the renderer sees it. Gaussians are transformed on the fly; `flags` (when
/// given) hide deleted/hidden Gaussians and highlight selected ones.
#[derive(Clone, Copy)]
pub struct RenderLayer<'a> {
    pub cloud: &'a GaussianCloud,
    pub transform: Similarity,
    pub flags: Option<&'a [LayerFlags]>,
}

impl<'a> RenderLayer<'a> {
    pub fn new(cloud: &'a GaussianCloud) -> Self {
        Self { cloud, transform: Similarity::IDENTITY, flags: None }
    }

    pub fn from_layer(layer: &'a Layer) -> Self {
        Self { cloud: &layer.cloud, transform: layer.transform, flags: Some(&layer.flags) }
    }
}

/// Layers rendered together in one depth order.
#[derive(Clone, Default)]
pub struct RenderScene<'a> {
    pub layers: Vec<RenderLayer<'a>>,
}

impl<'a> RenderScene<'a> {
    pub fn from_layers(layers: &'a [Layer]) -> Self {
        Self { layers: layers.iter().filter(|l| l.visible).map(RenderLayer::from_layer).collect() }
    }

    /// Total Gaussians over all layers; a Gaussian's global index is its layer's offset plus
    /// its index in the layer.
    pub fn len(&self) -> usize {
        self.layers.iter().map(|l| l.cloud.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// World-space bounding box of all finite centres, or `None` when there are none.
    pub fn bounds(&self) -> Option<(glam::Vec3, glam::Vec3)> {
        let (mut lo, mut hi) = (glam::Vec3::splat(f32::MAX), glam::Vec3::splat(f32::MIN));
        for l in &self.layers {
            for p in &l.cloud.positions {
                let w = l.transform.transform_point(glam::Vec3::from(*p));
                if w.is_finite() {
                    lo = lo.min(w);
                    hi = hi.max(w);
                }
            }
        }
        (lo.x <= hi.x).then_some((lo, hi))
    }
}
