//! The WGSL twin of the CPU pipeline: same stages, same rules, on any wgpu adapter (a real GPU,
//! or Mesa's lavapipe on machines without one). Kernels live in the top-level `shaders/`.
//!
//! One depth order over all layers: every layer's Gaussians are preprocessed into one array of
//! projected splats indexed by global id, and a single stable radix sort orders all tile
//! entries by (tile, depth, id) — exactly the CPU's order, so the two agree pixel for pixel up
//! to float rounding.

mod context;
mod kernels;
mod renderer;
mod scene;

pub use context::{GpuContext, GpuError};
pub use renderer::{GpuRenderer, viewport_texture};
pub use scene::GpuScene;
