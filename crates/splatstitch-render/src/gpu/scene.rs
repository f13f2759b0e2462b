//! The scene's Gaussian attributes on the GPU, uploaded once and reused across frames.

use super::GpuContext;
use crate::scene::RenderScene;
use wgpu::util::DeviceExt;

pub struct GpuLayer {
    pub count: u32,
    pub sh_degree: u8,
    pub positions: wgpu::Buffer,
    pub rotations: wgpu::Buffer,
    pub log_scales: wgpu::Buffer,
    pub opacities: wgpu::Buffer,
    pub sh: wgpu::Buffer,
    /// 8 bits per Gaussian, 4 per word, when the layer has editor flags.
    pub flags: Option<wgpu::Buffer>,
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

impl GpuScene {
    pub fn upload(ctx: &GpuContext, scene: &RenderScene) -> Self {
        let layers = scene
            .layers
            .iter()
            .map(|l| {
                let c = l.cloud;
                let flags = l.flags.filter(|f| f.len() == c.len()).map(|f| {
                    let words: Vec<u32> = f
                        .chunks(4)
                        .map(|q| q.iter().enumerate().fold(0u32, |w, (k, fl)| w | (fl.0 as u32) << (8 * k)))
                        .collect();
                    storage(ctx, "flags", bytemuck::cast_slice(&words))
                });
                GpuLayer {
                    count: c.len() as u32,
                    sh_degree: c.sh_degree,
                    positions: storage(ctx, "positions", bytemuck::cast_slice(&c.positions)),
                    rotations: storage(ctx, "rotations", bytemuck::cast_slice(&c.rotations)),
                    log_scales: storage(ctx, "log_scales", bytemuck::cast_slice(&c.log_scales)),
                    opacities: storage(ctx, "opacities", bytemuck::cast_slice(&shader_safe_logits(&c.opacities))),
                    sh: storage(ctx, "sh", bytemuck::cast_slice(&c.sh)),
                    flags,
                    transform: l.transform,
                }
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
