// Per-Gaussian preprocessing (twin: crates/splatstitch-render/src/preprocess.rs).
// One dispatch per layer chunk: project to a 2D conic with the +0.3 px low-pass, evaluate the
// SH colour with the view direction turned into the layer's frame, bound the screen extent by
// where alpha can still reach 1/255, and count the tiles touched (0 = culled).

struct Frame {
    view: mat4x4<f32>,
    cam_pos: vec4<f32>,
    // fx, fy, cx, cy
    intrinsics: vec4<f32>,
    // width, height, tiles_x, tiles_y
    size: vec4<u32>,
}

struct Layer {
    // Columns of the layer rotation (w unused).
    rot0: vec4<f32>,
    rot1: vec4<f32>,
    rot2: vec4<f32>,
    // xyz translation, w uniform scale
    translation_scale: vec4<f32>,
    // Gaussians in this dispatch, global index of the first, SH degree stored, SH degree used
    count: u32,
    global_offset: u32,
    sh_stored: u32,
    sh_used: u32,
    // 1 when flags are bound
    has_flags: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> frame: Frame;
@group(0) @binding(1) var<uniform> layer: Layer;
@group(0) @binding(2) var<storage, read> positions: array<f32>;
@group(0) @binding(3) var<storage, read> rotations: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> log_scales: array<f32>;
@group(0) @binding(5) var<storage, read> opacities: array<f32>;
@group(0) @binding(6) var<storage, read> sh: array<f32>;
// 8 bits of flags per Gaussian, 4 per word: 1 selected, 2 hidden, 4 deleted
@group(0) @binding(7) var<storage, read> flags: array<u32>;
// The projected splats are paged over group 1 (declared with `projected_store` by
// crates/splatstitch-render/src/gpu/kernels.rs): one binding cannot hold them all.
@group(0) @binding(9) var<storage, read_write> tile_counts: array<u32>;

const NEAR: f32 = 0.01;
const LOW_PASS: f32 = 0.3;
const ALPHA_MIN: f32 = 0.003921569; // 1/255
const TILE: f32 = 16.0;
const HIGHLIGHT: vec3<f32> = vec3<f32>(1.0, 0.75, 0.1);

const C0: f32 = 0.2820948;
const C1: f32 = 0.4886025;

fn sh_coeff(base: u32, k: u32) -> vec3<f32> {
    let o = base + k * 3u;
    return vec3<f32>(sh[o], sh[o + 1u], sh[o + 2u]);
}

fn sh_color(base: u32, degree: u32, d: vec3<f32>) -> vec3<f32> {
    var c = vec3<f32>(0.5) + C0 * sh_coeff(base, 0u);
    if degree >= 1u {
        let x = d.x;
        let y = d.y;
        let z = d.z;
        c += -C1 * y * sh_coeff(base, 1u) + C1 * z * sh_coeff(base, 2u) - C1 * x * sh_coeff(base, 3u);
        if degree >= 2u {
            let xx = x * x;
            let yy = y * y;
            let zz = z * z;
            c += 1.0925484 * x * y * sh_coeff(base, 4u)
                + -1.0925484 * y * z * sh_coeff(base, 5u)
                + 0.31539157 * (2.0 * zz - xx - yy) * sh_coeff(base, 6u)
                + -1.0925484 * x * z * sh_coeff(base, 7u)
                + 0.5462742 * (xx - yy) * sh_coeff(base, 8u);
            if degree >= 3u {
                c += -0.5900436 * y * (3.0 * xx - yy) * sh_coeff(base, 9u)
                    + 2.8906114 * x * y * z * sh_coeff(base, 10u)
                    + -0.457046 * y * (4.0 * zz - xx - yy) * sh_coeff(base, 11u)
                    + 0.37317634 * z * (2.0 * zz - 3.0 * xx - 3.0 * yy) * sh_coeff(base, 12u)
                    + -0.457046 * x * (4.0 * zz - xx - yy) * sh_coeff(base, 13u)
                    + 1.4453057 * z * (xx - yy) * sh_coeff(base, 14u)
                    + -0.5900436 * x * (xx - 3.0 * yy) * sh_coeff(base, 15u);
            }
        }
    }
    return max(c, vec3<f32>(0.0));
}

fn quat_to_mat(q: vec4<f32>) -> mat3x3<f32> {
    // q = (w, x, y, z)
    let w = q.x;
    let x = q.y;
    let y = q.z;
    let z = q.w;
    return mat3x3<f32>(
        vec3<f32>(1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y + w * z), 2.0 * (x * z - w * y)),
        vec3<f32>(2.0 * (x * y - w * z), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z + w * x)),
        vec3<f32>(2.0 * (x * z + w * y), 2.0 * (y * z - w * x), 1.0 - 2.0 * (x * x + y * y)),
    );
}

fn is_finite3(v: vec3<f32>) -> bool {
    // NaN fails every comparison; infinities exceed the largest finite f32.
    return all(abs(v) <= vec3<f32>(3.4e38));
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= layer.count {
        return;
    }
    let g = layer.global_offset + i;
    tile_counts[g] = 0u;
    var selected = false;
    if layer.has_flags == 1u {
        let f = (flags[i / 4u] >> ((i % 4u) * 8u)) & 0xffu;
        if (f & 6u) != 0u {
            return;
        }
        selected = (f & 1u) != 0u;
    }
    let layer_rot = mat3x3<f32>(layer.rot0.xyz, layer.rot1.xyz, layer.rot2.xyz);
    let s_layer = layer.translation_scale.w;
    let p_local = vec3<f32>(positions[3u * i], positions[3u * i + 1u], positions[3u * i + 2u]);
    let p_world = layer_rot * (p_local * s_layer) + layer.translation_scale.xyz;
    let p = (frame.view * vec4<f32>(p_world, 1.0)).xyz;
    if !is_finite3(p) || !(p.z > NEAR) {
        return;
    }
    let opacity = 1.0 / (1.0 + exp(-opacities[i]));
    if !(opacity >= ALPHA_MIN) {
        return;
    }
    var q = rotations[i];
    let qlen = length(q);
    if qlen > 0.0 && qlen <= 3.4e38 {
        q = q / qlen;
    } else {
        q = vec4<f32>(1.0, 0.0, 0.0, 0.0);
    }
    let s = exp(vec3<f32>(log_scales[3u * i], log_scales[3u * i + 1u], log_scales[3u * i + 2u])) * s_layer;
    let view_rot = mat3x3<f32>(frame.view[0].xyz, frame.view[1].xyz, frame.view[2].xyz);
    let m = view_rot * layer_rot * quat_to_mat(q) * mat3x3<f32>(
        vec3<f32>(s.x, 0.0, 0.0),
        vec3<f32>(0.0, s.y, 0.0),
        vec3<f32>(0.0, 0.0, s.z),
    );
    let fx = frame.intrinsics.x;
    let fy = frame.intrinsics.y;
    let cx = frame.intrinsics.z;
    let cy = frame.intrinsics.w;
    let w = f32(frame.size.x);
    let h = f32(frame.size.y);
    let tan_x = 0.5 * w / fx;
    let tan_y = 0.5 * h / fy;
    let lim_x_pos = (w - cx) / fx + 0.3 * tan_x;
    let lim_x_neg = cx / fx + 0.3 * tan_x;
    let lim_y_pos = (h - cy) / fy + 0.3 * tan_y;
    let lim_y_neg = cy / fy + 0.3 * tan_y;
    let tx = p.z * clamp(p.x / p.z, -lim_x_neg, lim_x_pos);
    let ty = p.z * clamp(p.y / p.z, -lim_y_neg, lim_y_pos);
    let rz = 1.0 / p.z;
    let rz2 = 1.0 / (p.z * p.z);
    let j0 = vec3<f32>(fx * rz, 0.0, -fx * tx * rz2);
    let j1 = vec3<f32>(0.0, fy * rz, -fy * ty * rz2);
    let mt = transpose(m);
    let t0 = mt * j0;
    let t1 = mt * j1;
    let a = dot(t0, t0) + LOW_PASS;
    let b = dot(t0, t1);
    let c = dot(t1, t1) + LOW_PASS;
    let det = a * c - b * b;
    if !(det > 0.0) || det > 3.4e38 {
        return;
    }
    let mean = vec2<f32>(fx * p.x * rz + cx, fy * p.y * rz + cy);
    let k = 2.0 * log(opacity / ALPHA_MIN);
    let rx = sqrt(k * a);
    let ry = sqrt(k * c);
    let tiles_x = f32(frame.size.z);
    let tiles_y = f32(frame.size.w);
    let x0 = clamp(floor((mean.x - rx - 0.5) / TILE), 0.0, tiles_x);
    let x1 = clamp(floor((mean.x + rx - 0.5) / TILE) + 1.0, 0.0, tiles_x);
    let y0 = clamp(floor((mean.y - ry - 0.5) / TILE), 0.0, tiles_y);
    let y1 = clamp(floor((mean.y + ry - 0.5) / TILE) + 1.0, 0.0, tiles_y);
    if !(x0 < x1 && y0 < y1) {
        return;
    }
    let dir = normalize(p_world - frame.cam_pos.xyz);
    let stride = (layer.sh_stored + 1u) * (layer.sh_stored + 1u) * 3u;
    var color = sh_color(i * stride, min(layer.sh_used, layer.sh_stored), transpose(layer_rot) * dir);
    if selected {
        color = 0.5 * color + 0.5 * HIGHLIGHT;
    }
    var out: Projected;
    out.mean = mean;
    out.depth = p.z;
    out.opacity = opacity;
    out.conic = vec3<f32>(c / det, -b / det, a / det);
    out.id = g;
    out.color = color;
    out.tiles = vec4<u32>(u32(x0), u32(y0), u32(x1), u32(y1));
    projected_store(g, out);
    tile_counts[g] = (u32(x1) - u32(x0)) * (u32(y1) - u32(y0));
}
