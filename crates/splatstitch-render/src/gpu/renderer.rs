//! Orchestrates the kernels: preprocess per layer chunk → prefix sum of tile counts → emit tile
//! entries → stable radix sort by depth, then by tile → tile ranges → rasterize.

use super::kernels::{Kernels, bind, dispatch, grid, uniform};
use super::{GpuContext, GpuError, GpuScene};
use crate::camera::Camera;
use crate::image::Image;
use crate::preprocess::TILE;
use crate::raster::RenderOptions;
use crate::weights::PixelWeights;
use glam::Mat3;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct FrameUniform {
    view: [[f32; 4]; 4],
    cam_pos: [f32; 4],
    intrinsics: [f32; 4],
    size: [u32; 4],
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct LayerUniform {
    rot: [[f32; 4]; 3],
    translation_scale: [f32; 4],
    count: u32,
    global_offset: u32,
    sh_stored: u32,
    sh_used: u32,
    has_flags: u32,
    pad: [u32; 3],
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Words4([u32; 4]);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct RasterUniform {
    width: u32,
    height: u32,
    tiles_x: u32,
    mode: u32,
    background: [f32; 4],
    min_weight: f32,
    pad: [f32; 3],
}

/// Size of one projected splat in the shaders' `Projected` struct.
const PROJECTED_BYTES: u64 = 64;
/// Layer chunks start on multiples of this many Gaussians, which keeps every column's binding
/// offset a multiple of 256 bytes (the strictest storage offset alignment).
const CHUNK_ALIGN: u64 = 256;

/// What the sort and binning leave for rasterization.
struct Binned {
    projected: wgpu::Buffer,
    tile_counts: wgpu::Buffer,
    values: wgpu::Buffer,
    tile_ranges: wgpu::Buffer,
    tiles: (u32, u32),
}

/// The bytes of Gaussians `start..start + count` of a column with `bytes_per` bytes each.
fn column_slice(b: &wgpu::Buffer, start: u64, count: u64, bytes_per: u64) -> wgpu::BindingResource<'_> {
    wgpu::BindingResource::Buffer(wgpu::BufferBinding {
        buffer: b,
        offset: start * bytes_per,
        size: std::num::NonZeroU64::new(count * bytes_per),
    })
}

pub struct GpuRenderer {
    ctx: GpuContext,
    kernels: Kernels,
    /// Most Gaussians preprocessed per dispatch, when lower than the binding limit allows.
    chunk_cap: Option<u64>,
}

impl GpuRenderer {
    pub fn new(ctx: GpuContext) -> Self {
        let kernels = Kernels::new(&ctx.device);
        Self { ctx, kernels, chunk_cap: None }
    }

    /// Preprocesses at most `gaussians` (rounded up to a multiple of 256) per dispatch. Layers are
    /// always split so each column fits the adapter's storage-binding limit (lavapipe: 128 MiB,
    /// less than 1M Gaussians' SH at degree 3); this lowers the split further, which tests use to
    /// exercise it on small scenes.
    pub fn with_chunk_cap(mut self, gaussians: u64) -> Self {
        self.chunk_cap = Some(gaussians.next_multiple_of(CHUNK_ALIGN));
        self
    }

    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    fn max_binding(&self) -> u64 {
        self.ctx.device.limits().max_storage_buffer_binding_size
    }

    /// The most Gaussians one frame draws on this device: every visible Gaussian's projected
    /// splat lives in one storage binding.
    pub fn max_gaussians(&self) -> u64 {
        self.max_binding() / PROJECTED_BYTES
    }

    fn buffer(&self, label: &str, bytes: u64) -> Result<wgpu::Buffer, GpuError> {
        let limits = self.ctx.device.limits();
        if bytes > self.max_binding() || bytes > limits.max_buffer_size {
            return Err(GpuError::TooLarge(format!(
                "{label} needs {bytes} bytes, more than this adapter binds at once ({} bytes)",
                self.max_binding()
            )));
        }
        Ok(self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes.max(PROJECTED_BYTES).next_multiple_of(4),
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        }))
    }

    /// Exclusive prefix sum of `count` u32 in place, recursively over block totals.
    fn scan(&self, enc: &mut wgpu::CommandEncoder, data: &wgpu::Buffer, count: u32) -> Result<(), GpuError> {
        if count == 0 {
            return Ok(());
        }
        let device = &self.ctx.device;
        let blocks = count.div_ceil(256);
        let sums = self.buffer("block sums", blocks as u64 * 4)?;
        let params = uniform(device, &Words4([count, 0, 0, 0]));
        let k = &self.kernels;
        let entries = |p| {
            bind(
                device,
                p,
                &[(0, params.as_entire_binding()), (1, data.as_entire_binding()), (2, sums.as_entire_binding())],
            )
        };
        dispatch(enc, &k.scan_blocks, &entries(&k.scan_blocks), grid(blocks));
        if blocks > 1 {
            self.scan(enc, &sums, blocks)?;
            dispatch(enc, &k.add_offsets, &entries(&k.add_offsets), grid(blocks));
        }
        Ok(())
    }

    fn read(
        &self,
        enc: wgpu::CommandEncoder,
        src: &wgpu::Buffer,
        offset: u64,
        bytes: u64,
    ) -> Result<Vec<u8>, GpuError> {
        let mut enc = enc;
        let staging = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: bytes.max(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        if bytes > 0 {
            enc.copy_buffer_to_buffer(src, offset, &staging, 0, bytes);
        }
        self.ctx.queue.submit([enc.finish()]);
        let slice = staging.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.ctx.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| GpuError::Readback(e.to_string()))?;
        rx.recv().map_err(|e| GpuError::Readback(e.to_string()))?.map_err(|e| GpuError::Readback(e.to_string()))?;
        let out = slice.get_mapped_range().map_err(|e| GpuError::Readback(e.to_string()))?[..bytes as usize].to_vec();
        staging.unmap();
        Ok(out)
    }

    fn encoder(&self) -> wgpu::CommandEncoder {
        self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("splats") })
    }

    fn bin(&self, scene: &GpuScene, cam: &Camera, sh_degree: u8) -> Result<Binned, GpuError> {
        cam.validate()?;
        let device = &self.ctx.device;
        let k = &self.kernels;
        let n = scene.len() as u64;
        let fit = self.max_gaussians().min(u32::MAX as u64 / 2);
        if n > fit {
            return Err(GpuError::TooLarge(format!(
                "{n} Gaussians are more than {} draws in one frame: at most {fit} fit its storage bindings \
                 ({} MiB, {PROJECTED_BYTES} bytes per projected Gaussian)",
                self.ctx.info.name,
                self.max_binding() >> 20
            )));
        }
        let tiles = (cam.width.div_ceil(TILE), cam.height.div_ceil(TILE));
        let projected = self.buffer("projected", n * PROJECTED_BYTES)?;
        let tile_counts = self.buffer("tile counts", n * 4)?;
        let offsets = self.buffer("tile offsets", n * 4)?;
        let cam_pos = cam.position();
        let frame = uniform(
            device,
            &FrameUniform {
                view: cam.view.to_cols_array_2d(),
                cam_pos: [cam_pos.x, cam_pos.y, cam_pos.z, 0.0],
                intrinsics: [cam.fx, cam.fy, cam.cx, cam.cy],
                size: [cam.width, cam.height, tiles.0, tiles.1],
            },
        );
        let dummy_flags = self.buffer("no flags", 16)?;
        let mut enc = self.encoder();
        let mut global = 0u64;
        for layer in &scene.layers {
            let stride = (layer.sh_degree as u64 + 1).pow(2) * 3;
            // The largest column per Gaussian is the SH block; chunk so it fits one binding.
            let per_chunk = (self.max_binding() / (stride * 4).max(16)) / CHUNK_ALIGN * CHUNK_ALIGN;
            let per_chunk = per_chunk.min(self.chunk_cap.unwrap_or(u64::MAX)).clamp(CHUNK_ALIGN, 65535 * 256);
            let rot = Mat3::from_quat(layer.transform.rotation.normalize());
            let t = layer.transform.translation;
            let mut start = 0u64;
            while start < layer.count as u64 {
                let count = per_chunk.min(layer.count as u64 - start);
                let lu = uniform(
                    device,
                    &LayerUniform {
                        rot: [
                            rot.x_axis.extend(0.0).into(),
                            rot.y_axis.extend(0.0).into(),
                            rot.z_axis.extend(0.0).into(),
                        ],
                        translation_scale: [t.x, t.y, t.z, layer.transform.scale],
                        count: count as u32,
                        global_offset: (global + start) as u32,
                        sh_stored: layer.sh_degree as u32,
                        sh_used: sh_degree as u32,
                        has_flags: layer.flags.is_some() as u32,
                        pad: [0; 3],
                    },
                );
                let slice = |b, bytes_per| column_slice(b, start, count, bytes_per);
                let flags = match &layer.flags {
                    Some(f) => wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: f,
                        offset: start,
                        size: std::num::NonZeroU64::new(count.div_ceil(4) * 4),
                    }),
                    None => dummy_flags.as_entire_binding(),
                };
                let group = bind(
                    device,
                    &k.preprocess,
                    &[
                        (0, frame.as_entire_binding()),
                        (1, lu.as_entire_binding()),
                        (2, slice(&layer.positions, 12)),
                        (3, slice(&layer.rotations, 16)),
                        (4, slice(&layer.log_scales, 12)),
                        (5, slice(&layer.opacities, 4)),
                        (6, slice(&layer.sh, stride * 4)),
                        (7, flags),
                        (8, projected.as_entire_binding()),
                        (9, tile_counts.as_entire_binding()),
                    ],
                );
                dispatch(&mut enc, &k.preprocess, &group, (count.div_ceil(256) as u32, 1));
                start += count;
            }
            global += layer.count as u64;
        }
        enc.copy_buffer_to_buffer(&tile_counts, 0, &offsets, 0, n.max(1) * 4);
        self.scan(&mut enc, &offsets, n as u32)?;
        // Entries in total = last offset + last count.
        let total = if n == 0 {
            self.ctx.queue.submit([enc.finish()]);
            0
        } else {
            let mut tail = self.encoder();
            std::mem::swap(&mut tail, &mut enc);
            let both = self.buffer("tail", 8)?;
            tail.copy_buffer_to_buffer(&offsets, (n - 1) * 4, &both, 0, 4);
            tail.copy_buffer_to_buffer(&tile_counts, (n - 1) * 4, &both, 4, 4);
            let bytes = self.read(tail, &both, 0, 8)?;
            let w: &[u32] = bytemuck::cast_slice(&bytes);
            w[0] as u64 + w[1] as u64
        };
        let m = total;
        let keys_tile = [self.buffer("tile keys", m * 4)?, self.buffer("tile keys'", m * 4)?];
        let keys_depth = [self.buffer("depth keys", m * 4)?, self.buffer("depth keys'", m * 4)?];
        let values = [self.buffer("entries", m * 4)?, self.buffer("entries'", m * 4)?];
        let tile_ranges = self.buffer("tile ranges", tiles.0 as u64 * tiles.1 as u64 * 8)?;
        let mut enc = self.encoder();
        if m > 0 {
            let params = uniform(device, &Words4([n as u32, tiles.0, 0, 0]));
            let g = bind(
                device,
                &k.emit,
                &[
                    (0, params.as_entire_binding()),
                    (1, projected.as_entire_binding()),
                    (2, tile_counts.as_entire_binding()),
                    (3, offsets.as_entire_binding()),
                    (4, keys_tile[0].as_entire_binding()),
                    (5, keys_depth[0].as_entire_binding()),
                    (6, values[0].as_entire_binding()),
                ],
            );
            dispatch(&mut enc, &k.emit, &g, grid((n as u32).div_ceil(256)));
            // Stable LSD radix sort: all 32 depth bits, then as many tile bits as there are.
            let blocks = (m as u32).div_ceil(256);
            let histogram = self.buffer("histogram", 16 * blocks as u64 * 4)?;
            let tile_bits = 32 - (tiles.0 * tiles.1).saturating_sub(1).leading_zeros();
            let mut cur = 0usize;
            let mut passes: Vec<(bool, u32)> = (0..8).map(|p| (false, p * 4)).collect();
            passes.extend((0..tile_bits.div_ceil(4)).map(|p| (true, p * 4)));
            for (by_tile, shift) in passes {
                let (keys, extra) = if by_tile { (&keys_tile, &keys_depth) } else { (&keys_depth, &keys_tile) };
                let params = uniform(device, &Words4([m as u32, shift, blocks, 0]));
                let count_group = bind(
                    device,
                    &k.radix_count,
                    &[
                        (0, params.as_entire_binding()),
                        (1, keys[cur].as_entire_binding()),
                        (7, histogram.as_entire_binding()),
                    ],
                );
                dispatch(&mut enc, &k.radix_count, &count_group, grid(blocks));
                self.scan(&mut enc, &histogram, 16 * blocks)?;
                let scatter_group = bind(
                    device,
                    &k.radix_scatter,
                    &[
                        (0, params.as_entire_binding()),
                        (1, keys[cur].as_entire_binding()),
                        (2, values[cur].as_entire_binding()),
                        (3, extra[cur].as_entire_binding()),
                        (4, keys[1 - cur].as_entire_binding()),
                        (5, values[1 - cur].as_entire_binding()),
                        (6, extra[1 - cur].as_entire_binding()),
                        (7, histogram.as_entire_binding()),
                    ],
                );
                dispatch(&mut enc, &k.radix_scatter, &scatter_group, grid(blocks));
                cur = 1 - cur;
            }
            let params = uniform(device, &Words4([m as u32, tiles.0, 0, 0]));
            let g = bind(
                device,
                &k.ranges,
                &[
                    (0, params.as_entire_binding()),
                    (4, keys_tile[cur].as_entire_binding()),
                    (7, tile_ranges.as_entire_binding()),
                ],
            );
            dispatch(&mut enc, &k.ranges, &g, grid(blocks));
            let [v0, v1] = values;
            let values = if cur == 0 { v0 } else { v1 };
            self.ctx.queue.submit([enc.finish()]);
            return Ok(Binned { projected, tile_counts, values, tile_ranges, tiles });
        }
        self.ctx.queue.submit([enc.finish()]);
        let [v0, _] = values;
        Ok(Binned { projected, tile_counts, values: v0, tile_ranges, tiles })
    }

    #[allow(clippy::too_many_arguments)]
    fn rasterize(
        &self,
        enc: &mut wgpu::CommandEncoder,
        b: &Binned,
        cam: &Camera,
        mode: u32,
        background: [f32; 3],
        min_weight: f32,
        image: &wgpu::Buffer,
        weights: [&wgpu::Buffer; 3],
    ) {
        let device = &self.ctx.device;
        let params = uniform(
            device,
            &RasterUniform {
                width: cam.width,
                height: cam.height,
                tiles_x: b.tiles.0,
                mode,
                background: [background[0], background[1], background[2], 0.0],
                min_weight,
                pad: [0.0; 3],
            },
        );
        let g = bind(
            device,
            &self.kernels.rasterize,
            &[
                (0, params.as_entire_binding()),
                (1, b.projected.as_entire_binding()),
                (2, b.values.as_entire_binding()),
                (3, b.tile_ranges.as_entire_binding()),
                (4, image.as_entire_binding()),
                (5, weights[0].as_entire_binding()),
                (6, weights[1].as_entire_binding()),
                (7, weights[2].as_entire_binding()),
            ],
        );
        dispatch(enc, &self.kernels.rasterize, &g, b.tiles);
    }

    /// Renders the scene: RGB over the background plus alpha, as the CPU pipeline does.
    pub fn render(&self, scene: &GpuScene, cam: &Camera, opts: &RenderOptions) -> Result<Image, GpuError> {
        let b = self.bin(scene, cam, opts.sh_degree)?;
        let pixels = cam.pixel_count() as u64;
        let image = self.buffer("image", pixels * 16)?;
        let unused = self.buffer("unused", 16)?;
        let mut enc = self.encoder();
        self.rasterize(&mut enc, &b, cam, 0, opts.background, 0.0, &image, [&unused, &unused, &unused]);
        let bytes = self.read(enc, &image, 0, pixels * 16)?;
        Ok(Image { width: cam.width, height: cam.height, rgba: bytemuck::cast_slice(&bytes).to_vec() })
    }

    /// Renders into `target` (an `Rgba8Unorm` texture with storage binding, `cam`'s size) without
    /// reading anything back: the editor's viewport.
    pub fn render_to_texture(
        &self,
        scene: &GpuScene,
        cam: &Camera,
        opts: &RenderOptions,
        target: &wgpu::TextureView,
    ) -> Result<(), GpuError> {
        let b = self.bin(scene, cam, opts.sh_degree)?;
        let image = self.buffer("image", cam.pixel_count() as u64 * 16)?;
        let unused = self.buffer("unused", 16)?;
        let mut enc = self.encoder();
        self.rasterize(&mut enc, &b, cam, 0, opts.background, 0.0, &image, [&unused, &unused, &unused]);
        let device = &self.ctx.device;
        let params = uniform(device, &Words4([cam.width, cam.height, 0, 0]));
        let g = bind(
            device,
            &self.kernels.present,
            &[
                (0, params.as_entire_binding()),
                (1, image.as_entire_binding()),
                (2, wgpu::BindingResource::TextureView(target)),
            ],
        );
        dispatch(&mut enc, &self.kernels.present, &g, (cam.width.div_ceil(8), cam.height.div_ceil(8)));
        self.ctx.queue.submit([enc.finish()]);
        Ok(())
    }

    /// Per-pixel weights, as [`crate::pixel_weights_cpu`] computes them.
    pub fn pixel_weights(
        &self,
        scene: &GpuScene,
        cam: &Camera,
        sh_degree: u8,
        min_weight: f32,
    ) -> Result<PixelWeights, GpuError> {
        let b = self.bin(scene, cam, sh_degree)?;
        let pixels = cam.pixel_count() as u64;
        let image = self.buffer("image", pixels * 16)?;
        let counts = self.buffer("weight counts", pixels * 4)?;
        let unused = self.buffer("unused", 16)?;
        let mut enc = self.encoder();
        self.rasterize(&mut enc, &b, cam, 1, [0.0; 3], min_weight, &image, [&counts, &unused, &unused]);
        let offsets = self.buffer("weight offsets", pixels * 4)?;
        enc.copy_buffer_to_buffer(&counts, 0, &offsets, 0, pixels * 4);
        self.scan(&mut enc, &offsets, pixels as u32)?;
        let count_bytes = self.read(enc, &counts, 0, pixels * 4)?;
        let counts_cpu: Vec<u32> = bytemuck::cast_slice(&count_bytes).to_vec();
        let total: u64 = counts_cpu.iter().map(|c| *c as u64).sum();
        let ids = self.buffer("weight ids", total * 4)?;
        let values = self.buffer("weight values", total * 4)?;
        let mut enc = self.encoder();
        self.rasterize(&mut enc, &b, cam, 2, [0.0; 3], min_weight, &image, [&offsets, &ids, &values]);
        self.ctx.queue.submit([enc.finish()]);
        let ids_cpu: Vec<u32> = bytemuck::cast_slice(&self.read(self.encoder(), &ids, 0, total * 4)?).to_vec();
        let w_cpu: Vec<f32> = bytemuck::cast_slice(&self.read(self.encoder(), &values, 0, total * 4)?).to_vec();
        let img: Vec<[f32; 4]> = bytemuck::cast_slice(&self.read(self.encoder(), &image, 0, pixels * 16)?).to_vec();
        let n = scene.len() as u64;
        let proj: Vec<f32> =
            bytemuck::cast_slice(&self.read(self.encoder(), &b.projected, 0, n * PROJECTED_BYTES)?).to_vec();
        let tc: Vec<u32> = bytemuck::cast_slice(&self.read(self.encoder(), &b.tile_counts, 0, n * 4)?).to_vec();
        let mut offsets_cpu = Vec::with_capacity(pixels as usize + 1);
        offsets_cpu.push(0u32);
        let mut acc = 0u32;
        for c in &counts_cpu {
            acc += c;
            offsets_cpu.push(acc);
        }
        let colors = (0..n as usize)
            .map(|g| if tc[g] > 0 { [proj[g * 16 + 8], proj[g * 16 + 9], proj[g * 16 + 10]] } else { [0.0; 3] })
            .collect();
        Ok(PixelWeights {
            width: cam.width,
            height: cam.height,
            offsets: offsets_cpu,
            ids: ids_cpu,
            weights: w_cpu,
            transmittance: img.iter().map(|p| 1.0 - p[3]).collect(),
            colors,
        })
    }
}
