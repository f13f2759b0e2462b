//! The splat renderer shared by the editor viewport, the headless `render` command and the
//! blend optimizer (docs/ARCHITECTURE.md §4).
//!
//! Pipeline: [`preprocess`] (cull, project covariances to conics with the +0.3 px low-pass,
//! evaluate SH colour in each layer's own frame, bound the screen extent) → one depth order over
//! all visible layers together → tile binning → per-tile front-to-back compositing
//! ([`raster`]). The rules are those of the reference 3DGS / gsplat rasterizer, so renders can
//! be compared with it; [`weights`] exposes each pixel's blend weights for the optimizer.

pub mod camera;
pub mod gpu;
pub mod image;
pub mod preprocess;
pub mod raster;
pub mod scene;
pub mod weights;

pub use camera::Camera;
pub use image::Image;
pub use raster::{RenderOptions, depth_cpu, render_cpu};
pub use scene::{RenderLayer, RenderScene};
pub use weights::{PixelWeights, pixel_weights_cpu, render_with_weights_cpu, view_depths};

/// Largest image side the renderer accepts.
pub const MAX_IMAGE_SIDE: u32 = 8192;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("image size {width}×{height} is invalid: each side must be between 1 and {max}")]
    BadImageSize { width: u32, height: u32, max: u32 },
    #[error("camera is invalid: {0}")]
    BadCamera(String),
    #[error("images differ in size: {a_width}×{a_height} against {b_width}×{b_height}")]
    SizeMismatch { a_width: u32, a_height: u32, b_width: u32, b_height: u32 },
}
