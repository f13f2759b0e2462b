//! Drawing the scene into the viewport: on the GPU through the shared wgpu device (window),
//! or with the CPU twin (UI tests, machines without a GPU). Both redraw only when the scene or
//! the view changed.

use splatstitch_render::{Camera, RenderLayer, RenderOptions, RenderScene, render_cpu};

/// What to draw this frame. `version` changes whenever the scene or the camera does.
pub struct ViewRequest<'a> {
    pub layers: Vec<RenderLayer<'a>>,
    pub camera: Camera,
    pub scene_version: u64,
    pub version: u64,
    pub background: [f32; 3],
}

pub trait ViewportBackend {
    /// The adapter, for the status bar (so a user sees a software driver).
    fn adapter(&self) -> String;
    /// Renders if anything changed and returns the texture to show, or why it could not draw.
    fn draw(&mut self, ctx: &egui::Context, req: &ViewRequest) -> Result<egui::TextureId, String>;
}

/// The CPU twin into an egui texture.
#[derive(Default)]
pub struct CpuViewport {
    texture: Option<egui::TextureHandle>,
    drawn: Option<(u64, [u32; 2])>,
    /// How long the last redraw took (render and texture), for the orbit benchmark.
    pub last_draw_ms: Option<f64>,
}

impl ViewportBackend for CpuViewport {
    fn adapter(&self) -> String {
        "CPU renderer".into()
    }

    fn draw(&mut self, ctx: &egui::Context, req: &ViewRequest) -> Result<egui::TextureId, String> {
        let size = [req.camera.width, req.camera.height];
        if let (Some(t), Some(d)) = (&self.texture, self.drawn)
            && d == (req.version, size)
        {
            return Ok(t.id());
        }
        let started = std::time::Instant::now();
        let scene = RenderScene { layers: req.layers.clone() };
        let opts = RenderOptions { background: req.background, sh_degree: 3 };
        let img = render_cpu(&scene, &req.camera, &opts).map_err(|e| e.to_string())?;
        let color = egui::ColorImage::from_rgba_unmultiplied([size[0] as usize, size[1] as usize], &img.to_rgba8());
        match &mut self.texture {
            Some(t) => t.set(color, egui::TextureOptions::LINEAR),
            None => self.texture = Some(ctx.load_texture("viewport", color, egui::TextureOptions::LINEAR)),
        }
        self.drawn = Some((req.version, size));
        self.last_draw_ms = Some(started.elapsed().as_secs_f64() * 1e3);
        Ok(self.texture.as_ref().expect("just set").id())
    }
}
