//! glTF 2.0 with the Khronos `KHR_gaussian_splatting` extension: Gaussians as a point
//! primitive whose attributes are `POSITION`, `KHR_gaussian_splatting:ROTATION` (x y z w),
//! `:SCALE` (linear), `:OPACITY` (linear) and `:SH_DEGREE_l_COEF_c` (one RGB vector per
//! coefficient, DC included), with `COLOR_0` beside them for viewers without the extension.
//! `.glb` holds the JSON and the buffer in one file; `.gltf` is the JSON, its buffer in a `.bin`
//! beside it (or inline as a `data:` URI). glTF is +Y up: reading and writing turn the cloud
//! 180° about z, as splat-transform does.

use super::{flip_z, flip_z_inverse};
use crate::cloud::{GaussianCloud, logit, sigmoid};
use crate::error::{FormatError, Result};
use crate::sh;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const GLB_MAGIC: u32 = 0x4654_6c67; // "glTF"
const JSON_CHUNK: u32 = 0x4e4f_534a;
const BIN_CHUNK: u32 = 0x004e_4942;
const EXTENSION: &str = "KHR_gaussian_splatting";
const SH_C0: f32 = 0.282_094_8;
const FLOAT: u32 = 5126;
const POINTS: u32 = 0;

fn invalid(reason: impl Into<String>) -> FormatError {
    FormatError::Invalid { format: "glTF", reason: reason.into() }
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Document {
    asset: Asset,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    extensions_used: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scene: Option<usize>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    scenes: Vec<Scene>,
    #[serde(default)]
    nodes: Vec<Node>,
    #[serde(default)]
    meshes: Vec<Mesh>,
    #[serde(default)]
    accessors: Vec<Accessor>,
    #[serde(default)]
    buffer_views: Vec<BufferView>,
    #[serde(default)]
    buffers: Vec<Buffer>,
}

#[derive(Serialize, Deserialize, Default)]
struct Asset {
    version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    generator: Option<String>,
}

#[derive(Serialize, Deserialize, Default)]
struct Scene {
    #[serde(default)]
    nodes: Vec<usize>,
}

#[derive(Serialize, Deserialize, Default)]
struct Node {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mesh: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    matrix: Option<[f32; 16]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    translation: Option<[f32; 3]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rotation: Option<[f32; 4]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scale: Option<[f32; 3]>,
}

#[derive(Serialize, Deserialize, Default)]
struct Mesh {
    primitives: Vec<Primitive>,
}

#[derive(Serialize, Deserialize, Default)]
struct Primitive {
    attributes: BTreeMap<String, usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mode: Option<u32>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    extensions: BTreeMap<String, serde_json::Value>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Accessor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    buffer_view: Option<usize>,
    #[serde(default)]
    byte_offset: u64,
    component_type: u32,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    normalized: bool,
    count: u64,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min: Option<Vec<f32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max: Option<Vec<f32>>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct BufferView {
    buffer: usize,
    #[serde(default)]
    byte_offset: u64,
    byte_length: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    byte_stride: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target: Option<u32>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Buffer {
    byte_length: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    uri: Option<String>,
}

/// Where a `.gltf`'s external buffers come from (the folder beside it, when there is one).
pub type ResolveUri<'a> = super::Resolve<'a>;

/// Reads a `.glb` (the `glTF` magic number) or a `.gltf` (JSON) file's bytes; `resolve` loads
/// a buffer a `.gltf` names by relative URI.
pub fn decode(bytes: &[u8], resolve: Option<ResolveUri>) -> Result<GaussianCloud> {
    if bytes.len() >= 4 && u32::from_le_bytes(bytes[..4].try_into().unwrap()) == GLB_MAGIC {
        let (json, bin) = split_glb(bytes)?;
        decode_json(json, Some(bin), resolve)
    } else {
        decode_json(bytes, None, resolve)
    }
}

/// The JSON chunk and the binary chunk (empty when absent) of a `.glb`.
fn split_glb(bytes: &[u8]) -> Result<(&[u8], &[u8])> {
    let word = |i: usize| -> Result<u32> {
        bytes
            .get(i..i + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
            .ok_or_else(|| invalid("GLB ends inside a chunk header"))
    };
    if word(4)? != 2 {
        return Err(invalid(format!("GLB container version {} (2 is read)", word(4)?)));
    }
    let mut offset = 12usize;
    let (mut json, mut bin) = (None, None);
    while offset + 8 <= bytes.len() {
        let length = word(offset)? as usize;
        let kind = word(offset + 4)?;
        let data = bytes
            .get(offset + 8..offset + 8 + length)
            .ok_or(FormatError::Truncated { expected: (offset + 8 + length) as u64, actual: bytes.len() as u64 })?;
        match kind {
            JSON_CHUNK if json.is_none() => json = Some(data),
            BIN_CHUNK if bin.is_none() => bin = Some(data),
            _ => {}
        }
        offset += 8 + length.div_ceil(4) * 4;
    }
    Ok((json.ok_or_else(|| invalid("GLB has no JSON chunk"))?, bin.unwrap_or(&[])))
}

fn decode_json(json: &[u8], glb_bin: Option<&[u8]>, resolve: Option<ResolveUri>) -> Result<GaussianCloud> {
    let doc: Document = serde_json::from_slice(json).map_err(|e| invalid(format!("JSON: {e}")))?;
    if !doc.asset.version.starts_with("2.") {
        return Err(invalid(format!("glTF version {} (2.x is read)", doc.asset.version)));
    }
    let mut buffers = Vec::with_capacity(doc.buffers.len());
    for (i, b) in doc.buffers.iter().enumerate() {
        let data: std::borrow::Cow<[u8]> = match (&b.uri, glb_bin) {
            (None, Some(bin)) if i == 0 => bin.into(),
            (None, _) => return Err(invalid(format!("buffer {i} has no URI and there is no GLB binary chunk"))),
            (Some(uri), _) => load_uri(uri, resolve)?.into(),
        };
        if (data.len() as u64) < b.byte_length {
            return Err(FormatError::Truncated { expected: b.byte_length, actual: data.len() as u64 });
        }
        buffers.push(data);
    }
    let primitives: Vec<(&Primitive, Option<&Node>)> = splat_primitives(&doc);
    if primitives.is_empty() {
        return Err(invalid(format!("no point primitive with the {EXTENSION} extension")));
    }
    let mut parts = Vec::with_capacity(primitives.len());
    for (p, node) in primitives {
        let mut part = read_primitive(&doc, &buffers, p)?;
        if let Some(node) = node {
            let placed = node_transform(node)?;
            if !placed.is_identity() {
                placed.bake(&mut part);
            }
        }
        parts.push(part);
    }
    // Primitives of different SH degrees meet at the lowest.
    let degree = parts.iter().map(|p| p.sh_degree).min().unwrap_or(0);
    let mut cloud = GaussianCloud::new(degree);
    for mut part in parts {
        part.truncate_sh_degree(degree);
        cloud.append(&part);
    }
    flip_z_inverse(&mut cloud);
    Ok(cloud)
}

fn load_uri(uri: &str, resolve: Option<ResolveUri>) -> Result<Vec<u8>> {
    if let Some(rest) = uri.strip_prefix("data:") {
        let (_, data) = rest.split_once(";base64,").ok_or_else(|| invalid("a data: URI that is not base64"))?;
        return base64::engine::general_purpose::STANDARD.decode(data).map_err(|e| invalid(format!("data: URI: {e}")));
    }
    let resolve =
        resolve.ok_or_else(|| invalid(format!("buffer `{uri}` lies beside the file; open the file itself")))?;
    resolve(uri)
}

/// The splat primitives and the node that places each (none for meshes no node uses).
fn splat_primitives(doc: &Document) -> Vec<(&Primitive, Option<&Node>)> {
    let is_splat = |p: &Primitive| p.extensions.contains_key(EXTENSION) && p.mode.unwrap_or(4) == POINTS;
    let mut out = Vec::new();
    let mut placed = vec![false; doc.meshes.len()];
    for node in &doc.nodes {
        if let Some(m) = node.mesh.and_then(|m| doc.meshes.get(m).map(|mesh| (m, mesh))) {
            placed[m.0] = true;
            out.extend(m.1.primitives.iter().filter(|p| is_splat(p)).map(|p| (p, Some(node))));
        }
    }
    for (mesh, _) in doc.meshes.iter().zip(&placed).filter(|(_, placed)| !**placed) {
        out.extend(mesh.primitives.iter().filter(|p| is_splat(p)).map(|p| (p, None)));
    }
    out
}

fn node_transform(node: &Node) -> Result<crate::transform::Similarity> {
    use glam::{Mat4, Quat, Vec3};
    let (scale, rotation, translation) = match node.matrix {
        Some(m) => Mat4::from_cols_array(&m).to_scale_rotation_translation(),
        None => (
            Vec3::from(node.scale.unwrap_or([1.0; 3])),
            Quat::from_array(node.rotation.unwrap_or([0.0, 0.0, 0.0, 1.0])).normalize(),
            Vec3::from(node.translation.unwrap_or([0.0; 3])),
        ),
    };
    if (scale.max_element() - scale.min_element()).abs() > 1e-4 * scale.max_element().abs() || scale.x <= 0.0 {
        return Err(invalid(format!(
            "a node scales the splats unevenly ({scale}); only uniform scales keep Gaussians"
        )));
    }
    Ok(crate::transform::Similarity { scale: scale.x, rotation, translation })
}

/// One primitive's Gaussians, in glTF axes.
fn read_primitive(doc: &Document, buffers: &[std::borrow::Cow<[u8]>], p: &Primitive) -> Result<GaussianCloud> {
    let attribute = |name: &str| -> Result<Option<Vec<f32>>> {
        let key = format!("{EXTENSION}:{name}");
        match p.attributes.get(&key).or_else(|| p.attributes.get(name)) {
            Some(&a) => read_accessor(doc, buffers, a, &key).map(Some),
            None => Ok(None),
        }
    };
    let positions = attribute("POSITION")?.ok_or_else(|| invalid("the primitive has no POSITION"))?;
    let n = positions.len() / 3;
    let check = |name: &str, v: Option<&[f32]>, width: usize| -> Result<()> {
        match v {
            Some(v) if v.len() != n * width => {
                Err(invalid(format!("{name} has {} values, {n} Gaussians need {}", v.len(), n * width)))
            }
            _ => Ok(()),
        }
    };
    let rotations = attribute("ROTATION")?;
    let scales = attribute("SCALE")?.ok_or_else(|| invalid(format!("the primitive has no {EXTENSION}:SCALE")))?;
    let opacity = attribute("OPACITY")?;
    let colour = attribute("COLOR_0")?;
    check("ROTATION", rotations.as_deref(), 4)?;
    check("SCALE", Some(&scales), 3)?;
    check("OPACITY", opacity.as_deref(), 1)?;
    let colour_width = colour.as_ref().map_or(4, |c| if n > 0 && c.len() == n * 3 { 3 } else { 4 });
    check("COLOR_0", colour.as_deref(), colour_width)?;
    let mut coefficients: Vec<Vec<f32>> = Vec::new();
    'bands: for degree in 0..=3u32 {
        let mut band = Vec::new();
        for c in 0..2 * degree + 1 {
            match attribute(&format!("SH_DEGREE_{degree}_COEF_{c}"))? {
                Some(v) => {
                    check(&format!("SH_DEGREE_{degree}_COEF_{c}"), Some(&v), 3)?;
                    band.push(v);
                }
                None if c == 0 => break 'bands,
                None => return Err(invalid(format!("SH degree {degree} lacks coefficient {c}"))),
            }
        }
        coefficients.extend(band);
    }
    let degree = match coefficients.len() {
        0 | 1 => 0,
        4 => 1,
        9 => 2,
        _ => 3,
    };
    let mut cloud = GaussianCloud::with_len(n, degree);
    let k = sh::coeff_count(degree);
    for i in 0..n {
        cloud.positions[i] = [positions[3 * i], positions[3 * i + 1], positions[3 * i + 2]];
        cloud.log_scales[i] = std::array::from_fn(|a| scales[3 * i + a].ln());
        cloud.rotations[i] = match &rotations {
            Some(r) => [r[4 * i + 3], r[4 * i], r[4 * i + 1], r[4 * i + 2]],
            None => [1.0, 0.0, 0.0, 0.0],
        };
        let alpha = match (&opacity, &colour) {
            (Some(o), _) => o[i],
            (None, Some(c)) if colour_width == 4 => c[4 * i + 3],
            _ => 1.0,
        };
        cloud.opacities[i] = logit(alpha);
        for (j, coef) in coefficients.iter().enumerate().take(k) {
            for ch in 0..3 {
                cloud.sh[(i * k + j) * 3 + ch] = coef[3 * i + ch];
            }
        }
        if coefficients.is_empty()
            && let Some(c) = &colour
        {
            for ch in 0..3 {
                cloud.sh[i * k * 3 + ch] = (c[colour_width * i + ch] - 0.5) / SH_C0;
            }
        }
    }
    Ok(cloud)
}

/// An accessor's values as floats (normalized integers scaled as glTF says), checked against
/// its buffer before anything is allocated by its count.
fn read_accessor(doc: &Document, buffers: &[std::borrow::Cow<[u8]>], index: usize, name: &str) -> Result<Vec<f32>> {
    let a =
        doc.accessors.get(index).ok_or_else(|| invalid(format!("{name} names accessor {index}, which is missing")))?;
    let width = match a.kind.as_str() {
        "SCALAR" => 1,
        "VEC2" => 2,
        "VEC3" => 3,
        "VEC4" => 4,
        other => return Err(invalid(format!("{name} is of type {other}"))),
    };
    let size = match a.component_type {
        5120 | 5121 => 1,
        5122 | 5123 => 2,
        5125 | FLOAT => 4,
        other => return Err(invalid(format!("{name} has component type {other}"))),
    };
    // An accessor without a view is all zeros (or sparse): no splat attribute is stored so, and
    // trusting its count would allocate by it.
    let view =
        a.buffer_view.ok_or_else(|| invalid(format!("{name} has no buffer view (sparse accessors are not read)")))?;
    let v = doc
        .buffer_views
        .get(view)
        .ok_or_else(|| invalid(format!("{name} names buffer view {view}, which is missing")))?;
    let buffer = buffers
        .get(v.buffer)
        .ok_or_else(|| invalid(format!("buffer view {view} names buffer {}, which is missing", v.buffer)))?;
    let element = (width * size) as u64;
    let stride = v.byte_stride.unwrap_or(element);
    if stride < element {
        return Err(invalid(format!("{name}: byte stride {stride} is shorter than an element ({element} bytes)")));
    }
    let start = v.byte_offset.checked_add(a.byte_offset).ok_or_else(|| invalid(format!("{name}: offset overflows")))?;
    let span = if a.count == 0 { 0 } else { (a.count - 1).saturating_mul(stride).saturating_add(element) };
    let view_end = v.byte_offset.saturating_add(v.byte_length);
    if start.saturating_add(span) > view_end || view_end > buffer.len() as u64 {
        return Err(FormatError::AbsurdCount {
            element: format!("glTF accessor {name}"),
            count: a.count,
            available: buffer.len() as u64,
        });
    }
    let mut out = Vec::with_capacity(a.count as usize * width);
    for e in 0..a.count as usize {
        let base = start as usize + e * stride as usize;
        for c in 0..width {
            let b = &buffer[base + c * size..base + (c + 1) * size];
            let value = match (a.component_type, a.normalized) {
                (FLOAT, _) => f32::from_le_bytes(b.try_into().unwrap()),
                (5121, true) => b[0] as f32 / 255.0,
                (5120, true) => (b[0] as i8 as f32 / 127.0).max(-1.0),
                (5123, true) => u16::from_le_bytes(b.try_into().unwrap()) as f32 / 65535.0,
                (5122, true) => (i16::from_le_bytes(b.try_into().unwrap()) as f32 / 32767.0).max(-1.0),
                (5121, false) => b[0] as f32,
                (5120, false) => b[0] as i8 as f32,
                (5123, false) => u16::from_le_bytes(b.try_into().unwrap()) as f32,
                (5122, false) => i16::from_le_bytes(b.try_into().unwrap()) as f32,
                _ => u32::from_le_bytes(b.try_into().unwrap()) as f32,
            };
            out.push(value);
        }
    }
    Ok(out)
}

/// How the buffer of a written `.gltf` is stored.
pub enum BufferPlacement<'a> {
    /// In the GLB binary chunk.
    Glb,
    /// Inline, as a base64 `data:` URI.
    Inline,
    /// In a file beside the JSON, by this relative URI (the caller writes the bytes there).
    Beside(&'a str),
}

/// The JSON document and the binary buffer of `cloud`.
fn build(cloud: &GaussianCloud, placement: &BufferPlacement) -> Result<(Vec<u8>, Vec<u8>)> {
    let mut c = cloud.clone();
    flip_z(&mut c);
    let n = c.len();
    let k = c.coeffs_per_channel();
    let mut bin: Vec<u8> = Vec::new();
    let mut doc = Document {
        asset: Asset { version: "2.0".into(), generator: Some(format!("splatstitch {}", env!("CARGO_PKG_VERSION"))) },
        extensions_used: vec![EXTENSION.into()],
        scene: Some(0),
        scenes: vec![Scene { nodes: vec![0] }],
        nodes: vec![Node { mesh: Some(0), ..Default::default() }],
        ..Default::default()
    };
    let mut attributes = BTreeMap::new();
    // `bytes`: the values are in 0..=1 and stored as normalized unsigned bytes.
    let mut push = |doc: &mut Document, name: String, kind: &str, values: Vec<f32>, bounds: bool, bytes: bool| {
        let width = match kind {
            "SCALAR" => 1,
            "VEC3" => 3,
            _ => 4,
        };
        let (min, max) = if bounds {
            let mut lo = vec![f32::INFINITY; width];
            let mut hi = vec![f32::NEG_INFINITY; width];
            for (i, v) in values.iter().enumerate() {
                lo[i % width] = lo[i % width].min(*v);
                hi[i % width] = hi[i % width].max(*v);
            }
            (Some(lo), Some(hi))
        } else {
            (None, None)
        };
        let offset = bin.len() as u64;
        if bytes {
            bin.extend(values.iter().map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8));
            bin.resize(bin.len().div_ceil(4) * 4, 0);
        } else {
            bin.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        }
        doc.buffer_views.push(BufferView {
            buffer: 0,
            byte_offset: offset,
            byte_length: bin.len() as u64 - offset,
            target: Some(34962),
            ..Default::default()
        });
        doc.accessors.push(Accessor {
            buffer_view: Some(doc.buffer_views.len() - 1),
            component_type: if bytes { 5121 } else { FLOAT },
            normalized: bytes,
            count: n as u64,
            kind: kind.into(),
            min: min.filter(|_| n > 0),
            max: max.filter(|_| n > 0),
            ..Default::default()
        });
        attributes.insert(name, doc.accessors.len() - 1);
    };
    push(&mut doc, "POSITION".into(), "VEC3", c.positions.iter().flatten().copied().collect(), true, false);
    // Display colour and alpha for viewers without the extension (8 bits, as splat-transform).
    let colour = (0..n)
        .flat_map(|i| {
            let dc = &c.sh[i * k * 3..i * k * 3 + 3];
            let a = sigmoid(c.opacities[i]);
            [dc[0], dc[1], dc[2]].map(|v| (v * SH_C0 + 0.5).clamp(0.0, 1.0)).into_iter().chain([a])
        })
        .collect();
    push(&mut doc, "COLOR_0".into(), "VEC4", colour, false, true);
    let rotations = c
        .rotations
        .iter()
        .flat_map(|q| {
            let len = q.iter().map(|v| v * v).sum::<f32>().sqrt();
            let [w, x, y, z] = if len > 0.0 { q.map(|v| v / len) } else { [1.0, 0.0, 0.0, 0.0] };
            [x, y, z, w]
        })
        .collect();
    push(&mut doc, format!("{EXTENSION}:ROTATION"), "VEC4", rotations, false, false);
    let scales = c.log_scales.iter().flatten().map(|s| s.exp()).collect();
    push(&mut doc, format!("{EXTENSION}:SCALE"), "VEC3", scales, false, false);
    let opacities = c.opacities.iter().map(|o| sigmoid(*o)).collect();
    push(&mut doc, format!("{EXTENSION}:OPACITY"), "SCALAR", opacities, false, false);
    for j in 0..k {
        let degree = (j as f32).sqrt() as u32;
        let coef = j as u32 - degree * degree;
        let values = (0..n).flat_map(|i| c.sh[(i * k + j) * 3..(i * k + j) * 3 + 3].to_vec()).collect();
        push(&mut doc, format!("{EXTENSION}:SH_DEGREE_{degree}_COEF_{coef}"), "VEC3", values, false, false);
    }
    let extension = serde_json::json!({
        "kernel": "ellipse",
        "colorSpace": "srgb_rec709_display",
        "sortingMethod": "cameraDistance",
        "projection": "perspective",
    });
    doc.meshes.push(Mesh {
        primitives: vec![Primitive {
            attributes,
            mode: Some(POINTS),
            extensions: BTreeMap::from([(EXTENSION.to_string(), extension)]),
        }],
    });
    let uri = match placement {
        BufferPlacement::Glb => None,
        BufferPlacement::Inline => Some(format!(
            "data:application/octet-stream;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&bin)
        )),
        BufferPlacement::Beside(uri) => Some(uri.to_string()),
    };
    doc.buffers.push(Buffer { byte_length: bin.len() as u64, uri });
    let json = serde_json::to_vec(&doc).map_err(|e| FormatError::CannotWrite(format!("glTF JSON: {e}")))?;
    Ok((json, bin))
}

/// A `.glb`: header, JSON chunk (space-padded), binary chunk (zero-padded).
pub fn encode_glb(cloud: &GaussianCloud) -> Result<Vec<u8>> {
    let (mut json, mut bin) = build(cloud, &BufferPlacement::Glb)?;
    json.resize(json.len().div_ceil(4) * 4, b' ');
    bin.resize(bin.len().div_ceil(4) * 4, 0);
    let total = 12 + 8 + json.len() + 8 + bin.len();
    if total > u32::MAX as usize {
        return Err(FormatError::CannotWrite(format!("{total} bytes exceed GLB's 4 GiB limit; write .gltf")));
    }
    let mut out = Vec::with_capacity(total);
    for word in [GLB_MAGIC, 2, total as u32, json.len() as u32, JSON_CHUNK] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    out.extend_from_slice(&json);
    out.extend_from_slice(&(bin.len() as u32).to_le_bytes());
    out.extend_from_slice(&BIN_CHUNK.to_le_bytes());
    out.extend_from_slice(&bin);
    Ok(out)
}

/// A `.gltf`: the JSON, and the buffer (empty when inline) to write where `placement` says.
pub fn encode_gltf(cloud: &GaussianCloud, placement: &BufferPlacement) -> Result<(Vec<u8>, Vec<u8>)> {
    let (json, bin) = build(cloud, placement)?;
    Ok((json, if matches!(placement, BufferPlacement::Inline) { Vec::new() } else { bin }))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::formats::test_cloud as cloud;

    fn close(a: &GaussianCloud, b: &GaussianCloud) {
        assert_eq!((a.len(), a.sh_degree), (b.len(), b.sh_degree));
        let near = |x: f32, y: f32, tol: f32| (x - y).abs() <= tol * (1.0 + x.abs());
        for i in 0..a.len() {
            for c in 0..3 {
                assert!(near(a.positions[i][c], b.positions[i][c], 1e-6));
                assert!(near(a.log_scales[i][c], b.log_scales[i][c], 1e-5));
            }
            for c in 0..4 {
                assert!(near(a.rotations[i][c], b.rotations[i][c], 1e-6), "{:?} {:?}", a.rotations[i], b.rotations[i]);
            }
            assert!(near(a.opacities[i], b.opacities[i], 1e-4), "{} {}", a.opacities[i], b.opacities[i]);
        }
        assert_eq!(a.sh, b.sh, "SH are stored as they are");
    }

    #[test]
    fn glb_and_inline_gltf_round_trip_every_sh_degree() {
        for degree in 0..=3 {
            let c = cloud(50, degree);
            close(&c, &decode(&encode_glb(&c).unwrap(), None).unwrap());
            let (json, bin) = encode_gltf(&c, &BufferPlacement::Inline).unwrap();
            assert!(bin.is_empty());
            close(&c, &decode(&json, None).unwrap());
        }
    }

    #[test]
    fn the_layout_is_the_extensions() {
        let c = cloud(10, 2);
        let glb = encode_glb(&c).unwrap();
        let (json, _) = split_glb(&glb).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(json).unwrap();
        assert_eq!(doc["extensionsUsed"][0], EXTENSION);
        let prim = &doc["meshes"][0]["primitives"][0];
        assert_eq!(prim["mode"], 0);
        let attributes = prim["attributes"].as_object().unwrap();
        for name in ["ROTATION", "SCALE", "OPACITY", "SH_DEGREE_0_COEF_0", "SH_DEGREE_2_COEF_4"] {
            assert!(attributes.contains_key(&format!("{EXTENSION}:{name}")), "{name}");
        }
        assert!(!attributes.contains_key(&format!("{EXTENSION}:SH_DEGREE_3_COEF_0")));
        assert!(attributes.contains_key("POSITION") && attributes.contains_key("COLOR_0"));
        // +Y up: the position accessor holds (−x, −y, z) of ours, with its bounds.
        let position = &doc["accessors"][attributes["POSITION"].as_u64().unwrap() as usize];
        let xs: Vec<f32> = c.positions.iter().map(|p| -p[0]).collect();
        let lo = xs.iter().copied().fold(f32::INFINITY, f32::min);
        assert_eq!(position["min"][0].as_f64().unwrap() as f32, lo);
        assert_eq!(glb.len() % 4, 0);
    }

    #[test]
    fn a_gltf_reads_its_buffer_beside_it_and_says_when_it_cannot() {
        let c = cloud(20, 1);
        let (json, bin) = encode_gltf(&c, &BufferPlacement::Beside("c.bin")).unwrap();
        let resolve = |uri: &str| if uri == "c.bin" { Ok(bin.clone()) } else { Err(invalid("no such file")) };
        close(&c, &decode(&json, Some(&resolve)).unwrap());
        let err = decode(&json, None).unwrap_err().to_string();
        assert!(err.contains("beside"), "{err}");
        let short = |_: &str| Ok(bin[..bin.len() / 2].to_vec());
        let err = decode(&json, Some(&short)).unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");
    }

    #[test]
    fn bad_documents_get_errors_not_panics() {
        let c = cloud(8, 1);
        let glb = encode_glb(&c).unwrap();
        let (json, _) = encode_gltf(&c, &BufferPlacement::Inline).unwrap();
        let text = String::from_utf8(json).unwrap();
        for (bad, expected) in [
            (text.replace("\"mode\":0", "\"mode\":4"), "no point primitive"),
            (text.replace("\"version\":\"2.0\"", "\"version\":\"1.0\""), "version 1.0"),
            (text.replace("\"count\":8", "\"count\":80000000"), "absurd"),
            (text.replace("\"VEC4\"", "\"MAT4\""), "type MAT4"),
            (text.replacen("\"bufferView\":0,", "", 1), "no buffer view"),
            (text[..text.len() / 2].to_string(), "JSON"),
        ] {
            let err = decode(bad.as_bytes(), None).unwrap_err().to_string();
            assert!(err.contains(expected), "{expected}: {err}");
        }
        let err = decode(&glb[..glb.len() - 9], None).unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");
        let mut v3 = glb.clone();
        v3[4] = 3;
        assert!(decode(&v3, None).unwrap_err().to_string().contains("container version 3"));
    }
}
