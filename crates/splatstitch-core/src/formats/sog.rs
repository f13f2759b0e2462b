//! PlayCanvas SOG: a `meta.json` and lossless-WebP textures, one texel per Gaussian, either as
//! files beside the `meta.json` or bundled in a `.sog` zip.
//!
//! Version 2 (written here, as splat-transform 3.x writes it): positions as 16 bits per axis of
//! `sign(x)·ln(|x| + 1)` between the file's bounds (a low-byte and a high-byte texture);
//! rotations as the smallest three components with the largest one's index in alpha; scales and
//! base colours as indices into 256-entry codebooks, opacity as a byte in the colour texture's
//! alpha; the higher SH bands as a k-means palette (a label texture and a centroid texture whose
//! entries index a third codebook). Version 1 (no `version` key) lerps scales, colours, logit
//! opacities and the palette's entries between per-file bounds instead of codebooks. SOG stores
//! PLY's axes, and the Gaussians in Morton order of their centres.

use super::sog_palette::{kmeans, scalar_codebook};
use crate::cloud::{GaussianCloud, sigmoid};
use crate::error::{FormatError, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::io::{Cursor, Read, Write};

/// The meta.json version written.
pub const WRITTEN_VERSION: u32 = 2;
/// k-means rounds for the SH palette unless told. Ours assign approximately after the first
/// round, so they cost a fraction of the reference writer's exact ones; 20 of them end below
/// the error of its default 10 (on flowers' 93k Gaussians: RMS 0.0050 against 0.0065 for 10
/// exact rounds, in half the time).
pub const DEFAULT_SH_ITERATIONS: u32 = 20;
/// WebP's largest side.
const MAX_SIDE: usize = 16383;
/// Entries in each scalar codebook.
const CODEBOOK: usize = 256;
/// Palette entries per row of the centroid texture.
const PALETTE_ROW: usize = 64;
/// Texels a file may claim beyond what its Gaussians need (other writers lay textures out
/// their own way), before a texture counts as a decompression bomb.
const TEXEL_SLACK: usize = 1 << 16;

/// Reads a file that meta.json names, relative to it.
pub type Fetch<'a> = &'a (dyn Fn(&str) -> Result<Vec<u8>> + Sync);

fn invalid(reason: impl Into<String>) -> FormatError {
    FormatError::Invalid { format: "SOG", reason: reason.into() }
}

#[derive(Deserialize)]
struct MetaIn {
    version: Option<serde_json::Value>,
    count: Option<u64>,
    means: Section,
    scales: Section,
    quats: Section,
    sh0: Section,
    #[serde(rename = "shN")]
    sh_n: Option<Section>,
}

#[derive(Deserialize, Default)]
struct Section {
    #[serde(default)]
    files: Vec<String>,
    mins: Option<Numbers>,
    maxs: Option<Numbers>,
    codebook: Option<Vec<f32>>,
    count: Option<u64>,
    bands: Option<u8>,
    shape: Option<Vec<u64>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Numbers {
    One(f64),
    Many(Vec<f64>),
}

impl Section {
    fn file(&self, what: &str, i: usize) -> Result<&str> {
        self.files.get(i).map(String::as_str).ok_or_else(|| invalid(format!("`{what}.files` has no entry {i}")))
    }

    fn bounds(&self, what: &str, len: usize) -> Result<(Vec<f64>, Vec<f64>)> {
        let get = |n: &Option<Numbers>, key: &str| -> Result<Vec<f64>> {
            let v = match n {
                Some(Numbers::Many(v)) => v.clone(),
                Some(Numbers::One(x)) => vec![*x],
                None => return Err(invalid(format!("`{what}.{key}` is missing"))),
            };
            if v.len() < len || v.iter().any(|x| !x.is_finite()) {
                return Err(invalid(format!("`{what}.{key}` needs {len} finite numbers")));
            }
            Ok(v)
        };
        Ok((get(&self.mins, "mins")?, get(&self.maxs, "maxs")?))
    }

    fn codebook(&self, what: &str) -> Result<&[f32]> {
        match &self.codebook {
            Some(c) if !c.is_empty() => Ok(c),
            _ => Err(invalid(format!("`{what}.codebook` is missing or empty"))),
        }
    }
}

/// A decoded texture as RGBA bytes.
struct Texture {
    width: usize,
    height: usize,
    rgba: Vec<u8>,
}

impl Texture {
    fn texel(&self, i: usize) -> [u8; 4] {
        self.rgba[4 * i..4 * i + 4].try_into().expect("4 bytes")
    }
}

fn decode_texture(name: &str, bytes: &[u8], max_texels: usize) -> Result<Texture> {
    let bad = |e: image_webp::DecodingError| invalid(format!("texture `{name}`: {e}"));
    let mut decoder = image_webp::WebPDecoder::new(Cursor::new(bytes)).map_err(bad)?;
    let (w, h) = decoder.dimensions();
    let (width, height) = (w as usize, h as usize);
    if width * height > max_texels {
        return Err(invalid(format!(
            "texture `{name}` is {width}×{height}, more than the {max_texels} texels this file can need"
        )));
    }
    let size = decoder.output_buffer_size().ok_or_else(|| invalid(format!("texture `{name}` is too large")))?;
    let mut pixels = vec![0u8; size];
    decoder.read_image(&mut pixels).map_err(bad)?;
    let rgba = if decoder.has_alpha() {
        pixels
    } else {
        pixels.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect()
    };
    Ok(Texture { width, height, rgba })
}

/// Decodes a bundled `.sog` (a zip holding `meta.json` and its textures). Returns the cloud and
/// the meta.json version (1 or 2).
pub fn decode_bundle(bytes: &[u8]) -> Result<(GaussianCloud, u32)> {
    let archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| invalid(format!("not a SOG zip: {e}")))?;
    let archive = std::sync::Mutex::new(archive);
    let fetch = |name: &str| -> Result<Vec<u8>> {
        let mut archive = archive.lock().map_err(|_| invalid("zip reader poisoned"))?;
        let mut entry = archive.by_name(name).map_err(|e| invalid(format!("`{name}` in the zip: {e}")))?;
        let mut out = Vec::with_capacity(entry.size().min(bytes.len() as u64) as usize);
        entry.read_to_end(&mut out).map_err(|e| invalid(format!("`{name}` in the zip: {e}")))?;
        Ok(out)
    };
    let meta = fetch("meta.json")?;
    decode_meta(&meta, &fetch)
}

/// Decodes a `meta.json`, reading the textures it names through `fetch`.
pub fn decode_meta(meta_json: &[u8], fetch: Fetch) -> Result<(GaussianCloud, u32)> {
    let meta: MetaIn = serde_json::from_slice(meta_json).map_err(|e| invalid(format!("meta.json: {e}")))?;
    let version = match &meta.version {
        None => 1,
        Some(v) if v.as_u64() == Some(2) => 2,
        Some(v) => {
            return Err(FormatError::FormatNotSupported(format!("SOG meta.json version {v} (1 and 2 are read)")));
        }
    };
    let count = if version == 2 {
        meta.count.ok_or_else(|| invalid("meta.json has no `count`"))?
    } else {
        meta.means.shape.as_ref().and_then(|s| s.first().copied()).ok_or_else(|| invalid("`means.shape` is missing"))?
    };
    let count = usize::try_from(count)
        .ok()
        .filter(|&c| c <= MAX_SIDE * MAX_SIDE)
        .ok_or_else(|| invalid(format!("`count` {count} is more than a SOG can hold ({MAX_SIDE}² texels)")))?;
    let per_gaussian = 2 * count + TEXEL_SLACK;
    let mut wanted = vec![
        (meta.means.file("means", 0)?, per_gaussian),
        (meta.means.file("means", 1)?, per_gaussian),
        (meta.quats.file("quats", 0)?, per_gaussian),
        (meta.scales.file("scales", 0)?, per_gaussian),
        (meta.sh0.file("sh0", 0)?, per_gaussian),
    ];
    if let Some(s) = &meta.sh_n {
        // At most 65536 palette entries of at most 15 coefficients.
        wanted.push((s.file("shN", 0)?, 15 * (1 << 16) + TEXEL_SLACK));
        wanted.push((s.file("shN", 1)?, per_gaussian));
    }
    let textures: Vec<Texture> =
        wanted.par_iter().map(|(name, max)| decode_texture(name, &fetch(name)?, *max)).collect::<Result<_>>()?;
    for ((name, _), t) in wanted.iter().zip(&textures).take(5).chain(wanted.iter().zip(&textures).skip(6)) {
        if t.width * t.height < count {
            return Err(invalid(format!("texture `{name}` has {} texels for {count} Gaussians", t.width * t.height)));
        }
    }
    let cloud = if version == 2 { unpack_v2(&meta, count, &textures)? } else { unpack_v1(&meta, count, &textures)? };
    Ok((cloud, version))
}

/// Inverse of `sign(x)·ln(|x| + 1)`.
fn inv_log_transform(v: f64) -> f64 {
    v.signum() * (v.abs().exp() - 1.0)
}

fn log_transform(v: f64) -> f64 {
    v.signum() * (v.abs() + 1.0).ln()
}

/// Positions and rotations, the same in both versions.
fn unpack_means_quats(meta: &MetaIn, count: usize, t: &[Texture], cloud: &mut GaussianCloud) -> Result<()> {
    let (mins, maxs) = meta.means.bounds("means", 3)?;
    let span: Vec<f64> = (0..3).map(|a| if maxs[a] - mins[a] == 0.0 { 1.0 } else { maxs[a] - mins[a] }).collect();
    cloud.positions.par_iter_mut().enumerate().take(count).for_each(|(i, p)| {
        let (lo, hi) = (t[0].texel(i), t[1].texel(i));
        *p = std::array::from_fn(|a| {
            let q = f64::from(u16::from(lo[a]) | (u16::from(hi[a]) << 8));
            inv_log_transform(mins[a] + span[a] * (q / 65535.0)) as f32
        });
    });
    cloud.rotations.par_iter_mut().enumerate().for_each(|(i, r)| *r = unpack_quat(t[2].texel(i)));
    Ok(())
}

/// `[w, x, y, z]` from the smallest three components and the largest one's index (tag 252–255);
/// any other tag is the identity, as the reference reader does.
fn unpack_quat([a, b, c, tag]: [u8; 4]) -> [f32; 4] {
    if !(252..=255).contains(&tag) {
        return [1.0, 0.0, 0.0, 0.0];
    }
    let largest = usize::from(tag - 252);
    let small = [a, b, c].map(|v| (f64::from(v) / 255.0 * 2.0 - 1.0) / std::f64::consts::SQRT_2);
    let mut q = [0.0f64; 4];
    let mut k = 0;
    for (j, slot) in q.iter_mut().enumerate() {
        if j != largest {
            *slot = small[k];
            k += 1;
        }
    }
    q[largest] = (1.0 - small.iter().map(|v| v * v).sum::<f64>()).max(0.0).sqrt();
    q.map(|v| v as f32)
}

fn pack_quat(r: [f32; 4]) -> [u8; 4] {
    let len = r.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>().sqrt();
    let q: [f64; 4] = if len > 0.0 && len.is_finite() { r.map(|v| f64::from(v) / len) } else { [1.0, 0.0, 0.0, 0.0] };
    let largest = (1..4).fold(0, |m, j| if q[j].abs() > q[m].abs() { j } else { m });
    let sign = if q[largest] < 0.0 { -1.0 } else { 1.0 };
    let mut out = [0u8; 4];
    let mut k = 0;
    for (j, v) in q.iter().enumerate() {
        if j != largest {
            let s = v * sign * std::f64::consts::SQRT_2;
            out[k] = (255.0 * (s * 0.5 + 0.5)).round().clamp(0.0, 255.0) as u8;
            k += 1;
        }
    }
    out[3] = 252 + largest as u8;
    out
}

/// The logit of a stored opacity byte, clamped off the asymptotes as the reference reader does.
fn opacity_logit(a: u8) -> f32 {
    let p = (f64::from(a) / 255.0).clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln() as f32
}

fn entry(book: &[f32], i: u8, what: &str) -> Result<f32> {
    book.get(usize::from(i)).copied().ok_or_else(|| invalid(format!("a {what} index ({i}) is past its codebook")))
}

fn unpack_v2(meta: &MetaIn, count: usize, t: &[Texture]) -> Result<GaussianCloud> {
    let bands = match &meta.sh_n {
        Some(s) => s.bands.ok_or_else(|| invalid("`shN.bands` is missing"))?,
        None => 0,
    };
    if bands > 3 {
        return Err(invalid(format!("`shN.bands` is {bands} (0–3)")));
    }
    let mut cloud = GaussianCloud::with_len(count, bands);
    unpack_means_quats(meta, count, t, &mut cloud)?;
    let scales = meta.scales.codebook("scales")?;
    let colours = meta.sh0.codebook("sh0")?;
    for (i, s) in cloud.log_scales.iter_mut().enumerate() {
        let l = t[3].texel(i);
        *s = [entry(scales, l[0], "scale")?, entry(scales, l[1], "scale")?, entry(scales, l[2], "scale")?];
    }
    let k = cloud.coeffs_per_channel();
    for i in 0..count {
        let c = t[4].texel(i);
        cloud.opacities[i] = opacity_logit(c[3]);
        let block = &mut cloud.sh[i * k * 3..(i + 1) * k * 3];
        for ch in 0..3 {
            block[ch] = entry(colours, c[ch], "colour")?;
        }
    }
    if let (Some(s), true) = (&meta.sh_n, bands > 0) {
        let book = s.codebook("shN")?;
        let palette = s.count.ok_or_else(|| invalid("`shN.count` is missing"))? as usize;
        let coeffs = k - 1;
        let (centroids, labels) = (&t[5], &t[6]);
        if centroids.width != PALETTE_ROW * coeffs {
            return Err(invalid(format!(
                "the SH centroid texture is {} wide; {bands} bands need {}",
                centroids.width,
                PALETTE_ROW * coeffs
            )));
        }
        let mut dequant = [0f32; CODEBOOK];
        for (d, b) in dequant.iter_mut().zip(book) {
            *d = *b;
        }
        unpack_palette(&mut cloud, labels, centroids, palette, |b| dequant[usize::from(b)]);
    }
    Ok(cloud)
}

/// The higher SH bands from each Gaussian's palette label; a label past the palette or the
/// texture leaves zeros, as the reference reader does.
fn unpack_palette(
    cloud: &mut GaussianCloud,
    labels: &Texture,
    centroids: &Texture,
    palette: usize,
    value: impl Fn(u8) -> f32 + Sync,
) {
    let k = cloud.coeffs_per_channel();
    let coeffs = k - 1;
    cloud.sh.par_chunks_exact_mut(k * 3).enumerate().for_each(|(i, block)| {
        let l = labels.texel(i);
        let label = usize::from(l[0]) | (usize::from(l[1]) << 8);
        if label >= palette {
            return;
        }
        let row = label / PALETTE_ROW;
        for j in 0..coeffs {
            let col = (label % PALETTE_ROW) * coeffs + j;
            if row >= centroids.height || col >= centroids.width {
                continue;
            }
            let texel = centroids.texel(row * centroids.width + col);
            for ch in 0..3 {
                block[(1 + j) * 3 + ch] = value(texel[ch]);
            }
        }
    });
}

fn unpack_v1(meta: &MetaIn, count: usize, t: &[Texture]) -> Result<GaussianCloud> {
    let bands = match &meta.sh_n {
        Some(_) => match t[5].width {
            192 => 1,
            512 => 2,
            960 => 3,
            w => return Err(invalid(format!("the SH centroid texture is {w} wide (192, 512 or 960 expected)"))),
        },
        None => 0,
    };
    let mut cloud = GaussianCloud::with_len(count, bands);
    unpack_means_quats(meta, count, t, &mut cloud)?;
    let lerp = |min: f64, max: f64, b: u8| (min + (max - min) * (f64::from(b) / 255.0)) as f32;
    let (smin, smax) = meta.scales.bounds("scales", 3)?;
    let (cmin, cmax) = meta.sh0.bounds("sh0", 4)?;
    let k = cloud.coeffs_per_channel();
    for i in 0..count {
        let s = t[3].texel(i);
        cloud.log_scales[i] = std::array::from_fn(|a| lerp(smin[a], smax[a], s[a]));
        let c = t[4].texel(i);
        for ch in 0..3 {
            cloud.sh[i * k * 3 + ch] = lerp(cmin[ch], cmax[ch], c[ch]);
        }
        cloud.opacities[i] = lerp(cmin[3], cmax[3], c[3]);
    }
    if let Some(s) = &meta.sh_n {
        let (min, max) = s.bounds("shN", 1)?;
        let (centroids, labels) = (&t[5], &t[6]);
        let palette = (centroids.width / (k - 1)) * centroids.height;
        unpack_palette(&mut cloud, labels, centroids, palette, |b| lerp(min[0], max[0], b));
    }
    Ok(cloud)
}

// ---- writing -------------------------------------------------------------------------------

/// What the writer needs to know beyond the cloud.
#[derive(Debug, Clone, Copy)]
pub struct SogOptions {
    /// k-means rounds for the SH palette.
    pub sh_iterations: u32,
}

impl Default for SogOptions {
    fn default() -> Self {
        Self { sh_iterations: DEFAULT_SH_ITERATIONS }
    }
}

#[derive(Serialize)]
struct MetaOut {
    version: u32,
    asset: AssetOut,
    count: usize,
    means: MeansOut,
    scales: CodebookOut,
    quats: FilesOut,
    sh0: CodebookOut,
    #[serde(rename = "shN", skip_serializing_if = "Option::is_none")]
    sh_n: Option<PaletteOut>,
}

#[derive(Serialize)]
struct AssetOut {
    generator: String,
}

#[derive(Serialize)]
struct MeansOut {
    mins: [f64; 3],
    maxs: [f64; 3],
    files: [&'static str; 2],
}

#[derive(Serialize)]
struct CodebookOut {
    codebook: Vec<f32>,
    files: [&'static str; 1],
}

#[derive(Serialize)]
struct FilesOut {
    files: [&'static str; 1],
}

#[derive(Serialize)]
struct PaletteOut {
    count: usize,
    bands: u8,
    codebook: Vec<f32>,
    files: [&'static str; 2],
}

/// A SOG as its `meta.json` and its textures (name, WebP bytes), in the order a bundle holds
/// them (textures first, `meta.json` last).
pub struct SogFiles {
    pub meta_json: Vec<u8>,
    pub textures: Vec<(&'static str, Vec<u8>)>,
}

impl SogFiles {
    /// The texture of that name, as [`decode_meta`]'s `fetch` wants it.
    pub fn texture(&self, name: &str) -> Result<Vec<u8>> {
        self.textures
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, b)| b.clone())
            .ok_or_else(|| invalid(format!("no texture `{name}`")))
    }
}

/// Texture sides for `n` Gaussians, as the reference writer lays them out (multiples of 4).
fn texture_size(n: usize) -> (usize, usize) {
    let width = ((n as f64).sqrt() / 4.0).ceil() as usize * 4;
    let height = (n as f64 / width as f64 / 4.0).ceil() as usize * 4;
    (width.max(4), height.max(4))
}

/// Palette entries for `n` Gaussians: 1024 × the largest power of two ≤ n/1024, capped at 64
/// (the reference writer's choice; the labels are 16 bits).
pub fn palette_size(n: usize) -> usize {
    let e = ((n as f64 / 1024.0).log2().floor()).min(6.0);
    ((2f64.powf(e) * 1024.0).round() as usize).max(1)
}

/// Gaussian indices in Morton order of their centres (10 bits per axis over the bounds).
pub fn morton_order(positions: &[[f32; 3]]) -> Vec<u32> {
    let (mut lo, mut hi) = ([f32::INFINITY; 3], [f32::NEG_INFINITY; 3]);
    for p in positions {
        for a in 0..3 {
            if p[a].is_finite() {
                lo[a] = lo[a].min(p[a]);
                hi[a] = hi[a].max(p[a]);
            }
        }
    }
    let spread = |v: u32| -> u32 {
        let mut x = v & 0x3ff;
        x = (x | (x << 16)) & 0x0300_00ff;
        x = (x | (x << 8)) & 0x0300_f00f;
        x = (x | (x << 4)) & 0x030c_30c3;
        (x | (x << 2)) & 0x0924_9249
    };
    let codes: Vec<u32> = positions
        .par_iter()
        .map(|p| {
            let q: [u32; 3] = std::array::from_fn(|a| {
                let range = hi[a] - lo[a];
                if range.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) || !p[a].is_finite() {
                    0
                } else {
                    (((p[a] - lo[a]) / range) * 1023.0).round().clamp(0.0, 1023.0) as u32
                }
            });
            spread(q[0]) | (spread(q[1]) << 1) | (spread(q[2]) << 2)
        })
        .collect();
    let mut order: Vec<u32> = (0..positions.len() as u32).collect();
    order.par_sort_by_key(|&i| codes[i as usize]);
    order
}

/// Encodes a cloud as SOG version 2: its `meta.json` and textures.
pub fn encode_files(cloud: &GaussianCloud, opts: &SogOptions) -> Result<SogFiles> {
    let n = cloud.len();
    if n == 0 {
        return Err(FormatError::CannotWrite("a SOG needs at least one Gaussian".into()));
    }
    let (width, height) = texture_size(n);
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(FormatError::CannotWrite(format!(
            "{n} Gaussians need {width}×{height} textures; WebP holds at most {MAX_SIDE}×{MAX_SIDE}"
        )));
    }
    let texels = width * height;
    let order = morton_order(&cloud.positions);
    let k = cloud.coeffs_per_channel();

    // Positions: 16 bits per axis of the log-transformed coordinate between its bounds.
    let logs: Vec<[f64; 3]> = cloud.positions.par_iter().map(|p| p.map(|v| log_transform(f64::from(v)))).collect();
    let mut mins = [f64::INFINITY; 3];
    let mut maxs = [f64::NEG_INFINITY; 3];
    for l in &logs {
        for a in 0..3 {
            if l[a].is_finite() {
                mins[a] = mins[a].min(l[a]);
                maxs[a] = maxs[a].max(l[a]);
            }
        }
    }
    if mins.iter().any(|m| !m.is_finite()) {
        return Err(FormatError::CannotWrite("no Gaussian has a finite position".into()));
    }
    let mut means_l = vec![0u8; texels * 4];
    let mut means_u = vec![0u8; texels * 4];
    for (t, &g) in order.iter().enumerate() {
        for a in 0..3 {
            let range = maxs[a] - mins[a];
            let q = if range > 0.0 { ((logs[g as usize][a] - mins[a]) / range * 65535.0).round() } else { 0.0 };
            let q = if q.is_finite() { q.clamp(0.0, 65535.0) as u16 } else { 0 };
            means_l[t * 4 + a] = (q & 0xff) as u8;
            means_u[t * 4 + a] = (q >> 8) as u8;
        }
        means_l[t * 4 + 3] = 255;
        means_u[t * 4 + 3] = 255;
    }

    let mut quats = vec![0u8; texels * 4];
    for (t, &g) in order.iter().enumerate() {
        quats[t * 4..t * 4 + 4].copy_from_slice(&pack_quat(cloud.rotations[g as usize]));
    }

    let scale_values: Vec<f32> = cloud.log_scales.iter().flatten().copied().collect();
    let (scale_book, scale_labels) = scalar_codebook(&scale_values, CODEBOOK);
    let mut scales = vec![0u8; texels * 4];
    for (t, &g) in order.iter().enumerate() {
        let g = g as usize;
        scales[t * 4..t * 4 + 3].copy_from_slice(&scale_labels[g * 3..g * 3 + 3]);
        scales[t * 4 + 3] = 255;
    }

    let dc_values: Vec<f32> = cloud.sh.chunks_exact(k * 3).flat_map(|b| b[..3].iter().copied()).collect();
    let (dc_book, dc_labels) = scalar_codebook(&dc_values, CODEBOOK);
    let mut sh0 = vec![0u8; texels * 4];
    for (t, &g) in order.iter().enumerate() {
        let g = g as usize;
        sh0[t * 4..t * 4 + 3].copy_from_slice(&dc_labels[g * 3..g * 3 + 3]);
        sh0[t * 4 + 3] = (sigmoid(cloud.opacities[g]) * 255.0).round().clamp(0.0, 255.0) as u8;
    }

    let mut images: Vec<(&'static str, Vec<u8>, usize, usize)> = vec![
        ("means_l.webp", means_l, width, height),
        ("means_u.webp", means_u, width, height),
        ("quats.webp", quats, width, height),
        ("scales.webp", scales, width, height),
        ("sh0.webp", sh0, width, height),
    ];

    let sh_n = if cloud.sh_degree > 0 {
        let coeffs = k - 1;
        let dim = coeffs * 3;
        let rest: Vec<f32> = cloud.sh.chunks_exact(k * 3).flat_map(|b| b[3..].iter().copied()).collect();
        let palette = palette_size(n);
        let (centroids, labels) = kmeans(&rest, dim, palette, opts.sh_iterations, 0x005e_ed0f_5065);
        let (book, entries) = scalar_codebook(&centroids, CODEBOOK);
        let used = centroids.len() / dim;
        let rows = used.div_ceil(PALETTE_ROW);
        let cw = PALETTE_ROW * coeffs;
        let mut centroid_texels = vec![0u8; cw * rows * 4];
        for c in 0..used {
            for j in 0..coeffs {
                let texel = (c / PALETTE_ROW) * cw + (c % PALETTE_ROW) * coeffs + j;
                for ch in 0..3 {
                    centroid_texels[texel * 4 + ch] = entries[c * dim + j * 3 + ch];
                }
                centroid_texels[texel * 4 + 3] = 255;
            }
        }
        let mut label_texels = vec![0u8; texels * 4];
        for (t, &g) in order.iter().enumerate() {
            let l = labels[g as usize];
            label_texels[t * 4] = (l & 0xff) as u8;
            label_texels[t * 4 + 1] = (l >> 8) as u8;
            label_texels[t * 4 + 3] = 255;
        }
        images.push(("shN_centroids.webp", centroid_texels, cw, rows));
        images.push(("shN_labels.webp", label_texels, width, height));
        Some(PaletteOut {
            count: palette,
            bands: cloud.sh_degree,
            codebook: book,
            files: ["shN_centroids.webp", "shN_labels.webp"],
        })
    } else {
        None
    };

    let textures: Vec<(&'static str, Vec<u8>)> = images
        .into_par_iter()
        .map(|(name, rgba, w, h)| {
            let mut out = Vec::new();
            image_webp::WebPEncoder::new(&mut out)
                .encode(&rgba, w as u32, h as u32, image_webp::ColorType::Rgba8)
                .map_err(|e| FormatError::CannotWrite(format!("WebP texture `{name}`: {e}")))?;
            Ok((name, out))
        })
        .collect::<Result<_>>()?;

    let meta = MetaOut {
        version: WRITTEN_VERSION,
        asset: AssetOut { generator: format!("splatstitch {}", env!("CARGO_PKG_VERSION")) },
        count: n,
        means: MeansOut { mins, maxs, files: ["means_l.webp", "means_u.webp"] },
        scales: CodebookOut { codebook: scale_book, files: ["scales.webp"] },
        quats: FilesOut { files: ["quats.webp"] },
        sh0: CodebookOut { codebook: dc_book, files: ["sh0.webp"] },
        sh_n,
    };
    let meta_json = serde_json::to_vec(&meta).map_err(|e| FormatError::CannotWrite(format!("meta.json: {e}")))?;
    Ok(SogFiles { meta_json, textures })
}

/// Encodes a cloud as a bundled `.sog`: a zip of stored entries, the textures then `meta.json`
/// (WebP does not compress further).
pub fn encode_bundle(cloud: &GaussianCloud, opts: &SogOptions) -> Result<Vec<u8>> {
    let files = encode_files(cloud, opts)?;
    let zip_error = |e: zip::result::ZipError| FormatError::CannotWrite(format!("SOG zip: {e}"));
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in files.textures.iter().map(|(n, b)| (*n, b)).chain([("meta.json", &files.meta_json)]) {
        zip.start_file(name, stored).map_err(zip_error)?;
        zip.write_all(bytes)?;
    }
    Ok(zip.finish().map_err(zip_error)?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::test_cloud;

    fn decode_files(files: &SogFiles) -> (GaussianCloud, u32) {
        decode_meta(&files.meta_json, &|name| files.texture(name)).unwrap()
    }

    /// Each Gaussian of `a` paired with the one of `b` at the nearest centre.
    fn by_position(a: &GaussianCloud, b: &GaussianCloud) -> Vec<usize> {
        a.positions
            .iter()
            .map(|p| {
                (0..b.len())
                    .min_by(|&x, &y| {
                        let d = |q: [f32; 3]| (0..3).map(|i| (p[i] - q[i]).powi(2)).sum::<f32>();
                        d(b.positions[x]).total_cmp(&d(b.positions[y]))
                    })
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn round_trip_within_quantization_at_every_degree() {
        for degree in 0..=3 {
            let cloud = test_cloud(300, degree);
            let files = encode_files(&cloud, &SogOptions::default()).unwrap();
            let (back, version) = decode_files(&files);
            assert_eq!(version, 2);
            assert_eq!(back.len(), cloud.len());
            assert_eq!(back.sh_degree, degree);
            let pair = by_position(&cloud, &back);
            let k = cloud.coeffs_per_channel();
            for (i, &j) in pair.iter().enumerate() {
                for a in 0..3 {
                    assert!((cloud.positions[i][a] - back.positions[j][a]).abs() < 1e-3, "position");
                    assert!((cloud.log_scales[i][a] - back.log_scales[j][a]).abs() < 0.05, "scale");
                }
                let dot: f32 = (0..4).map(|c| cloud.rotations[i][c] * back.rotations[j][c]).sum::<f32>()
                    / cloud.rotations[i].iter().map(|v| v * v).sum::<f32>().sqrt();
                assert!(dot.abs() > 0.995, "rotation {dot}");
                assert!((sigmoid(cloud.opacities[i]) - sigmoid(back.opacities[j])).abs() < 0.003, "opacity");
                for c in 0..k * 3 {
                    // 300 Gaussians are fewer than the palette: the SH bands are codebook-exact.
                    let tolerance = if c < 3 { 0.02 } else { 0.03 };
                    assert!((cloud.sh[i * k * 3 + c] - back.sh[j * k * 3 + c]).abs() < tolerance, "sh {c}");
                }
            }
        }
    }

    #[test]
    fn bundle_reads_back_as_its_files() {
        let cloud = test_cloud(200, 2);
        let bundle = encode_bundle(&cloud, &SogOptions::default()).unwrap();
        let (from_bundle, _) = decode_bundle(&bundle).unwrap();
        let (from_files, _) = decode_files(&encode_files(&cloud, &SogOptions::default()).unwrap());
        assert_eq!(from_bundle, from_files);
    }

    #[test]
    fn quaternion_packing_round_trips() {
        for r in [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, -1.0], [0.5, -0.5, 0.5, 0.5], [0.1, 0.7, -0.2, 0.3]] {
            let len = r.iter().map(|v: &f32| v * v).sum::<f32>().sqrt();
            let q = unpack_quat(pack_quat(r));
            let dot: f32 = (0..4).map(|c| q[c] * r[c] / len).sum();
            assert!(dot.abs() > 0.999, "{r:?} → {q:?}");
        }
        assert_eq!(unpack_quat([1, 2, 3, 7]), [1.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn morton_order_is_a_permutation_grouping_near_points() {
        let points: Vec<[f32; 3]> =
            (0..1000).map(|i| [(i % 10) as f32, ((i / 10) % 10) as f32, (i / 100) as f32]).collect();
        let order = morton_order(&points);
        let mut seen = order.clone();
        seen.sort();
        assert_eq!(seen, (0..1000).collect::<Vec<_>>());
        // The first eight are one 2×2×2 block.
        for &i in &order[..8] {
            assert!(points[i as usize].iter().all(|&v| v < 2.0));
        }
    }

    #[test]
    fn palette_sizes_follow_the_reference_writer() {
        assert_eq!(palette_size(141_000), 65536);
        assert_eq!(palette_size(4721), 4096);
        assert_eq!(palette_size(2048), 2048);
        assert_eq!(palette_size(100), 64);
    }

    #[test]
    fn bad_meta_gets_named_errors() {
        let cloud = test_cloud(50, 1);
        let files = encode_files(&cloud, &SogOptions::default()).unwrap();
        let fetch = |name: &str| files.texture(name);
        let mut meta: serde_json::Value = serde_json::from_slice(&files.meta_json).unwrap();
        let try_meta =
            |m: &serde_json::Value| decode_meta(&serde_json::to_vec(m).unwrap(), &fetch).unwrap_err().to_string();
        meta["count"] = 100_000.into();
        assert!(try_meta(&meta).contains("texels for 100000 Gaussians"), "{}", try_meta(&meta));
        meta["count"] = 50.into();
        meta["version"] = 3.into();
        assert!(try_meta(&meta).contains("version 3"));
        meta["version"] = 2.into();
        meta["scales"]["codebook"] = serde_json::json!([]);
        assert!(try_meta(&meta).contains("scales.codebook"));
        assert!(decode_meta(b"{", &fetch).unwrap_err().to_string().contains("meta.json"));
        assert!(decode_bundle(b"PK\x03\x04 not really").is_err());
    }
}
