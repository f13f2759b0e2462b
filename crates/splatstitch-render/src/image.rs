//! Float RGBA images: straight RGB composited over the background, plus coverage alpha.

#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    /// Row-major, top row first: RGB over the background, then alpha = 1 − transmittance.
    pub rgba: Vec<[f32; 4]>,
}

impl Image {
    pub fn new(width: u32, height: u32) -> Self {
        Self { width, height, rgba: vec![[0.0; 4]; width as usize * height as usize] }
    }

    pub fn pixel(&self, x: u32, y: u32) -> [f32; 4] {
        self.rgba[y as usize * self.width as usize + x as usize]
    }

    /// 8-bit RGBA, colours clamped to [0, 1] and alpha forced opaque (the background is baked in).
    pub fn to_rgba8(&self) -> Vec<u8> {
        let q = |v: f32| (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8;
        self.rgba.iter().flat_map(|p| [q(p[0]), q(p[1]), q(p[2]), 255]).collect()
    }

    /// PNG of [`Image::to_rgba8`].
    pub fn to_png(&self) -> Vec<u8> {
        let mut out = Vec::new();
        image::write_buffer_with_format(
            &mut std::io::Cursor::new(&mut out),
            &self.to_rgba8(),
            self.width,
            self.height,
            image::ExtendedColorType::Rgba8,
            image::ImageFormat::Png,
        )
        .expect("encoding an in-memory RGBA8 buffer as PNG cannot fail");
        out
    }

    /// NumPy `.npy` (version 1.0) of float32, shape H×W×4.
    pub fn to_npy(&self) -> Vec<u8> {
        let mut header =
            format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}, 4), }}", self.height, self.width);
        // Magic (6) + version (2) + length (2) + header + newline, padded to a multiple of 64.
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = Vec::with_capacity(10 + header.len() + self.rgba.len() * 16);
        out.extend_from_slice(b"\x93NUMPY\x01\x00");
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        for p in &self.rgba {
            for v in p {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    }

    /// Largest per-channel absolute difference (RGB and alpha).
    pub fn max_abs_diff(&self, other: &Image) -> f32 {
        self.rgba
            .iter()
            .zip(&other.rgba)
            .flat_map(|(a, b)| (0..4).map(move |c| (a[c] - b[c]).abs()))
            .fold(0.0, f32::max)
    }

    /// PSNR in dB over RGB, for images in [0, 1].
    pub fn psnr(&self, other: &Image) -> f64 {
        let mut se = 0.0f64;
        for (a, b) in self.rgba.iter().zip(&other.rgba) {
            for c in 0..3 {
                let d = (a[c].clamp(0.0, 1.0) - b[c].clamp(0.0, 1.0)) as f64;
                se += d * d;
            }
        }
        let mse = se / (self.rgba.len() * 3).max(1) as f64;
        if mse == 0.0 { f64::INFINITY } else { 10.0 * (1.0 / mse).log10() }
    }
}
