//! Orchestrates the kernels: preprocess per layer chunk → prefix sum of tile counts → emit tile
//! entries → stable radix sort by depth, then by tile → tile ranges → rasterize. Projected
//! splats are paged over several bindings; when a frame's tile entries are more than one
//! binding holds, the last four steps run a band of tile rows at a time.

use super::kernels::{Kernels, PagedKernels, bind, bind_pages, dispatch, grid, uniform};
use super::scene::{column_limit, out_of_memory_guard};
use super::{GpuContext, GpuError, GpuScene};
use crate::camera::Camera;
use crate::image::Image;
use crate::preprocess::TILE;
use crate::raster::RenderOptions;
use crate::weights::PixelWeights;
use glam::Mat3;
use std::sync::Arc;

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
    tile_y0: u32,
    pad: [f32; 2],
}

/// Size of one projected splat in the shaders' `Projected` struct.
const PROJECTED_BYTES: u64 = 64;
/// Storage bindings of the kernel with the most besides the projected pages (preprocess: five
/// attribute columns, flags, tile counts).
const OTHER_STORAGE_BINDINGS: u32 = 7;

/// One band of tile rows, its entries sorted by (tile, depth, id).
struct Band {
    rows: (u32, u32),
    values: wgpu::Buffer,
}

/// What the sort and binning leave for rasterization.
struct Binned {
    /// When the tile-entry count came back: projection and counting are done (stage timing).
    counted: std::time::Instant,
    kernels: Arc<PagedKernels>,
    pages: Vec<wgpu::Buffer>,
    tile_counts: wgpu::Buffer,
    /// Gaussian indices in depth order.
    order: wgpu::Buffer,
    bands: Vec<Band>,
    tile_ranges: wgpu::Buffer,
    tiles: (u32, u32),
}

pub struct GpuRenderer {
    ctx: GpuContext,
    kernels: Kernels,
    /// Bytes one storage binding may hold as the renderer plans: the device's limit, or less
    /// where tests make small scenes take the paths large ones do.
    binding: u64,
}

impl GpuRenderer {
    pub fn new(ctx: GpuContext) -> Self {
        let binding = column_limit(&ctx);
        Self::with_binding(ctx, binding)
    }

    fn with_binding(ctx: GpuContext, binding: u64) -> Self {
        let page = (binding / PROJECTED_BYTES).clamp(1, u32::MAX as u64) as u32;
        let kernels = Kernels::new(&ctx.device, page);
        Self { ctx, kernels, binding }
    }

    /// Plans as if one storage binding held at most `bytes` (never more than the device
    /// allows): projected splats are paged and tile entries made a band at a time as they are
    /// past the real limit. Tests use it to take those paths on small scenes.
    pub fn with_binding_cap(self, bytes: u64) -> Self {
        let binding = self.binding.min(bytes.max(PROJECTED_BYTES));
        Self::with_binding(self.ctx, binding)
    }

    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// Pages of projected splats one kernel can bind beside its other storage buffers.
    fn max_pages(&self) -> u64 {
        let per_stage = self.ctx.device.limits().max_storage_buffers_per_shader_stage;
        per_stage.saturating_sub(OTHER_STORAGE_BINDINGS).max(1) as u64
    }

    /// The most Gaussians one frame draws on this device: the projected splats' pages, and the
    /// per-Gaussian tile counts in one binding (lavapipe: 33.5M; 536M at 2 GiB). Device memory
    /// may run out first.
    pub fn max_gaussians(&self) -> u64 {
        let pages = self.kernels.page() as u64 * self.max_pages();
        pages.min(self.binding / 4).min(u32::MAX as u64 / 2)
    }

    /// Tile entries sorted at once: the keys and values are one binding each.
    fn max_entries(&self) -> u64 {
        (self.binding / 4).min(u32::MAX as u64 / 2)
    }

    fn buffer(&self, label: &str, bytes: u64) -> Result<wgpu::Buffer, GpuError> {
        let limit = column_limit(&self.ctx);
        if bytes > limit {
            return Err(GpuError::TooLarge(format!(
                "{label} needs {bytes} bytes, more than this adapter binds at once ({limit} bytes)"
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
        dispatch(enc, &k.scan_blocks, &[&entries(&k.scan_blocks)], grid(blocks));
        if blocks > 1 {
            self.scan(enc, &sums, blocks)?;
            dispatch(enc, &k.add_offsets, &[&entries(&k.add_offsets)], grid(blocks));
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

    /// Submits `enc` and reads `offsets[n − 1] + counts[n − 1]`: the entries an exclusive prefix
    /// sum of `counts` into `offsets` adds up to.
    fn total(
        &self,
        enc: wgpu::CommandEncoder,
        offsets: &wgpu::Buffer,
        counts: &wgpu::Buffer,
        n: u64,
    ) -> Result<u64, GpuError> {
        if n == 0 {
            self.ctx.queue.submit([enc.finish()]);
            return Ok(0);
        }
        let mut enc = enc;
        let both = self.buffer("tail", 8)?;
        enc.copy_buffer_to_buffer(offsets, (n - 1) * 4, &both, 0, 4);
        enc.copy_buffer_to_buffer(counts, (n - 1) * 4, &both, 4, 4);
        let bytes = self.read(enc, &both, 0, 8)?;
        let w: &[u32] = bytemuck::cast_slice(&bytes);
        Ok(w[0] as u64 + w[1] as u64)
    }

    fn bin(&self, scene: &GpuScene, cam: &Camera, sh_degree: u8) -> Result<Binned, GpuError> {
        cam.validate()?;
        let device = &self.ctx.device;
        let n = scene.len() as u64;
        let fit = self.max_gaussians();
        if n > fit {
            return Err(GpuError::TooLarge(format!(
                "{n} Gaussians are more than {} draws in one frame: at most {fit} fit its storage bindings \
                 ({} pages of {} projected Gaussians, {} MiB a binding)",
                self.ctx.info.name,
                self.max_pages(),
                self.kernels.page(),
                self.binding >> 20
            )));
        }
        let page = self.kernels.page() as u64;
        let page_count = n.div_ceil(page).max(1);
        let k = self.kernels.paged(device, page_count as u32);
        let tiles = (cam.width.div_ceil(TILE), cam.height.div_ceil(TILE));
        let pages = (0..page_count)
            .map(|p| self.buffer("projected", (n - p * page).clamp(1, page) * PROJECTED_BYTES))
            .collect::<Result<Vec<_>, _>>()?;
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
        let pre_pages = bind_pages(device, &k.preprocess, &pages);
        let mut global = 0u64;
        for layer in &scene.layers {
            let rot = Mat3::from_quat(layer.transform.rotation.normalize());
            let t = layer.transform.translation;
            for chunk in &layer.chunks {
                let lu = uniform(
                    device,
                    &LayerUniform {
                        rot: [
                            rot.x_axis.extend(0.0).into(),
                            rot.y_axis.extend(0.0).into(),
                            rot.z_axis.extend(0.0).into(),
                        ],
                        translation_scale: [t.x, t.y, t.z, layer.transform.scale],
                        count: chunk.count,
                        global_offset: (global + chunk.start as u64) as u32,
                        sh_stored: layer.sh_degree as u32,
                        sh_used: sh_degree as u32,
                        has_flags: chunk.flags.is_some() as u32,
                        pad: [0; 3],
                    },
                );
                let flags = chunk.flags.as_ref().unwrap_or(&dummy_flags);
                let group = bind(
                    device,
                    &k.preprocess,
                    &[
                        (0, frame.as_entire_binding()),
                        (1, lu.as_entire_binding()),
                        (2, chunk.positions.as_entire_binding()),
                        (3, chunk.rotations.as_entire_binding()),
                        (4, chunk.log_scales.as_entire_binding()),
                        (5, chunk.opacities.as_entire_binding()),
                        (6, chunk.sh.as_entire_binding()),
                        (7, flags.as_entire_binding()),
                        (9, tile_counts.as_entire_binding()),
                    ],
                );
                dispatch(
                    &mut enc,
                    &k.preprocess,
                    &[&group, &pre_pages],
                    ((chunk.count as u64).div_ceil(256) as u32, 1),
                );
            }
            global += layer.count as u64;
        }
        let order = self.depth_order(&mut enc, &k, &pages, &tile_counts, n)?;
        let sorted_counts = self.buffer("counts in depth order", n * 4)?;
        self.gather_counts(&mut enc, &k, &tile_counts, &order, &sorted_counts, n);
        enc.copy_buffer_to_buffer(&sorted_counts, 0, &offsets, 0, n.max(1) * 4);
        self.scan(&mut enc, &offsets, n as u32)?;
        let total = self.total(enc, &offsets, &sorted_counts, n)?;
        let counted = std::time::Instant::now();
        let tile_ranges = self.buffer("tile ranges", tiles.0 as u64 * tiles.1 as u64 * 8)?;
        let mut binned =
            Binned { counted, kernels: k, pages, tile_counts, order, bands: Vec::new(), tile_ranges, tiles };
        if total <= self.max_entries() {
            let values = self.sort_band(&binned, n, &offsets, (0, tiles.1), total)?;
            binned.bands.push(Band { rows: (0, tiles.1), values });
            return Ok(binned);
        }
        // More entries than one binding holds: a band of tile rows at a time, each band split
        // again until its entries fit.
        let band_counts = self.buffer("band counts", n * 4)?;
        let parts = (total.div_ceil(self.max_entries()) + 1).min(tiles.1 as u64) as u32;
        let mut todo: Vec<(u32, u32)> =
            (0..parts).rev().map(|p| (p * tiles.1 / parts, (p + 1) * tiles.1 / parts)).filter(|(a, b)| a < b).collect();
        while let Some(rows) = todo.pop() {
            let mut enc = self.encoder();
            let params = uniform(device, &Words4([n as u32, tiles.0, rows.0, rows.1]));
            let g = bind(
                device,
                &binned.kernels.count_band,
                &[
                    (0, params.as_entire_binding()),
                    (2, binned.tile_counts.as_entire_binding()),
                    (8, band_counts.as_entire_binding()),
                ],
            );
            let gp = bind_pages(device, &binned.kernels.count_band, &binned.pages);
            dispatch(&mut enc, &binned.kernels.count_band, &[&g, &gp], grid((n as u32).div_ceil(256)));
            self.gather_counts(&mut enc, &binned.kernels, &band_counts, &binned.order, &sorted_counts, n);
            enc.copy_buffer_to_buffer(&sorted_counts, 0, &offsets, 0, n * 4);
            self.scan(&mut enc, &offsets, n as u32)?;
            let m = self.total(enc, &offsets, &sorted_counts, n)?;
            if m > self.max_entries() {
                if rows.1 - rows.0 == 1 {
                    return Err(GpuError::TooLarge(format!(
                        "one row of tiles holds {m} tile entries, more than {} sorts at once ({} entries); \
                         render at a lower resolution",
                        self.ctx.info.name,
                        self.max_entries()
                    )));
                }
                let mid = (rows.0 + rows.1) / 2;
                todo.push((mid, rows.1));
                todo.push((rows.0, mid));
                continue;
            }
            let values = self.sort_band(&binned, n, &offsets, rows, m)?;
            binned.bands.push(Band { rows, values });
        }
        Ok(binned)
    }

    /// Records the depth sort of the `n` Gaussians (ties by index): their indices in depth order.
    fn depth_order(
        &self,
        enc: &mut wgpu::CommandEncoder,
        k: &PagedKernels,
        pages: &[wgpu::Buffer],
        tile_counts: &wgpu::Buffer,
        n: u64,
    ) -> Result<wgpu::Buffer, GpuError> {
        let device = &self.ctx.device;
        if n == 0 {
            return self.buffer("depth order", 0);
        }
        let keys = [self.buffer("depth keys", n * 4)?, self.buffer("depth keys'", n * 4)?];
        let order = [self.buffer("depth order", n * 4)?, self.buffer("depth order'", n * 4)?];
        let params = uniform(device, &Words4([n as u32, 0, 0, 0]));
        let g = bind(
            device,
            &k.depth_keys,
            &[
                (0, params.as_entire_binding()),
                (2, tile_counts.as_entire_binding()),
                (5, keys[0].as_entire_binding()),
                (9, order[0].as_entire_binding()),
            ],
        );
        let gp = bind_pages(device, &k.depth_keys, pages);
        dispatch(enc, &k.depth_keys, &[&g, &gp], grid((n as u32).div_ceil(256)));
        let shifts: Vec<u32> = (0..8).map(|p| p * 4).collect();
        let cur = self.radix_passes(enc, n, &keys, &order, &shifts)?;
        let [o0, o1] = order;
        Ok(if cur == 0 { o0 } else { o1 })
    }

    /// Records `counts` (one per Gaussian) put in depth order into `sorted`.
    fn gather_counts(
        &self,
        enc: &mut wgpu::CommandEncoder,
        k: &PagedKernels,
        counts: &wgpu::Buffer,
        order: &wgpu::Buffer,
        sorted: &wgpu::Buffer,
        n: u64,
    ) {
        if n == 0 {
            return;
        }
        let device = &self.ctx.device;
        let params = uniform(device, &Words4([n as u32, 0, 0, 0]));
        let g = bind(
            device,
            &k.gather_counts,
            &[
                (0, params.as_entire_binding()),
                (2, counts.as_entire_binding()),
                (8, sorted.as_entire_binding()),
                (9, order.as_entire_binding()),
            ],
        );
        dispatch(enc, &k.gather_counts, &[&g], grid((n as u32).div_ceil(256)));
    }

    /// Records a stable LSD radix sort of `count` keys by the 4-bit digits at `shifts`, moving
    /// `values` along; returns which of each pair holds the result.
    fn radix_passes(
        &self,
        enc: &mut wgpu::CommandEncoder,
        count: u64,
        keys: &[wgpu::Buffer; 2],
        values: &[wgpu::Buffer; 2],
        shifts: &[u32],
    ) -> Result<usize, GpuError> {
        let device = &self.ctx.device;
        let blocks = (count as u32).div_ceil(256);
        let histogram = self.buffer("histogram", 16 * blocks as u64 * 4)?;
        let sort = &self.kernels;
        let mut cur = 0usize;
        for &shift in shifts {
            let params = uniform(device, &Words4([count as u32, shift, blocks, 0]));
            let count_group = bind(
                device,
                &sort.radix_count,
                &[
                    (0, params.as_entire_binding()),
                    (1, keys[cur].as_entire_binding()),
                    (7, histogram.as_entire_binding()),
                ],
            );
            dispatch(enc, &sort.radix_count, &[&count_group], grid(blocks));
            self.scan(enc, &histogram, 16 * blocks)?;
            let scatter_group = bind(
                device,
                &sort.radix_scatter,
                &[
                    (0, params.as_entire_binding()),
                    (1, keys[cur].as_entire_binding()),
                    (2, values[cur].as_entire_binding()),
                    (4, keys[1 - cur].as_entire_binding()),
                    (5, values[1 - cur].as_entire_binding()),
                    (7, histogram.as_entire_binding()),
                ],
            );
            dispatch(enc, &sort.radix_scatter, &[&scatter_group], grid(blocks));
            cur = 1 - cur;
        }
        Ok(cur)
    }

    /// Emits the `m` entries of tile rows `rows` at `offsets`, sorts them by (tile, depth, id)
    /// and records each of those tiles' range; returns the sorted Gaussian ids.
    fn sort_band(
        &self,
        b: &Binned,
        n: u64,
        offsets: &wgpu::Buffer,
        rows: (u32, u32),
        m: u64,
    ) -> Result<wgpu::Buffer, GpuError> {
        let device = &self.ctx.device;
        let k = &b.kernels;
        if m == 0 {
            return self.buffer("entries", 0);
        }
        let keys_tile = [self.buffer("tile keys", m * 4)?, self.buffer("tile keys'", m * 4)?];
        let values = [self.buffer("entries", m * 4)?, self.buffer("entries'", m * 4)?];
        let mut enc = self.encoder();
        let params = uniform(device, &Words4([n as u32, b.tiles.0, rows.0, rows.1]));
        let g = bind(
            device,
            &k.emit,
            &[
                (0, params.as_entire_binding()),
                (2, b.tile_counts.as_entire_binding()),
                (3, offsets.as_entire_binding()),
                (4, keys_tile[0].as_entire_binding()),
                (6, values[0].as_entire_binding()),
                (9, b.order.as_entire_binding()),
            ],
        );
        let gp = bind_pages(device, &k.emit, &b.pages);
        dispatch(&mut enc, &k.emit, &[&g, &gp], grid((n as u32).div_ceil(256)));
        // The entries come in depth order: a stable LSD radix sort over the tile bits finishes.
        let tile_bits = 32 - (b.tiles.0 * b.tiles.1).saturating_sub(1).leading_zeros();
        let shifts: Vec<u32> = (0..tile_bits.div_ceil(4)).map(|p| p * 4).collect();
        let cur = self.radix_passes(&mut enc, m, &keys_tile, &values, &shifts)?;
        let blocks = (m as u32).div_ceil(256);
        let params = uniform(device, &Words4([m as u32, b.tiles.0, 0, 0]));
        let g = bind(
            device,
            &k.ranges,
            &[
                (0, params.as_entire_binding()),
                (4, keys_tile[cur].as_entire_binding()),
                (7, b.tile_ranges.as_entire_binding()),
            ],
        );
        dispatch(&mut enc, &k.ranges, &[&g], grid(blocks));
        self.ctx.queue.submit([enc.finish()]);
        let [v0, v1] = values;
        Ok(if cur == 0 { v0 } else { v1 })
    }

    /// Records rasterization of every band of `b` in `mode` (see rasterize.wgsl).
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
        let k = &b.kernels;
        let pages = bind_pages(device, &k.rasterize, &b.pages);
        for band in &b.bands {
            let params = uniform(
                device,
                &RasterUniform {
                    width: cam.width,
                    height: cam.height,
                    tiles_x: b.tiles.0,
                    mode,
                    background: [background[0], background[1], background[2], 0.0],
                    min_weight,
                    tile_y0: band.rows.0,
                    pad: [0.0; 2],
                },
            );
            let g = bind(
                device,
                &k.rasterize,
                &[
                    (0, params.as_entire_binding()),
                    (2, band.values.as_entire_binding()),
                    (3, b.tile_ranges.as_entire_binding()),
                    (4, image.as_entire_binding()),
                    (5, weights[0].as_entire_binding()),
                    (6, weights[1].as_entire_binding()),
                    (7, weights[2].as_entire_binding()),
                ],
            );
            dispatch(enc, &k.rasterize, &[&g, &pages], (b.tiles.0, band.rows.1 - band.rows.0));
        }
    }

    /// Runs one frame's GPU work, with the device running out of memory reported as an error.
    fn guarded<T>(
        &self,
        scene: &GpuScene,
        cam: &Camera,
        f: impl FnOnce() -> Result<T, GpuError>,
    ) -> Result<T, GpuError> {
        let what = format!("a {}×{} frame of {} Gaussians", cam.width, cam.height, scene.len());
        out_of_memory_guard(&self.ctx, &what, f)
    }

    /// Bins and rasterizes the colours into an RGBA f32 image buffer, recorded but not submitted.
    fn draw(
        &self,
        scene: &GpuScene,
        cam: &Camera,
        opts: &RenderOptions,
    ) -> Result<(wgpu::CommandEncoder, wgpu::Buffer), GpuError> {
        let b = self.bin(scene, cam, opts.sh_degree)?;
        self.draw_binned(&b, cam, opts)
    }

    fn draw_binned(
        &self,
        b: &Binned,
        cam: &Camera,
        opts: &RenderOptions,
    ) -> Result<(wgpu::CommandEncoder, wgpu::Buffer), GpuError> {
        let image = self.buffer("image", cam.pixel_count() as u64 * 16)?;
        let unused = self.buffer("unused", 16)?;
        let mut enc = self.encoder();
        self.rasterize(&mut enc, b, cam, 0, opts.background, 0.0, &image, [&unused, &unused, &unused]);
        Ok((enc, image))
    }

    /// Records the copy of `image` (RGBA f32) into the viewport texture `target`.
    fn present_into(
        &self,
        enc: &mut wgpu::CommandEncoder,
        image: &wgpu::Buffer,
        cam: &Camera,
        target: &wgpu::TextureView,
    ) {
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
        dispatch(enc, &self.kernels.present, &[&g], (cam.width.div_ceil(8), cam.height.div_ceil(8)));
    }

    /// Renders the scene: RGB over the background plus alpha, as the CPU pipeline does.
    pub fn render(&self, scene: &GpuScene, cam: &Camera, opts: &RenderOptions) -> Result<Image, GpuError> {
        self.guarded(scene, cam, || {
            let (enc, image) = self.draw(scene, cam, opts)?;
            let bytes = self.read(enc, &image, 0, cam.pixel_count() as u64 * 16)?;
            Ok(Image { width: cam.width, height: cam.height, rgba: bytemuck::cast_slice(&bytes).to_vec() })
        })
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
        self.guarded(scene, cam, || {
            let (mut enc, image) = self.draw(scene, cam, opts)?;
            self.present_into(&mut enc, &image, cam, target);
            self.ctx.queue.submit([enc.finish()]);
            Ok(())
        })
    }

    /// [`Self::render_to_texture`] waiting for the device between its stages, in milliseconds:
    /// projection and the tile-entry count (until the count is read back), emitting and sorting
    /// the entries, rasterizing into `target`. For `bench render`; the waits add their latency.
    pub fn profile_to_texture(
        &self,
        scene: &GpuScene,
        cam: &Camera,
        opts: &RenderOptions,
        target: &wgpu::TextureView,
    ) -> Result<[f64; 3], GpuError> {
        self.guarded(scene, cam, || {
            let start = std::time::Instant::now();
            let b = self.bin(scene, cam, opts.sh_degree)?;
            self.wait_idle()?;
            let sorted = std::time::Instant::now();
            let (mut enc, image) = self.draw_binned(&b, cam, opts)?;
            self.present_into(&mut enc, &image, cam, target);
            self.ctx.queue.submit([enc.finish()]);
            self.wait_idle()?;
            let ms = |a: std::time::Instant, z: std::time::Instant| (z - a).as_secs_f64() * 1e3;
            Ok([ms(start, b.counted), ms(b.counted, sorted), ms(sorted, std::time::Instant::now())])
        })
    }

    /// A texture [`Self::render_to_texture`] can draw into, as the editor's viewport makes one.
    pub fn viewport_target(&self, width: u32, height: u32) -> wgpu::TextureView {
        viewport_texture(&self.ctx.device, [width, height], wgpu::TextureUsages::STORAGE_BINDING)
            .create_view(&wgpu::TextureViewDescriptor::default())
    }

    /// Waits until the device has finished everything submitted (frame timing without a readback).
    pub fn wait_idle(&self) -> Result<(), GpuError> {
        self.ctx.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| GpuError::Readback(e.to_string()))?;
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
        self.guarded(scene, cam, || self.pixel_weights_unguarded(scene, cam, sh_degree, min_weight))
    }

    fn pixel_weights_unguarded(
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
        let page = self.kernels.page() as u64;
        let mut proj: Vec<f32> = Vec::with_capacity(n as usize * 16);
        for (p, buffer) in b.pages.iter().enumerate() {
            let len = (n - (p as u64 * page).min(n)).min(page);
            proj.extend_from_slice(bytemuck::cast_slice(&self.read(
                self.encoder(),
                buffer,
                0,
                len * PROJECTED_BYTES,
            )?));
        }
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

/// An `Rgba8Unorm` texture of `size` for a viewport image (display values), sampled to show it
/// and written as `usage` says: by [`GpuRenderer::render_to_texture`] (storage) or by copies.
pub fn viewport_texture(device: &wgpu::Device, size: [u32; 2], usage: wgpu::TextureUsages) -> wgpu::Texture {
    device.create_texture(&wgpu::TextureDescriptor {
        label: Some("viewport"),
        size: wgpu::Extent3d { width: size[0], height: size[1], depth_or_array_layers: 1 },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::Rgba8Unorm,
        usage: usage | wgpu::TextureUsages::TEXTURE_BINDING,
        view_formats: &[],
    })
}
