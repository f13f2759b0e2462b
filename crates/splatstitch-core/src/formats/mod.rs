//! Reading and writing splat files. The format is chosen by the file name's extension.
//!
//! Every reader works on the whole file in memory and checks each count a header declares
//! against the bytes that are actually there before allocating by it.

pub mod compressed_ply;
pub mod gltf;
pub mod ply;
pub mod ply_header;
pub mod sog;
pub mod sog_lod;
pub mod sog_palette;
pub mod splat;
pub mod spz;

use crate::cloud::GaussianCloud;
use crate::error::{FormatError, LoadError, Result};
use std::io::Write;
use std::path::Path;

/// A splat file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Format {
    /// Standard 3DGS PLY.
    #[serde(rename = "ply")]
    Ply,
    /// SuperSplat / PlayCanvas chunk-quantized PLY.
    #[serde(rename = "compressed.ply")]
    CompressedPly,
    /// antimatter15 `.splat`: 32 bytes per Gaussian, no SH.
    #[serde(rename = "splat")]
    Splat,
    /// Niantic `.spz`: quantized; gzip-compressed (v2, v3) or zstd per attribute (v4).
    #[serde(rename = "spz")]
    Spz,
    /// glTF 2.0 binary with `KHR_gaussian_splatting`.
    #[serde(rename = "glb")]
    Glb,
    /// glTF 2.0 JSON with `KHR_gaussian_splatting`, its buffer beside it.
    #[serde(rename = "gltf")]
    Gltf,
    /// PlayCanvas SOG bundled in one zip.
    #[serde(rename = "sog")]
    Sog,
    /// PlayCanvas SOG as a `meta.json` with its WebP textures beside it.
    #[serde(rename = "meta.json")]
    SogMeta,
    /// Streamed SOG: a `lod-meta.json` over SOG units, one cloud per level of detail.
    #[serde(rename = "lod-meta.json")]
    SogLod,
}

/// The file name extensions of every format (for open and save dialogs).
pub const EXTENSIONS: &[&str] = &["ply", "splat", "spz", "glb", "gltf", "sog", "json"];

impl Format {
    pub fn from_path(path: &Path) -> Result<Format> {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_ascii_lowercase();
        if name.ends_with(".compressed.ply") {
            Ok(Format::CompressedPly)
        } else if name.ends_with(".ply") {
            Ok(Format::Ply)
        } else if name.ends_with(".splat") {
            Ok(Format::Splat)
        } else if name.ends_with(".spz") {
            Ok(Format::Spz)
        } else if name.ends_with(".glb") {
            Ok(Format::Glb)
        } else if name.ends_with(".gltf") {
            Ok(Format::Gltf)
        } else if name.ends_with(".sog") {
            Ok(Format::Sog)
        } else if name.ends_with("lod-meta.json") {
            Ok(Format::SogLod)
        } else if name.ends_with("meta.json") {
            Ok(Format::SogMeta)
        } else {
            Err(FormatError::UnknownExtension(path.display().to_string()))
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Ply => "ply",
            Format::CompressedPly => "compressed.ply",
            Format::Splat => "splat",
            Format::Spz => "spz",
            Format::Glb => "glb",
            Format::Gltf => "gltf",
            Format::Sog => "sog",
            Format::SogMeta => "meta.json",
            Format::SogLod => "lod-meta.json",
        }
    }

    /// Highest SH degree the format can store.
    pub fn max_sh_degree(self) -> u8 {
        match self {
            Format::Splat => 0,
            _ => 3,
        }
    }
}

/// Text and byte order of a standard PLY.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlyEncoding {
    Ascii,
    #[default]
    BinaryLittleEndian,
    BinaryBigEndian,
}

/// What to do with Gaussians holding NaN or infinite values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NonFinitePolicy {
    /// Remove them and report how many (the default: they would poison sorting and blending).
    #[default]
    Drop,
    /// Fail the load.
    Reject,
    /// Keep them as they are.
    Keep,
}

#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub non_finite: NonFinitePolicy,
    /// For streamed SOG, the level of detail to read (0, the finest, unless told).
    pub lod: Option<u32>,
    /// Counts the file's bytes as they are read (a window showing how far a large file is).
    pub progress: Option<std::sync::Arc<LoadProgress>>,
}

/// How far a load is, readable from another thread while it runs.
#[derive(Debug, Default)]
pub struct LoadProgress {
    read: std::sync::atomic::AtomicU64,
    total: std::sync::atomic::AtomicU64,
}

impl LoadProgress {
    /// A counter for a file of `total` bytes (known before it opens; 0 if not).
    pub fn expecting(total: u64) -> Self {
        let p = LoadProgress::default();
        p.set(0, total);
        p
    }

    /// Bytes of the file read so far, and its size (0 until known).
    pub fn bytes(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.read.load(Relaxed), self.total.load(Relaxed))
    }

    fn set(&self, read: u64, total: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.total.store(total, Relaxed);
        self.read.store(read, Relaxed);
    }
}

#[derive(Debug, Clone)]
pub struct SaveOptions {
    pub ply_encoding: PlyEncoding,
    /// SPZ version to write (2, 3 or 4; [`spz::DEFAULT_VERSION`] unless told).
    pub spz_version: u32,
    /// How SOG is written.
    pub sog: sog::SogOptions,
}

impl Default for SaveOptions {
    fn default() -> Self {
        Self {
            ply_encoding: PlyEncoding::BinaryLittleEndian,
            spz_version: spz::DEFAULT_VERSION,
            sog: sog::SogOptions::default(),
        }
    }
}

/// Reads a file that another names, relative to it (a `.gltf`'s buffers, SOG textures).
pub type Resolve<'a> = &'a (dyn Fn(&str) -> Result<Vec<u8>> + Sync);

/// A loaded cloud and what happened while loading it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub cloud: GaussianCloud,
    pub format: Format,
    /// For standard PLY, the encoding it was stored in.
    pub ply_encoding: Option<PlyEncoding>,
    /// For versioned formats (SPZ, SOG), the version it was stored in.
    pub format_version: Option<u32>,
    /// For streamed SOG, the level read and the Gaussians of every level.
    pub lod: Option<sog_lod::LodSummary>,
    /// Gaussians removed for NaN/Inf values.
    pub non_finite_dropped: usize,
    /// Gaussians kept despite NaN/Inf values (`NonFinitePolicy::Keep`).
    pub non_finite_kept: usize,
}

/// Decodes bytes in the given format; the entry point of the fuzz targets. A `.gltf` whose
/// buffer lies in a file beside it needs [`load`] (or [`decode_beside`]).
pub fn decode(bytes: &[u8], format: Format, opts: &LoadOptions) -> Result<Loaded> {
    decode_beside(bytes, format, opts, None)
}

/// [`decode`], with the files a `.gltf` names by relative URI read by `resolve`.
pub fn decode_beside(bytes: &[u8], format: Format, opts: &LoadOptions, resolve: Option<Resolve>) -> Result<Loaded> {
    decode_releasing(bytes, format, opts, resolve, &|_, _| {})
}

/// [`decode_beside`], handing each stretch of `bytes` that a reader is done with to `release`
/// (offset, length), where the reader decodes in stretches (binary PLY).
fn decode_releasing(
    bytes: &[u8],
    format: Format,
    opts: &LoadOptions,
    resolve: Option<Resolve>,
    release: &dyn Fn(usize, usize),
) -> Result<Loaded> {
    let needs_files = |what: &str| {
        FormatError::FormatNotSupported(format!("a {what} names files beside it: open it from a folder, not as bytes"))
    };
    let mut lod = None;
    let (mut cloud, ply_encoding, format_version) = match format {
        Format::Ply => {
            let (c, e) = ply::decode_releasing(bytes, release)?;
            (c, Some(e), None)
        }
        Format::CompressedPly => (compressed_ply::decode(bytes)?, None, None),
        Format::Splat => (splat::decode(bytes)?, None, None),
        Format::Spz => {
            let (c, v) = spz::decode(bytes)?;
            (c, None, Some(v))
        }
        Format::Glb | Format::Gltf => (gltf::decode(bytes, resolve)?, None, None),
        Format::Sog => {
            let (c, v) = sog::decode_bundle(bytes)?;
            (c, None, Some(v))
        }
        Format::SogMeta => {
            let (c, v) = sog::decode_meta(bytes, resolve.ok_or_else(|| needs_files("SOG meta.json"))?)?;
            (c, None, Some(v))
        }
        Format::SogLod => {
            let (c, summary) = sog_lod::decode(bytes, resolve.ok_or_else(|| needs_files("lod-meta.json"))?, opts.lod)?;
            lod = Some(summary);
            (c, None, Some(1))
        }
    };
    let bad = cloud.non_finite_indices();
    let (mut dropped, mut kept) = (0, 0);
    if !bad.is_empty() {
        match opts.non_finite {
            NonFinitePolicy::Reject => return Err(FormatError::NonFinite { count: bad.len(), first: bad[0] }),
            NonFinitePolicy::Keep => kept = bad.len(),
            NonFinitePolicy::Drop => {
                let mut mask = vec![true; cloud.len()];
                for &i in &bad {
                    mask[i] = false;
                }
                cloud = cloud.select(&mask);
                dropped = bad.len();
            }
        }
    }
    debug_assert!(cloud.is_consistent());
    Ok(Loaded { cloud, format, ply_encoding, format_version, lod, non_finite_dropped: dropped, non_finite_kept: kept })
}

/// What the fuzz targets check of a reader: `data` decodes (non-finite values kept) or fails
/// with an error, and whatever decodes encodes and decodes again. `Err` only when our own
/// output of it fails to decode: a bug, never bad input.
pub fn check_round_trip(data: &[u8], format: Format) -> Result<()> {
    let opts = LoadOptions { non_finite: NonFinitePolicy::Keep, ..Default::default() };
    if let Ok(loaded) = decode(data, format, &opts)
        && let Ok(bytes) = encode(&loaded.cloud, format, &SaveOptions::default())
    {
        decode(&bytes, format, &opts)?;
    }
    Ok(())
}

/// Loads a splat file, choosing the format by extension.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Loaded, LoadError> {
    let wrap = |e| LoadError::new(path, e);
    let format = Format::from_path(path).map_err(wrap)?;
    let progress = opts.progress.as_deref();
    // A PLY's rows are decoded in stretches and each stretch's pages released behind it, so a
    // large capture is not held twice (mapped and decoded); other readers take the whole file.
    let streamed = format == Format::Ply;
    let bytes = if streamed { map_file(path, progress) } else { read_file(path, progress) }
        .map_err(|e| wrap(FormatError::Io(e)))?;
    let total = bytes.len() as u64;
    // Only the PLY reader, which the map above is made for, hands stretches back.
    let release = |at: usize, len: usize| {
        // SAFETY: the map is private and read-only: dropped pages read again from the file, with
        // the same bytes, if anything touches them after this.
        let _ = unsafe { bytes.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, at, len) };
        if let Some(p) = progress {
            p.set((at + len) as u64, total);
        }
    };
    let folder = path.parent().unwrap_or(Path::new("."));
    let beside = |uri: &str| -> Result<Vec<u8>> {
        let relative = Path::new(uri);
        if relative.is_absolute() || relative.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
            return Err(FormatError::Invalid {
                format: format.name(),
                reason: format!("`{uri}` is not a file beside the {} (absolute or outside its folder)", format.name()),
            });
        }
        std::fs::read(folder.join(relative))
            .map_err(|e| FormatError::Invalid { format: format.name(), reason: format!("`{uri}`: {e}") })
    };
    if opts.lod.is_some() && format != Format::SogLod {
        tracing::warn!("{}: a level of detail applies to streamed SOG (lod-meta.json) only; ignored", path.display());
    }
    let loaded = decode_releasing(&bytes, format, opts, Some(&beside), &release).map_err(wrap)?;
    if let Some(p) = progress {
        p.set(total, total);
    }
    if loaded.non_finite_dropped > 0 {
        tracing::warn!(
            "{}: dropped {} Gaussians with NaN or infinite values",
            path.display(),
            loaded.non_finite_dropped
        );
    }
    Ok(loaded)
}

/// The file's bytes, memory-mapped, read ahead in order as they are decoded (the decoder
/// reports progress as it goes).
fn map_file(path: &Path, progress: Option<&LoadProgress>) -> std::io::Result<memmap2::Mmap> {
    let file = std::fs::File::open(path)?;
    // SAFETY: as for `read_file`.
    let map = unsafe { memmap2::MmapOptions::new().map(&file) }?;
    let _ = map.advise(memmap2::Advice::Sequential);
    if let Some(p) = progress {
        p.set(0, map.len() as u64);
    }
    Ok(map)
}

/// The file's bytes, memory-mapped and pre-faulted: copying a large capture into a fresh
/// buffer first costs as much as decoding it. With `progress`, the pages are faulted in
/// stretches that each count their bytes.
fn read_file(path: &Path, progress: Option<&LoadProgress>) -> std::io::Result<memmap2::Mmap> {
    let file = std::fs::File::open(path)?;
    let Some(progress) = progress else {
        // SAFETY: the map is read-only and lives only for the decode; a file truncated by
        // another process meanwhile is the one hazard, accepted as for any tool that maps its input.
        return unsafe { memmap2::MmapOptions::new().populate().map(&file) };
    };
    // SAFETY: as above.
    let map = unsafe { memmap2::MmapOptions::new().map(&file) }?;
    const STRETCH: usize = 8 << 20;
    const PAGE: usize = 4096;
    let total = map.len() as u64;
    progress.set(0, total);
    for (i, stretch) in map.chunks(STRETCH).enumerate() {
        let mut touched = 0u8;
        for page in stretch.iter().step_by(PAGE) {
            touched ^= *page;
        }
        std::hint::black_box(touched);
        progress.set((i * STRETCH + stretch.len()) as u64, total);
    }
    Ok(map)
}

/// Encodes a cloud in the given format.
pub fn encode(cloud: &GaussianCloud, format: Format, opts: &SaveOptions) -> Result<Vec<u8>> {
    if !cloud.is_consistent() {
        return Err(FormatError::CannotWrite("cloud columns have different lengths".into()));
    }
    match format {
        Format::Ply => ply::encode(cloud, opts.ply_encoding),
        Format::CompressedPly => compressed_ply::encode(cloud),
        Format::Splat => splat::encode(cloud),
        Format::Spz => spz::encode(cloud, opts.spz_version),
        Format::Glb => gltf::encode_glb(cloud),
        Format::Gltf => gltf::encode_gltf(cloud, &gltf::BufferPlacement::Inline).map(|(json, _)| json),
        Format::Sog => sog::encode_bundle(cloud, &opts.sog),
        Format::SogMeta => Err(FormatError::CannotWrite(
            "a SOG meta.json is several files: save it to a path, or write a bundled .sog".into(),
        )),
        Format::SogLod => Err(cannot_write_lod()),
    }
}

fn cannot_write_lod() -> FormatError {
    FormatError::CannotWrite("streamed SOG (lod-meta.json) is read, not written: write a .sog or meta.json".into())
}

/// Saves a cloud, choosing the format by extension. The file appears whole or not at all:
/// bytes go to a temporary file in the same folder, which is then renamed over the target.
pub fn save(path: &Path, cloud: &GaussianCloud, opts: &SaveOptions) -> Result<(), LoadError> {
    let wrap = |e| LoadError::new(path, e);
    let format = Format::from_path(path).map_err(wrap)?;
    if !cloud.is_consistent() {
        return Err(wrap(FormatError::CannotWrite("cloud columns have different lengths".into())));
    }
    match format {
        Format::Gltf => return save_gltf(path, cloud).map_err(wrap),
        Format::SogMeta => return save_sog_files(path, cloud, &opts.sog).map_err(wrap),
        Format::SogLod => return Err(wrap(cannot_write_lod())),
        _ => {}
    }
    let mut failure = None;
    let io = write_atomically_with(path, |w| {
        let written = match format {
            // The big one streams; the quantized formats are a fraction of the size.
            Format::Ply => ply::write(cloud, opts.ply_encoding, w),
            _ => encode(cloud, format, opts).and_then(|b| Ok(w.write_all(&b)?)),
        };
        written.map_err(|e| match e {
            FormatError::Io(e) => e,
            other => {
                failure = Some(other);
                std::io::Error::other("encoding failed")
            }
        })
    });
    match (failure, io) {
        (Some(e), _) => Err(wrap(e)),
        (None, Err(e)) => Err(wrap(FormatError::Io(e))),
        (None, Ok(())) => Ok(()),
    }
}

/// A `.gltf` and its buffer as `<name>.bin` beside it (the buffer first, so the JSON never
/// names a buffer that is not there).
fn save_gltf(path: &Path, cloud: &GaussianCloud) -> Result<()> {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("splats");
    let bin_name = format!("{stem}.bin");
    let (json, bin) = gltf::encode_gltf(cloud, &gltf::BufferPlacement::Beside(&bin_name))?;
    write_atomically(&path.with_file_name(&bin_name), &bin)?;
    write_atomically(path, &json)?;
    Ok(())
}

/// A `meta.json` and its textures beside it (the textures first, so the JSON never names a
/// texture that is not there).
fn save_sog_files(path: &Path, cloud: &GaussianCloud, opts: &sog::SogOptions) -> Result<()> {
    let files = sog::encode_files(cloud, opts)?;
    for (name, bytes) in &files.textures {
        write_atomically(&path.with_file_name(name), bytes)?;
    }
    write_atomically(path, &files.meta_json)?;
    Ok(())
}

/// Writes `bytes` to `path` via a temporary sibling file and a rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomically_with(path, |w| w.write_all(bytes))
}

/// Runs `fill` on a buffered temporary file beside `path`, then renames it over `path`; on any
/// failure the temporary file is removed and `path` is left as it was.
pub fn write_atomically_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
        fill(&mut w)?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Sign of each SH coefficient (k = 0..16) under the 180° turn about x, `(x, y, z) ↦ (x, −y, −z)`:
/// `(−1)^(power of y + power of z)` of its basis polynomial.
const FLIP_X_SH_SIGN: [f32; 16] = [1., -1., -1., 1., -1., 1., 1., -1., 1., -1., 1., -1., -1., 1., -1., 1.];
/// The same under the 180° turn about z, `(x, y, z) ↦ (−x, −y, z)`: `(−1)^(power of x + power of y)`.
const FLIP_Z_SH_SIGN: [f32; 16] = [1., -1., 1., -1., 1., -1., 1., -1., 1., -1., 1., -1., 1., -1., 1., -1.];

/// The axis of a half turn between file conventions.
#[derive(Clone, Copy)]
enum HalfTurn {
    X,
    Z,
}

/// 180° turn about x: maps right-up-back (SPZ) to right-down-front (PLY) axes. Exact (sign
/// flips and swaps only); [`flip_rdf_rub`] undoes it bit for bit.
pub(crate) fn flip_rub_rdf(cloud: &mut GaussianCloud) {
    half_turn(cloud, HalfTurn::X, false)
}

/// The inverse of [`flip_rub_rdf`], for writing SPZ. (The turn is its own inverse as a rotation,
/// but its quaternion squared is −1: using the conjugate keeps quaternions bit-identical.)
pub(crate) fn flip_rdf_rub(cloud: &mut GaussianCloud) {
    half_turn(cloud, HalfTurn::X, true)
}

/// 180° turn about z: PLY's right-down-front axes to glTF's (+Y up) as splat-transform turns
/// them. Exact; [`flip_z_inverse`] undoes it bit for bit.
pub(crate) fn flip_z(cloud: &mut GaussianCloud) {
    half_turn(cloud, HalfTurn::Z, false)
}

pub(crate) fn flip_z_inverse(cloud: &mut GaussianCloud) {
    half_turn(cloud, HalfTurn::Z, true)
}

/// Positions, rotations (left composition with the turn's quaternion, or its conjugate) and SH.
fn half_turn(cloud: &mut GaussianCloud, axis: HalfTurn, inverse: bool) {
    let (flipped, signs) = match axis {
        HalfTurn::X => ([1, 2], &FLIP_X_SH_SIGN),
        HalfTurn::Z => ([0, 1], &FLIP_Z_SH_SIGN),
    };
    for p in &mut cloud.positions {
        for c in flipped {
            p[c] = -p[c];
        }
    }
    for q in &mut cloud.rotations {
        *q = match (axis, inverse) {
            // (0, ±1, 0, 0) ⊗ (w, x, y, z) = ±(−x, w, −z, y)
            (HalfTurn::X, false) => [-q[1], q[0], -q[3], q[2]],
            (HalfTurn::X, true) => [q[1], -q[0], q[3], -q[2]],
            // (0, 0, 0, ±1) ⊗ (w, x, y, z) = ±(−z, −y, x, w)
            (HalfTurn::Z, false) => [-q[3], -q[2], q[1], q[0]],
            (HalfTurn::Z, true) => [q[3], q[2], -q[1], -q[0]],
        };
    }
    let k = cloud.coeffs_per_channel();
    for block in cloud.sh.chunks_exact_mut(k * 3) {
        for (i, v) in block.iter_mut().enumerate() {
            *v *= signs[i / 3];
        }
    }
}

/// A small cloud with every attribute varying (unit tests of the format codecs).
#[cfg(test)]
pub(crate) fn test_cloud(n: usize, degree: u8) -> GaussianCloud {
    let mut c = GaussianCloud::with_len(n, degree);
    for i in 0..n {
        let t = i as f32;
        c.positions[i] = [0.01 * t - 1.0, (0.3 * t).sin(), 2.0 - 0.02 * t];
        c.log_scales[i] = [-4.0 + 0.01 * t, -3.0, -5.0 + (0.1 * t).cos()];
        c.opacities[i] = (0.05 * t).sin() * 3.0;
        let q = [1.0, 0.1 * (t * 0.7).sin(), -0.2, 0.05 * t.cos()];
        let len = q.iter().map(|v: &f32| v * v).sum::<f32>().sqrt();
        c.rotations[i] = q.map(|v| v / len);
    }
    for (j, v) in c.sh.iter_mut().enumerate() {
        *v = ((j as f32) * 0.37).sin() * 0.4;
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sh::ShRotation;

    #[test]
    fn a_counted_load_ends_with_every_byte_read_and_the_same_cloud() {
        let path = crate::test_data::capture("fruit_drops_5k_sh3.ply").expect("bundled capture");
        let size = std::fs::metadata(&path).unwrap().len();
        let progress = std::sync::Arc::new(LoadProgress::expecting(size));
        assert_eq!(progress.bytes(), (0, size));
        let counted = load(&path, &LoadOptions { progress: Some(progress.clone()), ..Default::default() }).unwrap();
        assert_eq!(progress.bytes(), (size, size));
        let plain = load(&path, &LoadOptions::default()).unwrap();
        assert_eq!(counted.cloud, plain.cloud);
    }

    #[test]
    fn axis_flip_matches_exact_sh_rotation() {
        let mut a = GaussianCloud::with_len(1, 3);
        for (i, v) in a.sh.iter_mut().enumerate() {
            *v = 0.01 * i as f32 - 0.2;
        }
        a.rotations[0] = [0.5, 0.5, -0.5, 0.5];
        a.positions[0] = [1.0, 2.0, 3.0];
        let mut b = a.clone();
        flip_rub_rdf(&mut b);
        let mut expected = a.sh.clone();
        ShRotation::new(glam::Mat3::from_diagonal(glam::Vec3::new(1.0, -1.0, -1.0))).apply(3, &mut expected);
        for (x, y) in b.sh.iter().zip(&expected) {
            assert!((x - y).abs() < 1e-6);
        }
        assert_eq!(b.positions[0], [1.0, -2.0, -3.0]);
        let q = glam::Quat::from_xyzw(1.0, 0.0, 0.0, 0.0) * glam::Quat::from_xyzw(0.5, -0.5, 0.5, 0.5);
        let r = b.rotations[0];
        assert!((glam::Quat::from_xyzw(r[1], r[2], r[3], r[0]).dot(q)).abs() > 0.999_999);
        flip_rdf_rub(&mut b);
        assert_eq!(a, b);
    }

    #[test]
    fn turn_about_z_matches_exact_sh_rotation() {
        let mut a = GaussianCloud::with_len(1, 3);
        for (i, v) in a.sh.iter_mut().enumerate() {
            *v = 0.013 * i as f32 - 0.3;
        }
        a.rotations[0] = [0.5, -0.5, 0.5, 0.5];
        a.positions[0] = [1.0, 2.0, 3.0];
        let mut b = a.clone();
        flip_z(&mut b);
        let mut expected = a.sh.clone();
        ShRotation::new(glam::Mat3::from_diagonal(glam::Vec3::new(-1.0, -1.0, 1.0))).apply(3, &mut expected);
        for (x, y) in b.sh.iter().zip(&expected) {
            assert!((x - y).abs() < 1e-6);
        }
        assert_eq!(b.positions[0], [-1.0, -2.0, 3.0]);
        let q = glam::Quat::from_xyzw(0.0, 0.0, 1.0, 0.0) * glam::Quat::from_xyzw(-0.5, 0.5, 0.5, 0.5);
        let r = b.rotations[0];
        assert!((glam::Quat::from_xyzw(r[1], r[2], r[3], r[0]).dot(q)).abs() > 0.999_999);
        flip_z_inverse(&mut b);
        assert_eq!(a, b);
    }
}
