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
    /// Renders if anything changed, or says why it could not draw.
    fn draw(&mut self, ctx: &egui::Context, req: &ViewRequest) -> Result<(), String>;
    /// Shows the last image drawn over `rect` (under what the UI paints after it).
    fn show(&self, ui: &egui::Ui, rect: egui::Rect);
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

    fn draw(&mut self, ctx: &egui::Context, req: &ViewRequest) -> Result<(), String> {
        let Some(rgba) = self.render(req)? else { return Ok(()) };
        let size = [req.camera.width as usize, req.camera.height as usize];
        let color = egui::ColorImage::from_rgba_unmultiplied(size, &rgba);
        match &mut self.texture {
            Some(t) => t.set(color, egui::TextureOptions::LINEAR),
            None => self.texture = Some(ctx.load_texture("viewport", color, egui::TextureOptions::LINEAR)),
        }
        Ok(())
    }

    fn show(&self, ui: &egui::Ui, rect: egui::Rect) {
        if let Some(t) = &self.texture {
            let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
            ui.painter().image(t.id(), rect, uv, egui::Color32::WHITE);
        }
    }
}

impl CpuViewport {
    /// Renders when the view changed: the new image as RGBA8, or `None` when the last one
    /// still stands.
    pub fn render(&mut self, req: &ViewRequest) -> Result<Option<Vec<u8>>, String> {
        let size = [req.camera.width, req.camera.height];
        if self.drawn == Some((req.version, size)) {
            return Ok(None);
        }
        let started = std::time::Instant::now();
        let scene = RenderScene { layers: req.layers.clone() };
        let opts = RenderOptions { background: req.background, sh_degree: 3 };
        let rgba = render_cpu(&scene, &req.camera, &opts).map_err(|e| e.to_string())?.to_rgba8();
        self.drawn = Some((req.version, size));
        self.last_draw_ms = Some(started.elapsed().as_secs_f64() * 1e3);
        Ok(Some(rgba))
    }
}
