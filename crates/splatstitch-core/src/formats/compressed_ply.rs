//! SuperSplat / PlayCanvas compressed PLY: Gaussians in chunks of 256, each chunk storing the
//! bounds its members are quantized into. Per Gaussian: position 11-10-11 bits and log-scale
//! 11-10-11 bits within the chunk bounds, rotation as "smallest three" (2 + 3 × 10 bits),
//! colour 8-8-8 within optional chunk colour bounds plus 8 bits of opacity; optional SH bytes.

use super::ply_header::{fixed_row_size, parse_header, read_scalar, scalar_kind, trailing_data};
use crate::cloud::{GaussianCloud, ScalarKind, logit, sigmoid};
use crate::error::{FormatError, Result};
use crate::sh::{self, SH_C0};
use ply_rs_bw::ply::{ElementDef, Encoding, PropertyType};

pub const CHUNK: usize = 256;
const CHUNK_PROPS: [&str; 18] = [
    "min_x",
    "min_y",
    "min_z",
    "max_x",
    "max_y",
    "max_z",
    "min_scale_x",
    "min_scale_y",
    "min_scale_z",
    "max_scale_x",
    "max_scale_y",
    "max_scale_z",
    "min_r",
    "min_g",
    "min_b",
    "max_r",
    "max_g",
    "max_b",
];
const VERTEX_PROPS: [&str; 4] = ["packed_position", "packed_rotation", "packed_scale", "packed_color"];

fn invalid(reason: impl Into<String>) -> FormatError {
    FormatError::Invalid { format: "compressed PLY", reason: reason.into() }
}

/// Element data located in the body, with each property's byte offset in a row.
struct Table<'a> {
    data: &'a [u8],
    row: usize,
    props: Vec<(String, usize, ScalarKind)>,
}

impl Table<'_> {
    fn column(&self, name: &str) -> Option<(usize, ScalarKind)> {
        self.props.iter().find(|p| p.0 == name).map(|p| (p.1, p.2))
    }

    fn get(&self, row: usize, col: (usize, ScalarKind)) -> f64 {
        read_scalar(col.1, &self.data[row * self.row + col.0..], false)
    }
}

fn tables<'a>(bytes: &'a [u8]) -> Result<Vec<(String, usize, Table<'a>)>> {
    let parsed = parse_header(bytes)?;
    if parsed.header.encoding != Encoding::BinaryLittleEndian {
        return Err(invalid("must be binary little endian"));
    }
    let mut body = &bytes[parsed.body_offset..];
    let mut out = Vec::new();
    for (name, el) in &parsed.header.elements {
        let ElementDef { count, properties, .. } = el;
        let types: Vec<&PropertyType> = properties.values().map(|p| &p.data_type).collect();
        let row = fixed_row_size(&types).ok_or_else(|| invalid(format!("list property in element `{name}`")))?;
        let need = *count as u128 * row as u128;
        if need > body.len() as u128 {
            if *count > body.len() {
                return Err(FormatError::AbsurdCount {
                    element: name.clone(),
                    count: *count as u64,
                    available: body.len() as u64,
                });
            }
            return Err(FormatError::Truncated { expected: need as u64, actual: body.len() as u64 });
        }
        let mut off = 0;
        let props = properties
            .values()
            .map(|p| {
                let PropertyType::Scalar(s) = &p.data_type else { unreachable!("lists rejected above") };
                let k = scalar_kind(s);
                off += k.size();
                (p.name.clone(), off - k.size(), k)
            })
            .collect();
        let (data, rest) = body.split_at(need as usize);
        body = rest;
        out.push((name.clone(), *count, Table { data, row, props }));
    }
    if !body.is_empty() {
        let last = out.last().map(|(n, c, t)| (n.as_str(), *c, Some(t.row)));
        return Err(trailing_data(body.len(), last));
    }
    Ok(out)
}

fn unorm(v: u32, bits: u32) -> f32 {
    let t = (1u32 << bits) - 1;
    (v & t) as f32 / t as f32
}

fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a * (1.0 - t) + b * t
}

pub fn decode(bytes: &[u8]) -> Result<GaussianCloud> {
    let tables = tables(bytes)?;
    let find = |n: &str| tables.iter().find(|t| t.0 == n);
    let (_, n_chunks, chunk) = find("chunk").ok_or_else(|| invalid("no `chunk` element"))?;
    let (_, n, vertex) = find("vertex").ok_or_else(|| invalid("no `vertex` element"))?;
    let (n, n_chunks) = (*n, *n_chunks);
    if n_chunks < n.div_ceil(CHUNK) {
        return Err(invalid(format!("{n_chunks} chunks cannot hold {n} Gaussians")));
    }
    let chunk_col = |name: &str| chunk.column(name);
    let mut bounds = Vec::with_capacity(18);
    for (i, name) in CHUNK_PROPS.iter().enumerate() {
        match chunk_col(name) {
            Some(c) => bounds.push(Some(c)),
            None if i >= 12 => bounds.push(None),
            None => return Err(FormatError::MissingProperty(format!("{name} (element `chunk`)"))),
        }
    }
    let has_colour_bounds = bounds[12..].iter().all(Option::is_some);
    let mut vcols = Vec::with_capacity(4);
    for name in VERTEX_PROPS {
        let c = vertex.column(name).ok_or_else(|| FormatError::MissingProperty(name.into()))?;
        if c.1.size() != 4 {
            return Err(invalid(format!("`{name}` must be a 32-bit integer")));
        }
        vcols.push(c);
    }
    let sh_table = find("sh");
    let rest_count = sh_table.map_or(0, |t| t.2.props.len());
    let degree = sh::degree_for_rest_count(rest_count).ok_or(FormatError::BadShCount(rest_count))?;
    if let Some((_, count, _)) = sh_table
        && *count != n
    {
        return Err(invalid(format!("`sh` has {count} rows for {n} Gaussians")));
    }
    let sh_cols: Vec<(usize, ScalarKind)> = match sh_table {
        Some((_, _, t)) => (0..rest_count)
            .map(|i| {
                t.column(&format!("f_rest_{i}")).ok_or_else(|| FormatError::MissingProperty(format!("f_rest_{i}")))
            })
            .collect::<Result<_>>()?,
        None => Vec::new(),
    };
    let per_channel = sh::coeff_count(degree) - 1;
    let mut cloud = GaussianCloud::with_len(n, degree);
    let stride = cloud.coeffs_per_channel() * 3;
    let mut b = [0f32; 18];
    for i in 0..n {
        let ci = i / CHUNK;
        if i % CHUNK == 0 {
            for (j, col) in bounds.iter().enumerate() {
                b[j] = col.map_or(0.0, |c| chunk.get(ci, c) as f32);
            }
        }
        let word = |k: usize| vertex.get(i, vcols[k]) as u32;
        let (pp, pr, ps, pc) = (word(0), word(1), word(2), word(3));
        cloud.positions[i] = [
            lerp(b[0], b[3], unorm(pp >> 21, 11)),
            lerp(b[1], b[4], unorm(pp >> 11, 10)),
            lerp(b[2], b[5], unorm(pp, 11)),
        ];
        cloud.log_scales[i] = [
            lerp(b[6], b[9], unorm(ps >> 21, 11)),
            lerp(b[7], b[10], unorm(ps >> 11, 10)),
            lerp(b[8], b[11], unorm(ps, 11)),
        ];
        let norm = std::f32::consts::SQRT_2;
        let abc = [pr >> 20, pr >> 10, pr].map(|v| (unorm(v, 10) - 0.5) * norm);
        let m = (1.0 - abc.iter().map(|v| v * v).sum::<f32>()).max(0.0).sqrt();
        let largest = (pr >> 30) as usize;
        let mut q = [0f32; 4];
        let mut it = abc.iter();
        for (j, v) in q.iter_mut().enumerate() {
            *v = if j == largest { m } else { *it.next().unwrap() };
        }
        cloud.rotations[i] = q;
        let rgb = [unorm(pc >> 24, 8), unorm(pc >> 16, 8), unorm(pc >> 8, 8)];
        for c in 0..3 {
            let v = if has_colour_bounds { lerp(b[12 + c], b[15 + c], rgb[c]) } else { rgb[c] };
            cloud.sh[i * stride + c] = (v - 0.5) / SH_C0;
        }
        // Clamped so fully transparent or opaque Gaussians keep a finite logit.
        cloud.opacities[i] = logit(unorm(pc, 8));
        if let Some((_, _, t)) = sh_table {
            for (r, col) in sh_cols.iter().enumerate() {
                let byte = t.get(i, *col).clamp(0.0, 255.0) as u8;
                let nrm = match byte {
                    0 => 0.0,
                    255 => 1.0,
                    v => (v as f32 + 0.5) / 256.0,
                };
                let (channel, k) = (r / per_channel, 1 + r % per_channel);
                cloud.sh[i * stride + k * 3 + channel] = (nrm - 0.5) * 8.0;
            }
        }
    }
    Ok(cloud)
}

/// Spreads the low 10 bits of `v` so two zero bits follow each.
fn spread3(mut v: u32) -> u32 {
    v &= 0x3ff;
    v = (v | (v << 16)) & 0x030000ff;
    v = (v | (v << 8)) & 0x0300f00f;
    v = (v | (v << 4)) & 0x030c30c3;
    (v | (v << 2)) & 0x09249249
}

/// Gaussians in Morton (Z-curve) order, so each chunk of 256 is spatially compact and its
/// quantization bounds tight.
pub fn morton_order(cloud: &GaussianCloud) -> Vec<usize> {
    let Some((lo, hi)) = cloud.bounds() else { return (0..cloud.len()).collect() };
    let extent = (hi - lo).max(glam::Vec3::splat(1e-12));
    let mut keyed: Vec<(u32, usize)> = cloud
        .positions
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let t = ((glam::Vec3::from(*p) - lo) / extent * 1023.0).clamp(glam::Vec3::ZERO, glam::Vec3::splat(1023.0));
            (spread3(t.x as u32) << 2 | spread3(t.y as u32) << 1 | spread3(t.z as u32), i)
        })
        .collect();
    keyed.sort_by_key(|k| k.0);
    keyed.into_iter().map(|k| k.1).collect()
}

fn pack_unorm(v: f32, bits: u32) -> u32 {
    let t = ((1u32 << bits) - 1) as f32;
    (v * t + 0.5).floor().clamp(0.0, t) as u32
}

fn normalize(x: f32, lo: f32, hi: f32) -> f32 {
    if x <= lo {
        0.0
    } else if x >= hi {
        1.0
    } else if hi - lo < 1e-5 {
        0.0
    } else {
        (x - lo) / (hi - lo)
    }
}

fn pack_rotation(q: [f32; 4]) -> u32 {
    let len = q.iter().map(|v| v * v).sum::<f32>().sqrt();
    let mut a = if len > 0.0 { q.map(|v| v / len) } else { [1.0, 0.0, 0.0, 0.0] };
    let largest = (0..4).fold(0, |best, i| if a[i].abs() > a[best].abs() { i } else { best });
    if a[largest] < 0.0 {
        a = a.map(|v| -v);
    }
    let mut out = largest as u32;
    for (i, v) in a.iter().enumerate() {
        if i != largest {
            out = (out << 10) | pack_unorm(v * std::f32::consts::FRAC_1_SQRT_2 + 0.5, 10);
        }
    }
    out
}

pub fn encode(cloud: &GaussianCloud) -> Result<Vec<u8>> {
    let n = cloud.len();
    let order = morton_order(cloud);
    let degree = cloud.sh_degree;
    let rest = 3 * (sh::coeff_count(degree) - 1);
    let per_channel = rest / 3;
    let stride = cloud.coeffs_per_channel() * 3;
    let n_chunks = n.div_ceil(CHUNK);
    let mut header = String::from("ply\nformat binary_little_endian 1.0\n");
    header += &format!("comment Generated by splatstitch {}\n", env!("CARGO_PKG_VERSION"));
    header += &format!("element chunk {n_chunks}\n");
    for p in CHUNK_PROPS {
        header += &format!("property float {p}\n");
    }
    header += &format!("element vertex {n}\n");
    for p in VERTEX_PROPS {
        header += &format!("property uint {p}\n");
    }
    if rest > 0 {
        header += &format!("element sh {n}\n");
        for i in 0..rest {
            header += &format!("property uchar f_rest_{i}\n");
        }
    }
    header += "end_header\n";
    let mut chunks = Vec::with_capacity(n_chunks * 18 * 4);
    let mut verts = Vec::with_capacity(n * 16);
    let mut shs = Vec::with_capacity(n * rest);
    for members in order.chunks(CHUNK) {
        let colour = |i: usize, c: usize| cloud.sh[i * stride + c] * SH_C0 + 0.5;
        let mut b = [f32::MAX, f32::MAX, f32::MAX, f32::MIN, f32::MIN, f32::MIN].repeat(3);
        for &i in members {
            for c in 0..3 {
                let vals = [cloud.positions[i][c], cloud.log_scales[i][c], colour(i, c)];
                for (g, v) in vals.iter().enumerate() {
                    b[g * 6 + c] = b[g * 6 + c].min(*v);
                    b[g * 6 + 3 + c] = b[g * 6 + 3 + c].max(*v);
                }
            }
        }
        for v in &mut b[6..12] {
            *v = v.clamp(-20.0, 20.0);
        }
        for v in &b {
            chunks.extend_from_slice(&v.to_le_bytes());
        }
        for &i in members {
            let p = cloud.positions[i];
            let s = cloud.log_scales[i];
            let pos = pack_unorm(normalize(p[0], b[0], b[3]), 11) << 21
                | pack_unorm(normalize(p[1], b[1], b[4]), 10) << 11
                | pack_unorm(normalize(p[2], b[2], b[5]), 11);
            let scale = pack_unorm(normalize(s[0], b[6], b[9]), 11) << 21
                | pack_unorm(normalize(s[1], b[7], b[10]), 10) << 11
                | pack_unorm(normalize(s[2], b[8], b[11]), 11);
            let col = (0..3).fold(0u32, |acc, c| {
                acc | pack_unorm(normalize(colour(i, c), b[12 + c], b[15 + c]), 8) << (24 - 8 * c)
            }) | pack_unorm(sigmoid(cloud.opacities[i]), 8);
            for w in [pos, pack_rotation(cloud.rotations[i]), scale, col] {
                verts.extend_from_slice(&w.to_le_bytes());
            }
            for r in 0..rest {
                let (channel, k) = (r / per_channel, 1 + r % per_channel);
                let v = cloud.sh[i * stride + k * 3 + channel] / 8.0 + 0.5;
                shs.push((v * 256.0).trunc().clamp(0.0, 255.0) as u8);
            }
        }
    }
    let mut out = header.into_bytes();
    out.extend_from_slice(&chunks);
    out.extend_from_slice(&verts);
    out.extend_from_slice(&shs);
    Ok(out)
}
