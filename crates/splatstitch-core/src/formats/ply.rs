//! Standard 3DGS PLY (binary little/big endian and ASCII): properties by name in any order,
//! SH degree from the `f_rest_*` count, unknown vertex properties kept for the round trip.
//!
//! The header goes through `ply-rs-bw`; binary bodies are decoded by a precomputed column plan
//! over the raw bytes in parallel, because a generic per-property callback reader runs at a
//! small fraction of memory bandwidth on million-Gaussian files.

use super::PlyEncoding;
use super::ply_header::{
    fixed_row_size, is_binary, parse_header, read_scalar, scalar_kind, scalar_type, skip_binary_element, trailing_data,
};
use crate::cloud::{ExtraColumn, GaussianCloud, ScalarKind};
use crate::error::{FormatError, Result};
use crate::sh;
use ply_rs_bw::parser::Parser;
use ply_rs_bw::ply::{
    Addable, ElementDef, Encoding, Header, Property, PropertyAccess, PropertyAccessResult, PropertyDef, PropertyType,
};
use ply_rs_bw::writer::Writer;
use rayon::prelude::*;

/// Where one vertex property lands in the cloud.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Pos(usize),
    Normal(usize),
    Dc(usize),
    /// Index into the per-Gaussian SH block (`k * 3 + channel`).
    Rest(usize),
    Opacity,
    Scale(usize),
    Rot(usize),
    Extra(usize),
}

#[derive(Debug, Clone, Copy)]
struct Column {
    offset: usize,
    kind: ScalarKind,
    slot: Slot,
}

struct Plan {
    columns: Vec<Column>,
    row_size: usize,
    sh_degree: u8,
    has_normals: bool,
    extras: Vec<(String, ScalarKind)>,
}

const REQUIRED: [&str; 14] = [
    "x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2",
    "rot_3",
];

fn plan_vertex(vertex: &ElementDef) -> Result<Plan> {
    for name in REQUIRED {
        if !vertex.properties.contains_key(name) {
            return Err(FormatError::MissingProperty(name.into()));
        }
    }
    let rest_count = vertex.properties.keys().filter(|k| k.starts_with("f_rest_")).count();
    let sh_degree = sh::degree_for_rest_count(rest_count).ok_or(FormatError::BadShCount(rest_count))?;
    let per_channel = sh::coeff_count(sh_degree) - 1;
    let has_normals = ["nx", "ny", "nz"].iter().all(|n| vertex.properties.contains_key(*n));
    let mut columns = Vec::with_capacity(vertex.properties.len());
    let mut extras = Vec::new();
    let mut offset = 0;
    for (name, def) in &vertex.properties {
        let kind = match &def.data_type {
            PropertyType::Scalar(s) => scalar_kind(s),
            PropertyType::List(..) => {
                return Err(FormatError::Unsupported(format!("list property `{name}` in element `vertex`")));
            }
        };
        let axis = |s: &str| s.parse::<usize>().ok();
        let slot = match name.as_str() {
            "x" => Slot::Pos(0),
            "y" => Slot::Pos(1),
            "z" => Slot::Pos(2),
            "nx" if has_normals => Slot::Normal(0),
            "ny" if has_normals => Slot::Normal(1),
            "nz" if has_normals => Slot::Normal(2),
            "opacity" => Slot::Opacity,
            n if n.starts_with("f_dc_") && axis(&n[5..]).is_some_and(|i| i < 3) => Slot::Dc(axis(&n[5..]).unwrap()),
            n if n.starts_with("scale_") && axis(&n[6..]).is_some_and(|i| i < 3) => Slot::Scale(axis(&n[6..]).unwrap()),
            n if n.starts_with("rot_") && axis(&n[4..]).is_some_and(|i| i < 4) => Slot::Rot(axis(&n[4..]).unwrap()),
            n if n.starts_with("f_rest_") => {
                let i = axis(&n[7..]).filter(|i| *i < rest_count).ok_or_else(|| FormatError::Invalid {
                    format: "PLY",
                    reason: format!("unexpected SH property `{n}`"),
                })?;
                // PLY stores f_rest channel-major: all R coefficients, then G, then B.
                let (channel, k) = (i / per_channel, 1 + i % per_channel);
                Slot::Rest(k * 3 + channel)
            }
            _ => {
                extras.push((name.clone(), kind));
                Slot::Extra(extras.len() - 1)
            }
        };
        columns.push(Column { offset, kind, slot });
        offset += kind.size();
    }
    Ok(Plan { columns, row_size: offset, sh_degree, has_normals, extras })
}

/// A Gaussian's standard attributes as one flat row, the layout both codecs go through:
/// `x y z | nx ny nz | SH in memory order (stride) | opacity | scale ×3 | rot ×4`.
/// Moving a row between this and the cloud's columns is a handful of slice copies.
const CANON_MAX: usize = 14 + 48;
type CanonRow = [f32; CANON_MAX];

fn canon_index(slot: Slot, stride: usize) -> Option<usize> {
    Some(match slot {
        Slot::Pos(c) => c,
        Slot::Normal(c) => 3 + c,
        Slot::Dc(c) => 6 + c,
        Slot::Rest(i) => 6 + i,
        Slot::Opacity => 6 + stride,
        Slot::Scale(c) => 7 + stride + c,
        Slot::Rot(c) => 10 + stride + c,
        Slot::Extra(_) => return None,
    })
}

/// Mutable views of the cloud's columns for a range of rows.
struct RowsMut<'a> {
    pos: &'a mut [[f32; 3]],
    rot: &'a mut [[f32; 4]],
    scale: &'a mut [[f32; 3]],
    opacity: &'a mut [f32],
    sh: &'a mut [f32],
    normals: Option<&'a mut [[f32; 3]]>,
    extras: Vec<&'a mut [f64]>,
}

impl<'a> RowsMut<'a> {
    fn split_at(self, n: usize, sh_stride: usize) -> (RowsMut<'a>, RowsMut<'a>) {
        let (p0, p1) = self.pos.split_at_mut(n);
        let (r0, r1) = self.rot.split_at_mut(n);
        let (s0, s1) = self.scale.split_at_mut(n);
        let (o0, o1) = self.opacity.split_at_mut(n);
        let (h0, h1) = self.sh.split_at_mut(n * sh_stride);
        let (n0, n1) = match self.normals {
            Some(v) => {
                let (a, b) = v.split_at_mut(n);
                (Some(a), Some(b))
            }
            None => (None, None),
        };
        let (e0, e1): (Vec<_>, Vec<_>) = self.extras.into_iter().map(|e| e.split_at_mut(n)).unzip();
        (
            RowsMut { pos: p0, rot: r0, scale: s0, opacity: o0, sh: h0, normals: n0, extras: e0 },
            RowsMut { pos: p1, rot: r1, scale: s1, opacity: o1, sh: h1, normals: n1, extras: e1 },
        )
    }

    #[inline(always)]
    fn store(&mut self, r: usize, row: &CanonRow, stride: usize) {
        self.pos[r].copy_from_slice(&row[0..3]);
        if let Some(n) = self.normals.as_deref_mut() {
            n[r].copy_from_slice(&row[3..6]);
        }
        self.sh[r * stride..(r + 1) * stride].copy_from_slice(&row[6..6 + stride]);
        self.opacity[r] = row[6 + stride];
        self.scale[r].copy_from_slice(&row[7 + stride..10 + stride]);
        self.rot[r].copy_from_slice(&row[10 + stride..14 + stride]);
    }
}

#[inline(always)]
fn load_canon(cloud: &GaussianCloud, i: usize, row: &mut CanonRow, stride: usize) {
    row[0..3].copy_from_slice(&cloud.positions[i]);
    if let Some(n) = &cloud.normals {
        row[3..6].copy_from_slice(&n[i]);
    }
    row[6..6 + stride].copy_from_slice(&cloud.sh[i * stride..(i + 1) * stride]);
    row[6 + stride] = cloud.opacities[i];
    row[7 + stride..10 + stride].copy_from_slice(&cloud.log_scales[i]);
    row[10 + stride..14 + stride].copy_from_slice(&cloud.rotations[i]);
}

fn empty_cloud(plan: &Plan, n: usize) -> GaussianCloud {
    let mut cloud = GaussianCloud::with_len(n, plan.sh_degree);
    cloud.normals = plan.has_normals.then(|| vec![[0.0; 3]; n]);
    cloud.extras = plan
        .extras
        .iter()
        .map(|(name, kind)| ExtraColumn { name: name.clone(), kind: *kind, values: vec![0.0; n] })
        .collect();
    cloud
}

fn rows_of(cloud: &mut GaussianCloud) -> RowsMut<'_> {
    RowsMut {
        pos: &mut cloud.positions,
        rot: &mut cloud.rotations,
        scale: &mut cloud.log_scales,
        opacity: &mut cloud.opacities,
        sh: &mut cloud.sh,
        normals: cloud.normals.as_deref_mut(),
        extras: cloud.extras.iter_mut().map(|e| e.values.as_mut_slice()).collect(),
    }
}

const ROWS_PER_TASK: usize = 8192;

/// Splits the cloud's columns into tasks of `ROWS_PER_TASK` rows: `(first row, rows, views)`.
fn row_tasks(cloud: &mut GaussianCloud) -> Vec<(usize, usize, RowsMut<'_>)> {
    let n = cloud.len();
    let stride = cloud.coeffs_per_channel() * 3;
    let mut tasks = Vec::with_capacity(n.div_ceil(ROWS_PER_TASK));
    let mut rest = rows_of(cloud);
    let mut start = 0;
    while start < n {
        let len = ROWS_PER_TASK.min(n - start);
        let (head, tail) = rest.split_at(len, stride);
        tasks.push((start, len, head));
        rest = tail;
        start += len;
    }
    tasks
}

/// Rows are decoded in stretches of about this many bytes, each handed to `release` once done.
const STRETCH_BYTES: usize = 64 << 20;

fn decode_binary_vertices(
    plan: &Plan,
    data: &[u8],
    n: usize,
    big_endian: bool,
    stretch_bytes: usize,
    release: &dyn Fn(usize, usize),
) -> GaussianCloud {
    let mut cloud = empty_cloud(plan, n);
    let stride = cloud.coeffs_per_channel() * 3;
    let standard: Vec<(usize, ScalarKind, usize)> =
        plan.columns.iter().filter_map(|c| canon_index(c.slot, stride).map(|i| (c.offset, c.kind, i))).collect();
    let extras: Vec<(usize, ScalarKind, usize)> = plan
        .columns
        .iter()
        .filter_map(|c| if let Slot::Extra(j) = c.slot { Some((c.offset, c.kind, j)) } else { None })
        .collect();
    let f32_le = !big_endian && standard.iter().all(|c| c.1 == ScalarKind::Float);
    let row_size = plan.row_size;
    let tasks_per_stretch = (stretch_bytes / (row_size.max(1) * ROWS_PER_TASK)).max(1);
    let mut tasks = row_tasks(&mut cloud).into_iter().peekable();
    while tasks.peek().is_some() {
        let stretch: Vec<_> = tasks.by_ref().take(tasks_per_stretch).collect();
        let first = stretch[0].0 * row_size;
        let end = stretch.last().map_or(first, |t| (t.0 + t.1) * row_size);
        decode_rows(stretch, data, row_size, stride, &standard, &extras, f32_le, big_endian);
        release(first, end - first);
    }
    cloud
}

#[allow(clippy::too_many_arguments)]
fn decode_rows(
    tasks: Vec<(usize, usize, RowsMut<'_>)>,
    data: &[u8],
    row_size: usize,
    stride: usize,
    standard: &[(usize, ScalarKind, usize)],
    extras: &[(usize, ScalarKind, usize)],
    f32_le: bool,
    big_endian: bool,
) {
    tasks.into_par_iter().for_each(|(start, len, mut rows)| {
        let bytes = &data[start * row_size..(start + len) * row_size];
        let mut canon: CanonRow = [0.0; CANON_MAX];
        for (r, row) in bytes.chunks_exact(row_size).enumerate() {
            if f32_le {
                for &(off, _, i) in standard {
                    canon[i] = f32::from_le_bytes(row[off..off + 4].try_into().unwrap());
                }
            } else {
                for &(off, kind, i) in standard {
                    canon[i] = read_scalar(kind, &row[off..], big_endian) as f32;
                }
            }
            rows.store(r, &canon, stride);
            for &(off, kind, j) in extras {
                rows.extras[j][r] = read_scalar(kind, &row[off..], big_endian);
            }
        }
    });
}

/// One ASCII row as the numbers it holds, in header order (lists are skipped).
struct AsciiRow(Vec<f64>);

impl PropertyAccess for AsciiRow {
    fn new() -> Self {
        AsciiRow(Vec::new())
    }

    fn set_property(&mut self, _name: &str, p: Property) -> PropertyAccessResult {
        let v = match p {
            Property::Char(v) => v as f64,
            Property::UChar(v) => v as f64,
            Property::Short(v) => v as f64,
            Property::UShort(v) => v as f64,
            Property::Int(v) => v as f64,
            Property::UInt(v) => v as f64,
            Property::Float(v) => v as f64,
            Property::Double(v) => v,
            _ => return PropertyAccessResult::Ignored,
        };
        self.0.push(v);
        PropertyAccessResult::Set
    }
}

fn decode_ascii(header: &Header, body: &[u8], vertex_name: &str, plan: &Plan) -> Result<GaussianCloud> {
    let text = std::str::from_utf8(body).map_err(|_| FormatError::AsciiBody("body is not valid text".into()))?;
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let parser = Parser::<AsciiRow>::new();
    let mut decoded = None;
    for (name, element) in &header.elements {
        // A row of P values needs at least 2P bytes ("0 " each): check before allocating.
        let min_row = 2 * element.properties.len().max(1);
        if (element.count as u128) * min_row as u128 > body.len() as u128 {
            return Err(FormatError::AbsurdCount {
                element: name.clone(),
                count: element.count as u64,
                available: body.len() as u64,
            });
        }
        if name != vertex_name {
            for _ in 0..element.count {
                lines.next().ok_or_else(|| FormatError::AsciiBody(format!("too few rows for element `{name}`")))?;
            }
            continue;
        }
        let mut cloud = empty_cloud(plan, element.count);
        let stride = cloud.coeffs_per_channel() * 3;
        let mut rows = rows_of(&mut cloud);
        let mut canon: CanonRow = [0.0; CANON_MAX];
        for r in 0..element.count {
            let (line_no, line) = lines
                .next()
                .ok_or_else(|| FormatError::AsciiBody(format!("expected {} vertex rows, found {r}", element.count)))?;
            let row = parser
                .read_ascii_element(line, element)
                .map_err(|e| FormatError::AsciiBody(format!("body line {}: {}", line_no + 1, e.to_string().trim())))?;
            if row.0.len() != plan.columns.len() {
                return Err(FormatError::AsciiBody(format!("body line {}: wrong number of values", line_no + 1)));
            }
            for (col, v) in plan.columns.iter().zip(row.0) {
                match canon_index(col.slot, stride) {
                    Some(i) => canon[i] = v as f32,
                    None => {
                        if let Slot::Extra(j) = col.slot {
                            rows.extras[j][r] = v;
                        }
                    }
                }
            }
            rows.store(r, &canon, stride);
        }
        decoded = Some(cloud);
    }
    if let Some((line_no, _)) = lines.next() {
        let (name, count) = header.elements.iter().last().map(|(n, e)| (n.as_str(), e.count)).unwrap_or(("", 0));
        return Err(FormatError::AsciiBody(format!(
            "body line {}: a row beyond the {count} the header declares for `{name}` (the header's counts do not match the body)",
            line_no + 1
        )));
    }
    Ok(decoded.expect("vertex element was found in the header"))
}

/// Decodes a standard 3DGS PLY file held in memory.
pub fn decode(bytes: &[u8]) -> Result<(GaussianCloud, PlyEncoding)> {
    decode_releasing(bytes, &|_, _| {})
}

/// [`decode`], handing each stretch of `bytes` (offset, length) to `release` once its rows are
/// decoded: a memory-mapped file's pages can then leave memory while the rest decodes.
pub fn decode_releasing(bytes: &[u8], release: &dyn Fn(usize, usize)) -> Result<(GaussianCloud, PlyEncoding)> {
    decode_stretched(bytes, STRETCH_BYTES, release)
}

fn decode_stretched(
    bytes: &[u8],
    stretch_bytes: usize,
    release: &dyn Fn(usize, usize),
) -> Result<(GaussianCloud, PlyEncoding)> {
    let parsed = parse_header(bytes)?;
    let header = &parsed.header;
    let vertex_name = "vertex";
    let vertex =
        header.elements.get(vertex_name).ok_or_else(|| FormatError::BadHeader("no `vertex` element".into()))?;
    if header.elements.contains_key("chunk") && vertex.properties.contains_key("packed_position") {
        return Err(FormatError::Unsupported("this is a SuperSplat compressed PLY: name it *.compressed.ply".into()));
    }
    let plan = plan_vertex(vertex)?;
    let body = &bytes[parsed.body_offset..];
    let Some(big_endian) = is_binary(header) else {
        return Ok((decode_ascii(header, body, vertex_name, &plan)?, PlyEncoding::Ascii));
    };
    let mut off = 0usize;
    let mut decoded = None;
    let mut last = None;
    for (name, element) in &header.elements {
        let props: Vec<&PropertyType> = element.properties.values().map(|p| &p.data_type).collect();
        last = Some((name.as_str(), element.count, fixed_row_size(&props)));
        if name == vertex_name {
            debug_assert_eq!(fixed_row_size(&props), Some(plan.row_size));
            let available = (body.len() - off) as u64;
            let need = element.count as u128 * plan.row_size as u128;
            if need > available as u128 {
                if element.count as u64 > available {
                    return Err(FormatError::AbsurdCount {
                        element: name.clone(),
                        count: element.count as u64,
                        available,
                    });
                }
                return Err(FormatError::Truncated { expected: need as u64, actual: available });
            }
            let base = parsed.body_offset + off;
            let release = |at: usize, len: usize| release(base + at, len);
            let vertices = &body[off..];
            decoded = Some(decode_binary_vertices(&plan, vertices, element.count, big_endian, stretch_bytes, &release));
            off += need as usize;
            continue;
        }
        off += skip_binary_element(&body[off..], name, element.count, &props, big_endian)?;
    }
    if off < body.len() {
        return Err(trailing_data(body.len() - off, last));
    }
    let cloud = decoded.expect("vertex element was found in the header");
    let enc = if big_endian { PlyEncoding::BinaryBigEndian } else { PlyEncoding::BinaryLittleEndian };
    Ok((cloud, enc))
}

fn ply_encoding(e: PlyEncoding) -> Encoding {
    match e {
        PlyEncoding::Ascii => Encoding::Ascii,
        PlyEncoding::BinaryLittleEndian => Encoding::BinaryLittleEndian,
        PlyEncoding::BinaryBigEndian => Encoding::BinaryBigEndian,
    }
}

/// The columns written, in the order of the reference 3DGS exporter, extras last.
fn output_columns(cloud: &GaussianCloud) -> Vec<(String, ScalarKind, Slot)> {
    let f = ScalarKind::Float;
    let mut cols: Vec<(String, ScalarKind, Slot)> =
        ["x", "y", "z"].iter().enumerate().map(|(i, n)| (n.to_string(), f, Slot::Pos(i))).collect();
    if cloud.normals.is_some() {
        cols.extend(["nx", "ny", "nz"].iter().enumerate().map(|(i, n)| (n.to_string(), f, Slot::Normal(i))));
    }
    cols.extend((0..3).map(|c| (format!("f_dc_{c}"), f, Slot::Dc(c))));
    let per_channel = cloud.coeffs_per_channel() - 1;
    for i in 0..3 * per_channel {
        let (channel, k) = (i / per_channel, 1 + i % per_channel);
        cols.push((format!("f_rest_{i}"), f, Slot::Rest(k * 3 + channel)));
    }
    cols.push(("opacity".into(), f, Slot::Opacity));
    cols.extend((0..3).map(|c| (format!("scale_{c}"), f, Slot::Scale(c))));
    cols.extend((0..4).map(|c| (format!("rot_{c}"), f, Slot::Rot(c))));
    for (j, e) in cloud.extras.iter().enumerate() {
        cols.push((e.name.clone(), e.kind, Slot::Extra(j)));
    }
    cols
}

fn write_scalar(kind: ScalarKind, v: f64, big_endian: bool, out: &mut Vec<u8>) {
    macro_rules! wr {
        ($t:ty) => {{
            let x = v as $t;
            out.extend_from_slice(&if big_endian { x.to_be_bytes() } else { x.to_le_bytes() });
        }};
    }
    match kind {
        ScalarKind::Char => wr!(i8),
        ScalarKind::UChar => wr!(u8),
        ScalarKind::Short => wr!(i16),
        ScalarKind::UShort => wr!(u16),
        ScalarKind::Int => wr!(i32),
        ScalarKind::UInt => wr!(u32),
        ScalarKind::Float => wr!(f32),
        ScalarKind::Double => wr!(f64),
    }
}

/// Encodes a cloud as a standard 3DGS PLY in memory.
pub fn encode(cloud: &GaussianCloud, encoding: PlyEncoding) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    write(cloud, encoding, &mut out)?;
    Ok(out)
}

/// Writes a cloud as a standard 3DGS PLY. Rows are encoded in parallel into a few reused
/// buffers and streamed out in order, so no file-sized buffer is ever allocated.
pub fn write(cloud: &GaussianCloud, encoding: PlyEncoding, out: &mut dyn std::io::Write) -> Result<()> {
    let cols = output_columns(cloud);
    let mut header = Header::new();
    header.encoding = ply_encoding(encoding);
    header.comments.push(format!("Generated by splatstitch {}", env!("CARGO_PKG_VERSION")));
    let mut vertex = ElementDef::new("vertex".into());
    vertex.count = cloud.len();
    for (name, kind, _) in &cols {
        vertex.properties.add(PropertyDef::new(name.clone(), PropertyType::Scalar(scalar_type(*kind))));
    }
    header.elements.add(vertex);
    let mut head = Vec::new();
    Writer::<AsciiRow>::new().write_header(&mut head, &header).map_err(|e| FormatError::CannotWrite(e.to_string()))?;
    out.write_all(&head)?;
    let stride = cloud.coeffs_per_channel() * 3;
    let columns: Vec<OutColumn> = cols
        .iter()
        .map(|(_, kind, slot)| OutColumn { kind: *kind, canon: canon_index(*slot, stride), slot: *slot })
        .collect();
    let n = cloud.len();
    let tasks = n.div_ceil(ROWS_PER_TASK);
    let window = rayon::current_num_threads().max(1) * 2;
    let mut buffers: Vec<Vec<u8>> = vec![Vec::new(); window];
    for first in (0..tasks).step_by(window) {
        let count = window.min(tasks - first);
        buffers[..count].par_iter_mut().enumerate().for_each(|(k, buf)| {
            let t = first + k;
            buf.clear();
            encode_rows(cloud, &columns, encoding, t * ROWS_PER_TASK..((t + 1) * ROWS_PER_TASK).min(n), buf);
        });
        for buf in &buffers[..count] {
            out.write_all(buf)?;
        }
    }
    Ok(())
}

struct OutColumn {
    kind: ScalarKind,
    canon: Option<usize>,
    slot: Slot,
}

fn encode_rows(
    cloud: &GaussianCloud,
    columns: &[OutColumn],
    encoding: PlyEncoding,
    rows: std::ops::Range<usize>,
    buf: &mut Vec<u8>,
) {
    use std::io::Write;
    let stride = cloud.coeffs_per_channel() * 3;
    let value = |canon: &CanonRow, i: usize, col: &OutColumn| -> f64 {
        match (col.canon, col.slot) {
            (Some(c), _) => canon[c] as f64,
            (None, Slot::Extra(j)) => cloud.extras[j].values[i],
            _ => unreachable!("only extras lack a canonical index"),
        }
    };
    let be = encoding == PlyEncoding::BinaryBigEndian;
    let f32_le = encoding == PlyEncoding::BinaryLittleEndian
        && columns.iter().all(|c| c.kind == ScalarKind::Float && c.canon.is_some());
    let mut canon: CanonRow = [0.0; CANON_MAX];
    for i in rows {
        load_canon(cloud, i, &mut canon, stride);
        match encoding {
            PlyEncoding::Ascii => {
                for (j, col) in columns.iter().enumerate() {
                    let v = value(&canon, i, col);
                    let sep = if j + 1 == columns.len() { "\n" } else { " " };
                    // Display of f32/f64 is the shortest text that parses back exactly.
                    let _ = match col.kind {
                        ScalarKind::Float => write!(buf, "{}{sep}", v as f32),
                        ScalarKind::Double => write!(buf, "{v}{sep}"),
                        _ => write!(buf, "{}{sep}", v as i64),
                    };
                }
            }
            _ if f32_le => {
                for col in columns {
                    buf.extend_from_slice(&canon[col.canon.unwrap()].to_le_bytes());
                }
            }
            _ => {
                for col in columns {
                    write_scalar(col.kind, value(&canon, i, col), be, buf);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-written PLY with mixed scalar types, an unusual property order, an extra element
    /// before `vertex` (with a list) and extra properties of several types.
    fn mixed_file(encoding: &str) -> Vec<u8> {
        let header = format!(
            "ply\nformat {encoding} 1.0\ncomment hand made\nelement camera 1\nproperty list uchar int ids\n\
             element vertex 2\nproperty uchar label\nproperty double z\nproperty float rot_1\nproperty float rot_0\n\
             property float rot_2\nproperty float rot_3\nproperty double x\nproperty double y\nproperty float f_dc_2\n\
             property float f_dc_1\nproperty float f_dc_0\nproperty short opacity\nproperty float scale_0\n\
             property float scale_1\nproperty float scale_2\nproperty int id\nend_header\n"
        );
        let mut out = header.into_bytes();
        // (label, z, rot_1 rot_0 rot_2 rot_3, x y, f_dc_2 f_dc_1 f_dc_0, opacity, scales, id)
        type Row = (u8, f64, [f32; 4], [f64; 2], [f32; 3], i16, [f32; 3], i32);
        let rows: [Row; 2] = [
            (7, 3.0, [0.0, 1.0, 0.0, 0.0], [1.0, 2.0], [0.3, 0.2, 0.1], -2, [-1.0, -2.0, -3.0], -70000),
            (255, -0.5, [0.5, 0.5, 0.5, 0.5], [1e-3, 1e6], [-1.0, 0.0, 1.0], 5, [0.0, 0.5, 1.0], 123456),
        ];
        if encoding == "ascii" {
            out.extend_from_slice(b"2 10 20\n");
            for r in rows {
                let line = format!(
                    "{} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {}\n",
                    r.0,
                    r.1,
                    r.2[0],
                    r.2[1],
                    r.2[2],
                    r.2[3],
                    r.3[0],
                    r.3[1],
                    r.4[0],
                    r.4[1],
                    r.4[2],
                    r.5,
                    r.6[0],
                    r.6[1],
                    r.6[2],
                    r.7
                );
                out.extend_from_slice(line.as_bytes());
            }
            return out;
        }
        let be = encoding == "binary_big_endian";
        macro_rules! put {
            ($v:expr) => {
                out.extend_from_slice(&if be { $v.to_be_bytes() } else { $v.to_le_bytes() })
            };
        }
        out.push(2);
        put!(10i32);
        put!(20i32);
        for r in rows {
            out.push(r.0);
            put!(r.1);
            for v in r.2 {
                put!(v);
            }
            for v in r.3 {
                put!(v);
            }
            for v in r.4 {
                put!(v);
            }
            put!(r.5);
            for v in r.6 {
                put!(v);
            }
            put!(r.7);
        }
        out
    }

    #[test]
    fn mixed_types_any_order_every_encoding() {
        for enc in ["binary_little_endian", "binary_big_endian", "ascii"] {
            let (c, _) = decode(&mixed_file(enc)).unwrap_or_else(|e| panic!("{enc}: {e}"));
            assert_eq!(c.len(), 2);
            assert_eq!(c.positions, vec![[1.0, 2.0, 3.0], [1e-3, 1e6, -0.5]], "{enc}");
            assert_eq!(c.rotations[0], [1.0, 0.0, 0.0, 0.0]);
            assert_eq!(&c.sh[0..3], &[0.1, 0.2, 0.3]);
            assert_eq!(c.opacities, vec![-2.0, 5.0]);
            assert_eq!(c.log_scales[1], [0.0, 0.5, 1.0]);
            assert_eq!(c.extras.len(), 2);
            assert_eq!((c.extras[0].name.as_str(), c.extras[0].kind), ("label", ScalarKind::UChar));
            assert_eq!(c.extras[0].values, vec![7.0, 255.0]);
            assert_eq!((c.extras[1].name.as_str(), c.extras[1].kind), ("id", ScalarKind::Int));
            assert_eq!(c.extras[1].values, vec![-70000.0, 123456.0]);
            // Extras keep their type through a round trip in every encoding.
            for out_enc in [PlyEncoding::BinaryLittleEndian, PlyEncoding::BinaryBigEndian, PlyEncoding::Ascii] {
                let (back, _) = decode(&encode(&c, out_enc).unwrap()).unwrap();
                assert_eq!(back, c, "{enc} → {out_enc:?}");
            }
        }
    }

    #[test]
    fn stretches_decode_as_one_and_release_every_vertex_byte_once_in_order() {
        let c = crate::formats::test_cloud(3 * ROWS_PER_TASK + 17, 1);
        let bytes = encode(&c, PlyEncoding::BinaryLittleEndian).unwrap();
        let released = std::sync::Mutex::new(Vec::new());
        let (stretched, _) = decode_stretched(&bytes, 1, &|at, len| released.lock().unwrap().push((at, len))).unwrap();
        assert_eq!(stretched, decode(&bytes).unwrap().0);
        let released = released.into_inner().unwrap();
        assert_eq!(released.len(), 4, "one stretch per task of rows: {released:?}");
        let body = bytes.len() - released.iter().map(|r| r.1).sum::<usize>();
        assert!(bytes[..body].ends_with(b"end_header\n"), "the rows are all that is released");
        let mut next = body;
        for (at, len) in released {
            assert_eq!(at, next, "in order, each once");
            next += len;
        }
        assert_eq!(next, bytes.len());
    }
}
