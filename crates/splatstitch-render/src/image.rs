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

    fn same_size(&self, other: &Image) -> Result<(), crate::RenderError> {
        if (self.width, self.height, self.rgba.len()) == (other.width, other.height, other.rgba.len()) {
            Ok(())
        } else {
            Err(crate::RenderError::SizeMismatch {
                a_width: self.width,
                a_height: self.height,
                b_width: other.width,
                b_height: other.height,
            })
        }
    }

    /// Largest per-channel absolute difference (RGB and alpha).
    pub fn max_abs_diff(&self, other: &Image) -> Result<f32, crate::RenderError> {
        self.same_size(other)?;
        Ok(self
            .rgba
            .iter()
            .zip(&other.rgba)
            .flat_map(|(a, b)| (0..4).map(move |c| (a[c] - b[c]).abs()))
            .fold(0.0, f32::max))
    }

    /// PSNR in dB over RGB, for images in [0, 1].
    pub fn psnr(&self, other: &Image) -> Result<f64, crate::RenderError> {
        self.same_size(other)?;
        let mut se = 0.0f64;
        for (a, b) in self.rgba.iter().zip(&other.rgba) {
            for c in 0..3 {
                let d = (a[c].clamp(0.0, 1.0) - b[c].clamp(0.0, 1.0)) as f64;
                se += d * d;
            }
        }
        let mse = se / (self.rgba.len() * 3).max(1) as f64;
        Ok(if mse == 0.0 { f64::INFINITY } else { 10.0 * (1.0 / mse).log10() })
    }
}

#[cfg(test)]
mod tests {
    use super::Image;

    #[test]
    fn comparisons_refuse_images_of_different_sizes() {
        let (a, b) = (Image::new(4, 3), Image::new(3, 4));
        assert!(a.psnr(&b).unwrap_err().to_string().contains("4×3 against 3×4"));
        assert!(a.max_abs_diff(&b).is_err());
        let mut c = Image::new(4, 3);
        c.rgba[5] = [0.1, 0.0, 0.0, 0.0];
        // One channel of 36 off by 0.1: MSE 1/3600, 35.56 dB.
        assert!((a.psnr(&c).unwrap() - 10.0 * 3600f64.log10()).abs() < 1e-5);
        assert_eq!(a.max_abs_diff(&c).unwrap(), 0.1);
    }
}
