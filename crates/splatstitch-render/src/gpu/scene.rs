//! The scene's Gaussian attributes on the GPU, uploaded once and reused across frames.
//!
//! Each layer is uploaded in chunks whose every column fits one storage binding (and one buffer)
//! of the device: lavapipe binds at most 128 MiB, less than 700k Gaussians' SH at degree 3, so a
//! room-scale capture is many chunks; a desktop GPU binds 2 GiB or more and most layers are one.

use super::{GpuContext, GpuError};
use crate::scene::RenderScene;
use splatstitch_core::GaussianCloud;
use wgpu::util::DeviceExt;

/// Chunks start on multiples of this many Gaussians: the preprocess kernel's workgroup, and a
/// whole number of flag words.
pub(crate) const CHUNK_ALIGN: u64 = 256;
/// One dispatch covers a chunk, and one dispatch has at most 65535 workgroups in x.
const MAX_CHUNK: u64 = 65535 * CHUNK_ALIGN;

/// Gaussians `start..start + count` of a layer, each column in its own buffer.
pub struct GpuChunk {
    pub start: u32,
    pub count: u32,
    pub positions: wgpu::Buffer,
    pub rotations: wgpu::Buffer,
    pub log_scales: wgpu::Buffer,
    pub opacities: wgpu::Buffer,
    pub sh: wgpu::Buffer,
    /// 8 bits per Gaussian, 4 per word, when the layer has editor flags.
    pub flags: Option<wgpu::Buffer>,
}

pub struct GpuLayer {
    pub count: u32,
    pub sh_degree: u8,
    pub chunks: Vec<GpuChunk>,
    pub transform: splatstitch_core::Similarity,
}

/// Every layer's columns in storage buffers.
pub struct GpuScene {
    pub layers: Vec<GpuLayer>,
}

fn storage(ctx: &GpuContext, label: &str, bytes: &[u8]) -> wgpu::Buffer {
    // Zero-sized buffers cannot be bound: pad empty columns to one word.
    let contents: &[u8] = if bytes.is_empty() { &[0; 4] } else { bytes };
    ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents,
        usage: wgpu::BufferUsages::STORAGE,
    })
}

/// The most bytes one column of a chunk may hold on this device.
pub(crate) fn column_limit(ctx: &GpuContext) -> u64 {
    let limits = ctx.device.limits();
    limits.max_storage_buffer_binding_size.min(limits.max_buffer_size)
}

/// Gaussians per chunk for a layer of SH degree `sh_degree`: its largest column (the SH block,
/// at least 16 bytes for rotations) fits `column_bytes`.
fn chunk_len(sh_degree: u8, column_bytes: u64) -> u64 {
    let widest = ((sh_degree as u64 + 1).pow(2) * 3 * 4).max(16);
    (column_bytes / widest / CHUNK_ALIGN * CHUNK_ALIGN).clamp(CHUNK_ALIGN, MAX_CHUNK)
}

fn upload_chunk(
    ctx: &GpuContext,
    c: &GaussianCloud,
    flags: Option<&[splatstitch_core::LayerFlags]>,
    start: usize,
    end: usize,
) -> GpuChunk {
    let r = start..end;
    let flags = flags.map(|f| {
        let words: Vec<u32> = f[r.clone()]
            .chunks(4)
            .map(|q| q.iter().enumerate().fold(0u32, |w, (k, fl)| w | (fl.0 as u32) << (8 * k)))
            .collect();
        storage(ctx, "flags", bytemuck::cast_slice(&words))
    });
    let stride = (c.sh_degree as usize + 1).pow(2) * 3;
    GpuChunk {
        start: start as u32,
        count: (end - start) as u32,
        positions: storage(ctx, "positions", bytemuck::cast_slice(&c.positions[r.clone()])),
        rotations: storage(ctx, "rotations", bytemuck::cast_slice(&c.rotations[r.clone()])),
        log_scales: storage(ctx, "log_scales", bytemuck::cast_slice(&c.log_scales[r.clone()])),
        opacities: storage(ctx, "opacities", bytemuck::cast_slice(&shader_safe_logits(&c.opacities[r]))),
        sh: storage(ctx, "sh", bytemuck::cast_slice(&c.sh[start * stride..end * stride])),
        flags,
    }
}

impl GpuScene {
    /// Uploads every layer in chunks sized to the device's binding limit; a scene the device
    /// has no memory for is an error that says so.
    pub fn upload(ctx: &GpuContext, scene: &RenderScene) -> Result<Self, GpuError> {
        Self::upload_in_chunks(ctx, scene, u64::MAX)
    }

    /// Uploads with no chunk over `max_gaussians` (rounded up to a multiple of 256) either:
    /// tests use it to split small scenes the way the binding limit splits large ones.
    pub fn upload_in_chunks(ctx: &GpuContext, scene: &RenderScene, max_gaussians: u64) -> Result<Self, GpuError> {
        let n: usize = scene.layers.iter().map(|l| l.cloud.len()).sum();
        let bytes: usize =
            scene.layers.iter().map(|l| l.cloud.len() * (44 + (l.cloud.sh_degree as usize + 1).pow(2) * 12)).sum();
        out_of_memory_guard(ctx, &format!("uploading {n} Gaussians ({} MB)", bytes >> 20), || {
            Ok(Self::upload_columns(ctx, scene, max_gaussians))
        })
    }

    fn upload_columns(ctx: &GpuContext, scene: &RenderScene, max_gaussians: u64) -> Self {
        let column_bytes = column_limit(ctx);
        let cap = max_gaussians.clamp(1, MAX_CHUNK).next_multiple_of(CHUNK_ALIGN);
        let layers = scene
            .layers
            .iter()
            .map(|l| {
                let c = l.cloud;
                let flags = l.flags.filter(|f| f.len() == c.len());
                let per = chunk_len(c.sh_degree, column_bytes).min(cap) as usize;
                let chunks = (0..c.len().div_ceil(per))
                    .map(|k| upload_chunk(ctx, c, flags, k * per, ((k + 1) * per).min(c.len())))
                    .collect();
                GpuLayer { count: c.len() as u32, sh_degree: c.sh_degree, chunks, transform: l.transform }
            })
            .collect();
        Self { layers }
    }

    pub fn len(&self) -> usize {
        self.layers.iter().map(|l| l.count as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Runs `f` and turns the device running out of memory meanwhile (which wgpu reports to an
/// error scope, not as a return value, and by default panics on) into an error naming `what`.
pub(crate) fn out_of_memory_guard<T>(
    ctx: &GpuContext,
    what: &str,
    f: impl FnOnce() -> Result<T, GpuError>,
) -> Result<T, GpuError> {
    let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let out = f();
    match pollster::block_on(scope.pop()) {
        Some(e) => Err(GpuError::TooLarge(format!("{what} ran out of memory on {}: {e}", ctx.info.name))),
        None => out,
    }
}

/// Opacity logits with ±∞ (opacity exactly 1 or 0, valid data) replaced by finite logits that the
/// shader's sigmoid maps to the same opacity: WGSL lets implementations assume no infinities.
fn shader_safe_logits(logits: &[f32]) -> std::borrow::Cow<'_, [f32]> {
    /// `sigmoid(±SATURATED)` is 1 and below the 1/255 alpha cut, as for ±∞.
    const SATURATED: f32 = 88.0;
    if logits.iter().all(|v| v.is_finite()) {
        return std::borrow::Cow::Borrowed(logits);
    }
    std::borrow::Cow::Owned(logits.iter().map(|v| v.clamp(-SATURATED, SATURATED)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_fit_the_widest_column_and_stay_aligned() {
        // lavapipe's 128 MiB: SH3 is 192 bytes a Gaussian.
        let n = chunk_len(3, 128 << 20);
        assert!(n * 192 <= 128 << 20 && n.is_multiple_of(CHUNK_ALIGN) && (n + CHUNK_ALIGN) * 192 > 128 << 20);
        // SH0's widest column is the rotations' 16 bytes; the dispatch limit caps it.
        assert_eq!(chunk_len(0, 2 << 30), MAX_CHUNK);
        assert_eq!(chunk_len(3, 100), CHUNK_ALIGN);
    }
}
