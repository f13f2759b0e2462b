// Shared by the kernels that read or write projected splats; prepended to their sources
// (crates/splatstitch-render/src/gpu/kernels.rs). Mirrors `preprocess::Projected`.

struct Projected {
    mean: vec2<f32>,
    depth: f32,
    opacity: f32,
    conic: vec3<f32>,
    id: u32,
    color: vec3<f32>,
    _pad: u32,
    // x0, y0, x1, y1 in tiles
    tiles: vec4<u32>,
}

