//! Each side of the stitch rendered alone from a set of cameras: colour with coverage and the
//! surface depth per pixel. The metrics, the seam appearance fit and the validation views all
//! compare these renders.

use rayon::prelude::*;
use splatstitch_core::GaussianCloud;
use splatstitch_render::{
    Camera, Image, PixelWeights, RenderLayer, RenderOptions, RenderScene, render_cpu, render_with_weights_cpu,
    view_depths,
};

/// Weights below this are dropped from the per-camera entry lists (docs/ARCHITECTURE.md §9).
pub const MIN_WEIGHT: f32 = 1e-4;

/// Renders each camera's view of `clouds` together, over black.
pub fn render_views(clouds: &[&GaussianCloud], cameras: &[Camera]) -> Vec<Image> {
    let scene = RenderScene { layers: clouds.iter().map(|c| RenderLayer::new(c)).collect() };
    let opts = RenderOptions { background: [0.0; 3], sh_degree: 3 };
    cameras.iter().map(|c| render_cpu(&scene, c, &opts).expect("working cameras are valid")).collect()
}

/// One camera's render of one side alone: colour over black (premultiplied) with coverage, the
/// surface depth per pixel (infinity where the side never reaches half coverage), and the share
/// of each pixel's weight that comes from the side's Gaussians in the overlap (near the other
/// layer; empty when not asked for).
#[derive(Debug, Clone)]
pub struct SideView {
    pub image: Image,
    pub depth: Vec<f32>,
    pub overlap_share: Vec<f32>,
}

/// The render, the sparse weights and the depth of `cloud` alone from `cam`; `in_overlap`
/// flags the Gaussians whose share of each pixel is measured.
pub fn render_side_with_weights(
    cloud: &GaussianCloud,
    cam: &Camera,
    in_overlap: Option<&[bool]>,
) -> (SideView, PixelWeights) {
    let scene = RenderScene { layers: vec![RenderLayer::new(cloud)] };
    let (weights, image) =
        render_with_weights_cpu(&scene, cam, cloud.sh_degree, MIN_WEIGHT).expect("working cameras are valid");
    let depth = weights.median_depth(&view_depths(&scene, cam));
    let overlap_share = in_overlap.map_or_else(Vec::new, |flags| {
        (0..weights.transmittance.len())
            .map(|p| {
                let (all, near) = weights.weight_split(p, flags);
                if all > 0.0 { near / all } else { 0.0 }
            })
            .collect()
    });
    (SideView { image, depth, overlap_share }, weights)
}

/// [`render_side_with_weights`] from every camera, keeping only the renders.
pub fn render_side(cloud: &GaussianCloud, cameras: &[Camera], in_overlap: Option<&[bool]>) -> Vec<SideView> {
    cameras.par_iter().map(|c| render_side_with_weights(cloud, c, in_overlap).0).collect()
}

/// The colour of a premultiplied pixel.
#[inline]
pub fn unpremultiplied(p: [f32; 4]) -> [f32; 3] {
    let a = p[3].max(1e-6);
    [p[0] / a, p[1] / a, p[2] / a]
}
