//! The desktop window: winit for events, egui-winit for input, egui-wgpu for drawing the UI,
//! and the splat renderer on the *same* wgpu device (and later the optimizer: one device).

use crate::app::EditorApp;
use crate::viewport::{CpuViewport, ViewRequest, ViewportBackend};
use splatstitch_render::gpu::{GpuContext, GpuRenderer, GpuScene, viewport_texture};
use splatstitch_render::{RenderOptions, RenderScene};
use std::sync::Arc;
use std::time::Instant;
use winit::application::ApplicationHandler;
use winit::event::WindowEvent;
use winit::event_loop::{ActiveEventLoop, ControlFlow, EventLoop};
use winit::window::{Window, WindowId};

#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    #[error(
        "no display available ({0}); the headless commands work without one: splatstitch stitch | render | convert | info (see --help)"
    )]
    NoDisplay(String),
    #[error("the window could not start: {0}")]
    Start(String),
}

/// How finished frames reach the screen (`open --present`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Present {
    /// In step with the display: no tearing, no frames drawn that are never shown.
    #[default]
    Vsync,
    /// As soon as a frame is drawn (on lavapipe under Xvfb this measured the same as vsync).
    NoVsync,
}

/// Which renderer draws the viewport (`open --viewport`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ViewportRenderer {
    /// The GPU rasterizer on a hardware GPU, its CPU twin on a software adapter (lavapipe, where
    /// the twin is 3–9× faster than the rasterizer emulated on the same cores).
    #[default]
    Auto,
    Gpu,
    Cpu,
}

/// The window's settings; the editor's own live in [`EditorApp`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WindowOptions {
    pub present: Present,
    pub viewport: ViewportRenderer,
}

impl WindowOptions {
    fn present_mode(&self) -> wgpu::PresentMode {
        match self.present {
            Present::Vsync => wgpu::PresentMode::AutoVsync,
            Present::NoVsync => wgpu::PresentMode::AutoNoVsync,
        }
    }

    fn cpu_viewport(&self, software: bool) -> bool {
        match self.viewport {
            ViewportRenderer::Auto => software,
            ViewportRenderer::Gpu => false,
            ViewportRenderer::Cpu => true,
        }
    }
}

/// Shows the viewport's image over its rect inside egui's render pass with a pipeline of its
/// own (`shaders/viewport_blit.wgsl`: one bilinear tap a pixel). egui-wgpu 0.37's shader also
/// runs its snapshot-test filtering branch (four texel loads with integer wrap arithmetic) on
/// every pixel under lavapipe, which executes both sides of that uniform branch: painted by
/// egui, the viewport's pixels cost as much as the rest of the window (docs/BENCHMARKS.md).
struct ViewportBlit {
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    sampler: wgpu::Sampler,
}

impl ViewportBlit {
    fn new(device: &wgpu::Device, format: wgpu::TextureFormat) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("viewport blit"),
            source: wgpu::ShaderSource::Wgsl(include_str!("../../../shaders/viewport_blit.wgsl").into()),
        });
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("viewport blit"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Texture {
                        sample_type: wgpu::TextureSampleType::Float { filterable: true },
                        view_dimension: wgpu::TextureViewDimension::D2,
                        multisampled: false,
                    },
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 1,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                    count: None,
                },
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("viewport blit"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("viewport blit"),
            layout: Some(&pipeline_layout),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vs_main"),
                compilation_options: Default::default(),
                buffers: &[],
            },
            primitive: wgpu::PrimitiveState { topology: wgpu::PrimitiveTopology::TriangleStrip, ..Default::default() },
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some("fs_main"),
                compilation_options: Default::default(),
                targets: &[Some(wgpu::ColorTargetState { format, blend: None, write_mask: wgpu::ColorWrites::ALL })],
            }),
            multiview_mask: None,
            cache: None,
        });
        let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("viewport blit"),
            mag_filter: wgpu::FilterMode::Linear,
            min_filter: wgpu::FilterMode::Linear,
            ..Default::default()
        });
        ViewportBlit { pipeline, layout, sampler }
    }

    fn bind(&self, device: &wgpu::Device, view: &wgpu::TextureView) -> wgpu::BindGroup {
        device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("viewport blit"),
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry { binding: 0, resource: wgpu::BindingResource::TextureView(view) },
                wgpu::BindGroupEntry { binding: 1, resource: wgpu::BindingResource::Sampler(&self.sampler) },
            ],
        })
    }

    fn show(&self, ui: &egui::Ui, rect: egui::Rect, group: &wgpu::BindGroup) {
        let paint = BlitPaint { pipeline: self.pipeline.clone(), group: group.clone() };
        ui.painter().add(egui_wgpu::Callback::new_paint_callback(rect, paint));
    }
}

struct BlitPaint {
    pipeline: wgpu::RenderPipeline,
    group: wgpu::BindGroup,
}

impl egui_wgpu::CallbackTrait for BlitPaint {
    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        pass: &mut wgpu::RenderPass<'static>,
        _resources: &egui_wgpu::CallbackResources,
    ) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.group, &[]);
        pass.draw(0..4, 0..1);
    }
}

/// A viewport texture the blit shows: the texture, its bind group, its size.
type Shown = (wgpu::Texture, wgpu::BindGroup, [u32; 2]);

/// The viewport on the GPU: a texture the rasterizer writes and the blit shows.
struct GpuViewport {
    renderer: GpuRenderer,
    scene: Option<(u64, GpuScene)>,
    target: Option<(wgpu::TextureView, Shown)>,
    drawn: Option<(u64, [u32; 2])>,
    /// A scene more than the GPU draws in one frame, drawn by the CPU twin instead (and why)
    /// until it fits again.
    too_big: Option<(CpuViewport, String)>,
    /// The scene version the GPU had no memory for, and its message: drawn by the CPU twin
    /// until the scene changes.
    upload_failed: Option<(u64, String)>,
}

struct GpuFrame<'a> {
    vp: &'a mut GpuViewport,
    blit: &'a ViewportBlit,
}

impl ViewportBackend for GpuFrame<'_> {
    fn adapter(&self) -> String {
        let ctx = self.vp.renderer.context();
        if let Some((_, why)) = &self.vp.too_big {
            return format!("CPU renderer: {why}");
        }
        if ctx.is_software() { format!("{} — software driver, slow", ctx.describe()) } else { ctx.describe() }
    }

    fn draw(&mut self, ctx: &egui::Context, req: &ViewRequest) -> Result<(), String> {
        let n: u64 = req.layers.iter().map(|l| l.cloud.len() as u64).sum();
        let failed =
            self.vp.upload_failed.as_ref().filter(|(v, _)| *v == req.scene_version).map(|(_, why)| why.clone());
        if n <= self.vp.renderer.max_gaussians() && failed.is_none() {
            self.vp.too_big = None;
        } else if self.vp.too_big.is_none() {
            let fit = self.vp.renderer.max_gaussians();
            let why = failed
                .unwrap_or_else(|| format!("{n} Gaussians are more than this GPU draws in one frame (at most {fit})"));
            tracing::warn!("{why}");
            self.vp.too_big = Some((CpuViewport::default(), why));
        }
        if let Some((cpu, _)) = &mut self.vp.too_big {
            return cpu.draw(ctx, req);
        }
        let gpu = self.vp.renderer.context().clone();
        let size = [req.camera.width, req.camera.height];
        if self.vp.target.as_ref().is_none_or(|t| t.1.2 != size) {
            let texture = viewport_texture(&gpu.device, size, wgpu::TextureUsages::STORAGE_BINDING);
            let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
            let group = self.blit.bind(&gpu.device, &view);
            self.vp.target = Some((view, (texture, group, size)));
            self.vp.drawn = None;
        }
        let (view, _) = self.vp.target.as_ref().expect("made above");
        if self.vp.drawn == Some((req.version, size)) {
            return Ok(());
        }
        if self.vp.scene.as_ref().is_none_or(|s| s.0 != req.scene_version) {
            let scene = RenderScene { layers: req.layers.clone() };
            self.vp.scene = None;
            match GpuScene::upload(&gpu, &scene) {
                Ok(uploaded) => self.vp.scene = Some((req.scene_version, uploaded)),
                Err(e) => {
                    self.vp.upload_failed = Some((req.scene_version, e.to_string()));
                    return self.draw(ctx, req);
                }
            }
        }
        let (_, scene) = self.vp.scene.as_ref().expect("uploaded above");
        // Transforms and visibility can change without a new upload only through the scene
        // version, which the app bumps for every edit.
        let opts = RenderOptions { background: req.background, sh_degree: 3 };
        self.vp.renderer.render_to_texture(scene, &req.camera, &opts, view).map_err(|e| e.to_string())?;
        self.vp.drawn = Some((req.version, size));
        Ok(())
    }

    fn show(&self, ui: &egui::Ui, rect: egui::Rect) {
        match (&self.vp.too_big, &self.vp.target) {
            (Some((cpu, _)), _) => cpu.show(ui, rect),
            (None, Some((_, (_, group, _)))) => self.blit.show(ui, rect, group),
            (None, None) => {}
        }
    }
}

/// Which renderer draws the viewport. On a software adapter (lavapipe) the CPU twin is 3–9×
/// faster than the GPU rasterizer emulated on the same cores (docs/BENCHMARKS.md), so the
/// viewport uses it there; `open --viewport gpu|cpu` overrides.
enum Viewport {
    Gpu(Box<GpuViewport>),
    Cpu(CpuViewport, Option<Shown>, String),
}

/// The CPU twin's viewport in the window: its images go to a texture on the window's device,
/// which the blit shows; named after the adapter it stands in for.
struct CpuFrame<'a> {
    vp: &'a mut CpuViewport,
    shown: &'a mut Option<Shown>,
    adapter: &'a str,
    gpu: &'a GpuContext,
    blit: &'a ViewportBlit,
}

impl ViewportBackend for CpuFrame<'_> {
    fn adapter(&self) -> String {
        format!("CPU renderer (the GPU, {}, is a software driver)", self.adapter)
    }

    fn draw(&mut self, _ctx: &egui::Context, req: &ViewRequest) -> Result<(), String> {
        let Some(rgba) = self.vp.render(req)? else { return Ok(()) };
        let size = [req.camera.width, req.camera.height];
        if self.shown.as_ref().is_none_or(|s| s.2 != size) {
            let texture = viewport_texture(&self.gpu.device, size, wgpu::TextureUsages::COPY_DST);
            let group = self.blit.bind(&self.gpu.device, &texture.create_view(&Default::default()));
            *self.shown = Some((texture, group, size));
        }
        let (texture, _, _) = self.shown.as_ref().expect("made above");
        self.gpu.queue.write_texture(
            wgpu::TexelCopyTextureInfo {
                texture,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            &rgba,
            wgpu::TexelCopyBufferLayout { offset: 0, bytes_per_row: Some(4 * size[0]), rows_per_image: Some(size[1]) },
            wgpu::Extent3d { width: size[0], height: size[1], depth_or_array_layers: 1 },
        );
        Ok(())
    }

    fn show(&self, ui: &egui::Ui, rect: egui::Rect) {
        if let Some((_, group, _)) = self.shown.as_ref() {
            self.blit.show(ui, rect, group);
        }
    }
}

struct Running {
    window: Arc<Window>,
    surface: wgpu::Surface<'static>,
    config: wgpu::SurfaceConfiguration,
    gpu: GpuContext,
    egui_state: egui_winit::State,
    egui_renderer: egui_wgpu::Renderer,
    blit: ViewportBlit,
    viewport: Viewport,
}

/// Where one frame's time went (the orbit benchmark prints each phase's median), in ms.
#[derive(Default, Clone, Copy)]
struct FramePhases {
    /// The UI pass, the viewport's render included.
    ui: f64,
    /// The CPU twin's render and its texture, inside `ui` (0 on the GPU viewport or when the
    /// view did not change).
    viewport: f64,
    tessellate: f64,
    /// Texture deltas and vertex buffers to the device.
    upload: f64,
    /// Waiting for the next surface image.
    acquire: f64,
    /// Recording, submitting and presenting the egui pass.
    draw: f64,
    /// Waiting for the device to finish the frame.
    finish: f64,
    total: f64,
}

impl FramePhases {
    const NAMES: [&'static str; 7] = ["ui", "viewport", "tessellate", "upload", "acquire", "draw", "finish"];

    fn get(&self, i: usize) -> f64 {
        [self.ui, self.viewport, self.tessellate, self.upload, self.acquire, self.draw, self.finish][i]
    }
}

fn ms_since(t: &mut Instant) -> f64 {
    let now = Instant::now();
    let ms = (now - *t).as_secs_f64() * 1e3;
    *t = now;
    ms
}

struct Shell {
    app: EditorApp,
    options: WindowOptions,
    egui_ctx: egui::Context,
    running: Option<Running>,
    error: Option<WindowError>,
    frames: u64,
    announced: bool,
    /// Quit after this many frames (`SPLATSTITCH_EXIT_AFTER_FRAMES`, for scripted screenshots).
    exit_after: Option<u64>,
    /// `SPLATSTITCH_BENCH_ORBIT=N`: once splats are drawn, orbit for N frames, waiting for the
    /// GPU each frame, print the frame times, then stop and print when the full-quality frame
    /// is shown, and quit (docs/BENCHMARKS.md).
    bench: Option<(u64, Vec<FramePhases>)>,
    /// After the orbit: when the camera stopped, until the full-quality frame is shown.
    bench_settle: Option<Instant>,
    /// Frames painted before the first splats (while loading): count, the most UI work in one
    /// (ms), the longest whole frame (ms).
    before_splats: (u64, f64, f64),
    /// `SPLATSTITCH_BENCH_STITCH=1`: once splats are drawn, run the stitch panel's job and
    /// record when each UI frame is drawn until it finishes; print the UI frame rate, then quit.
    bench_stitch: Option<(bool, Vec<Instant>)>,
}

impl Shell {
    fn start(&mut self, el: &ActiveEventLoop) -> Result<Running, WindowError> {
        // `SPLATSTITCH_WINDOW_SIZE=WxH` (benchmarks: a 1280×720 viewport needs ~1790×775).
        let (w, h) = std::env::var("SPLATSTITCH_WINDOW_SIZE")
            .ok()
            .and_then(|v| v.split_once('x').and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?))))
            .unwrap_or((1280.0, 800.0));
        let attrs =
            Window::default_attributes().with_title("splatstitch").with_inner_size(winit::dpi::LogicalSize::new(w, h));
        let window = Arc::new(el.create_window(attrs).map_err(|e| WindowError::Start(e.to_string()))?);
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: wgpu::Backends::VULKAN | wgpu::Backends::METAL | wgpu::Backends::DX12,
            ..wgpu::InstanceDescriptor::new_with_display_handle_from_env(Box::new(el.owned_display_handle()))
        });
        let surface = instance.create_surface(window.clone()).map_err(|e| WindowError::Start(e.to_string()))?;
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            compatible_surface: Some(&surface),
            force_fallback_adapter: false,
            apply_limit_buckets: false,
        }))
        .map_err(|e| WindowError::Start(format!("no GPU adapter for the window: {e}")))?;
        let gpu = GpuContext::request(instance, adapter, "splatstitch editor")
            .map_err(|e| WindowError::Start(e.to_string()))?;
        let caps = surface.get_capabilities(&gpu.adapter);
        // Splat colours are display values already: a non-sRGB surface shows them as rendered.
        let format = caps.formats.iter().copied().find(|f| !f.is_srgb()).unwrap_or(caps.formats[0]);
        let size = window.inner_size();
        let config = wgpu::SurfaceConfiguration {
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
            format,
            width: size.width.max(1),
            height: size.height.max(1),
            present_mode: self.options.present_mode(),
            desired_maximum_frame_latency: 2,
            alpha_mode: caps.alpha_modes[0],
            view_formats: vec![],
            color_space: wgpu::SurfaceColorSpace::Auto,
        };
        surface.configure(&gpu.device, &config);
        let egui_state = egui_winit::State::new(
            self.egui_ctx.clone(),
            egui::ViewportId::ROOT,
            &window,
            Some(window.scale_factor() as f32),
            None,
            Some(gpu.device.limits().max_texture_dimension_2d as usize),
        );
        let egui_renderer = egui_wgpu::Renderer::new(&gpu.device, format, egui_wgpu::RendererOptions::default());
        tracing::info!("editor on {}", gpu.describe());
        let use_cpu = self.options.cpu_viewport(gpu.is_software());
        tracing::info!(
            "presenting {:?} in {:?}, viewport on the {}",
            config.present_mode,
            config.format,
            if use_cpu { "CPU" } else { "GPU" }
        );
        let viewport = if use_cpu {
            Viewport::Cpu(CpuViewport::default(), None, gpu.info.name.clone())
        } else {
            Viewport::Gpu(Box::new(GpuViewport {
                renderer: GpuRenderer::new(gpu.clone()),
                scene: None,
                target: None,
                drawn: None,
                too_big: None,
                upload_failed: None,
            }))
        };
        let blit = ViewportBlit::new(&gpu.device, format);
        Ok(Running { window, surface, config, gpu, egui_state, egui_renderer, blit, viewport })
    }

    fn paint(&mut self) {
        let Some(r) = &mut self.running else { return };
        let started = Instant::now();
        let mut phases = FramePhases::default();
        let mut mark = started;
        let before_splats = self.app.state.first_frame.is_none();
        let input = r.egui_state.take_egui_input(&r.window);
        let app = &mut self.app;
        let mut out = match &mut r.viewport {
            Viewport::Gpu(vp) => {
                let mut frame = GpuFrame { vp, blit: &r.blit };
                self.egui_ctx.run_ui(input, |ui| app.ui(ui, &mut frame))
            }
            Viewport::Cpu(vp, shown, adapter) => {
                let mut frame = CpuFrame { vp, shown, adapter, gpu: &r.gpu, blit: &r.blit };
                self.egui_ctx.run_ui(input, |ui| app.ui(ui, &mut frame))
            }
        };
        phases.ui = ms_since(&mut mark);
        if let Viewport::Cpu(vp, ..) = &mut r.viewport {
            phases.viewport = vp.last_draw_ms.take().unwrap_or(0.0);
        }
        r.egui_state.handle_platform_output(&r.window, std::mem::take(&mut out.platform_output));
        let tris = self.egui_ctx.tessellate(std::mem::take(&mut out.shapes), out.pixels_per_point);
        phases.tessellate = ms_since(&mut mark);
        for (id, deltas) in out.textures_delta.set.drain() {
            for delta in deltas {
                r.egui_renderer.update_texture(&r.gpu.device, &r.gpu.queue, id, &delta);
            }
        }
        // Freed after painting; on a skipped frame nothing painted with them either.
        let freed: Vec<egui::TextureId> = out.textures_delta.free.drain().collect();
        phases.upload = ms_since(&mut mark);
        let surface_tex = match r.surface.get_current_texture() {
            wgpu::CurrentSurfaceTexture::Success(t) | wgpu::CurrentSurfaceTexture::Suboptimal(t) => t,
            other => {
                tracing::debug!("surface: {other:?}; reconfiguring");
                r.surface.configure(&r.gpu.device, &r.config);
                freed.iter().for_each(|id| r.egui_renderer.free_texture(id));
                r.window.request_redraw();
                return;
            }
        };
        phases.acquire = ms_since(&mut mark);
        let view = surface_tex.texture.create_view(&wgpu::TextureViewDescriptor::default());
        let screen = egui_wgpu::ScreenDescriptor {
            size_in_pixels: [r.config.width, r.config.height],
            pixels_per_point: out.pixels_per_point,
        };
        let mut enc = r.gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("egui") });
        let extra = r.egui_renderer.update_buffers(&r.gpu.device, &r.gpu.queue, &mut enc, &tris, &screen);
        {
            let pass = enc.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("egui"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &view,
                    resolve_target: None,
                    depth_slice: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            r.egui_renderer.render(&mut pass.forget_lifetime(), &tris, &screen);
        }
        r.gpu.queue.submit(extra.into_iter().chain([enc.finish()]));
        r.window.pre_present_notify();
        r.gpu.queue.present(surface_tex);
        phases.draw = ms_since(&mut mark);
        self.app.state.window_frame_ms = started.elapsed().as_secs_f32() * 1e3;
        if before_splats && self.app.state.first_frame.is_none() {
            let worst = &mut self.before_splats;
            *worst = (
                worst.0 + 1,
                worst.1.max(phases.ui + phases.tessellate),
                worst.2.max(started.elapsed().as_secs_f64() * 1e3),
            );
        }
        if let Some((started, frames)) = &mut self.bench_stitch
            && self.app.state.first_frame.is_some()
        {
            if !*started {
                self.app.state.start_stitch();
                *started = true;
            } else if self.app.state.is_idle() {
                let gaps: Vec<f64> = frames.windows(2).map(|w| (w[1] - w[0]).as_secs_f64() * 1e3).collect();
                let mut sorted = gaps.clone();
                sorted.sort_by(f64::total_cmp);
                let total = frames.last().zip(frames.first()).map_or(0.0, |(l, f)| (*l - *f).as_secs_f64());
                eprintln!(
                    "splatstitch bench: stitch ran {:.1} s beside the UI: {} UI frames, {:.1} fps, median gap {:.0} ms, \
                     worst {:.0} ms; status: {}{}",
                    total,
                    frames.len(),
                    frames.len() as f64 / total.max(1e-9),
                    sorted.get(sorted.len() / 2).copied().unwrap_or(0.0),
                    sorted.last().copied().unwrap_or(0.0),
                    self.app.state.status,
                    self.app.state.error.as_ref().map(|e| format!("; error: {e}")).unwrap_or_default()
                );
                self.exit_after = Some(0);
            } else {
                frames.push(Instant::now());
            }
            r.window.request_redraw();
        }
        let mut orbited = false;
        if let Some((n, times)) = &mut self.bench
            && self.app.state.first_frame.is_some()
        {
            let _ = r.gpu.device.poll(wgpu::PollType::wait_indefinitely());
            phases.finish = ms_since(&mut mark);
            phases.total = started.elapsed().as_secs_f64() * 1e3;
            times.push(phases);
            self.app.state.camera.yaw += 0.02;
            self.app.state.mark_view_changed();
            if times.len() as u64 >= *n {
                let median = |f: &dyn Fn(&FramePhases) -> f64| {
                    let mut v: Vec<f64> = times.iter().map(f).collect();
                    v.sort_by(f64::total_cmp);
                    v[v.len() / 2]
                };
                let mut t: Vec<f64> = times.iter().map(|p| p.total).collect();
                t.sort_by(f64::total_cmp);
                let size = self.app.state.viewport_size;
                let parts: Vec<String> = FramePhases::NAMES
                    .iter()
                    .enumerate()
                    .map(|(i, name)| format!("{name} {:.1}", median(&|p: &FramePhases| p.get(i))))
                    .collect();
                eprintln!(
                    "splatstitch bench: {} frames, viewport {}x{}, {} Gaussians: median {:.1} ms, p90 {:.1} ms ({:.1} fps) on {}; \
                     phase medians (ms): {}; last frame: {}; before the first splats (loading): {} frames, UI work at most \
                     {:.1} ms, a whole frame at most {:.1} ms",
                    t.len(),
                    size[0],
                    size[1],
                    self.app.state.doc.gaussian_count(),
                    t[t.len() / 2],
                    t[t.len() * 9 / 10],
                    1e3 / t[t.len() / 2],
                    match r.viewport {
                        Viewport::Gpu(_) => format!("the GPU rasterizer on {}", r.gpu.describe()),
                        Viewport::Cpu(..) => format!("the CPU twin (window on {})", r.gpu.describe()),
                    },
                    parts.join(", "),
                    if self.app.state.view_note.is_empty() { "everything" } else { &self.app.state.view_note },
                    self.before_splats.0,
                    self.before_splats.1,
                    self.before_splats.2
                );
                orbited = true;
            }
            r.window.request_redraw();
        }
        if orbited {
            self.bench = None;
            self.bench_settle = Some(Instant::now());
        } else if let Some(stopped) = self.bench_settle
            && self.app.state.view_note.is_empty()
        {
            let _ = r.gpu.device.poll(wgpu::PollType::wait_indefinitely());
            eprintln!(
                "splatstitch bench: full quality {:.0} ms after the camera stopped (the full frame's viewport render {:.0} ms)",
                stopped.elapsed().as_secs_f64() * 1e3,
                self.app.state.full_frame_ms
            );
            self.exit_after = Some(0);
            self.bench_settle = None;
        } else if self.bench_settle.is_some() {
            r.window.request_redraw();
        }
        freed.iter().for_each(|id| r.egui_renderer.free_texture(id));
        self.frames += 1;
        if self.frames == 1 {
            tracing::info!("first frame drawn ({:.0} ms)", started.elapsed().as_secs_f64() * 1e3);
        }
        if !self.announced
            && let Some(t) = self.app.state.first_frame
        {
            // Scripts (the screenshot test) wait for this line.
            eprintln!("splatstitch: splats drawn {t:.2} s after start");
            self.announced = true;
        }
        let repaint = out.viewport_output.get(&egui::ViewportId::ROOT).map(|v| v.repaint_delay);
        if repaint.is_some_and(|d| d.is_zero()) || !self.app.state.is_idle() {
            r.window.request_redraw();
        }
    }
}

impl ApplicationHandler for Shell {
    fn resumed(&mut self, el: &ActiveEventLoop) {
        if self.running.is_some() {
            return;
        }
        match self.start(el) {
            Ok(r) => {
                self.app.state.gpu = Some(r.gpu.clone());
                r.window.request_redraw();
                self.running = Some(r);
            }
            Err(e) => {
                self.error = Some(e);
                el.exit();
            }
        }
    }

    fn window_event(&mut self, el: &ActiveEventLoop, _id: WindowId, event: WindowEvent) {
        let Some(r) = &mut self.running else { return };
        let response = r.egui_state.on_window_event(&r.window, &event);
        match event {
            WindowEvent::CloseRequested => {
                self.app.state.on_exit();
                el.exit();
                return;
            }
            WindowEvent::Resized(size) => {
                r.config.width = size.width.max(1);
                r.config.height = size.height.max(1);
                r.surface.configure(&r.gpu.device, &r.config);
            }
            WindowEvent::DroppedFile(path) => self.app.state.add_files(vec![path]),
            WindowEvent::RedrawRequested => {
                self.paint();
                if self.exit_after.is_some_and(|n| self.frames >= n) {
                    self.app.state.on_exit();
                    el.exit();
                }
                return;
            }
            _ => {}
        }
        if response.repaint {
            r.window.request_redraw();
        }
    }

    fn about_to_wait(&mut self, el: &ActiveEventLoop) {
        // Autosave, loaders and animations need a tick now and then even without input.
        el.set_control_flow(ControlFlow::WaitUntil(Instant::now() + std::time::Duration::from_millis(500)));
        if let Some(r) = &self.running
            && (!self.app.state.is_idle() || self.exit_after.is_some())
        {
            r.window.request_redraw();
        }
    }
}

/// Runs the editor until its window closes. Must be called on the main thread.
pub fn run(app: EditorApp, options: WindowOptions) -> Result<(), WindowError> {
    let event_loop = EventLoop::new().map_err(|e| WindowError::NoDisplay(e.to_string()))?;
    let mut shell = Shell {
        app,
        options,
        egui_ctx: egui::Context::default(),
        running: None,
        error: None,
        frames: 0,
        announced: false,
        exit_after: std::env::var("SPLATSTITCH_EXIT_AFTER_FRAMES").ok().and_then(|v| v.parse().ok()),
        bench: std::env::var("SPLATSTITCH_BENCH_ORBIT").ok().and_then(|v| v.parse().ok()).map(|n| (n, Vec::new())),
        bench_settle: None,
        before_splats: (0, 0.0, 0.0),
        bench_stitch: std::env::var_os("SPLATSTITCH_BENCH_STITCH").map(|_| (false, Vec::new())),
    };
    event_loop.run_app(&mut shell).map_err(|e| WindowError::Start(e.to_string()))?;
    match shell.error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
