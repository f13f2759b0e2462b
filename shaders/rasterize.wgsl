// Per-tile front-to-back compositing (twin: `composite_splats` in raster.rs). One workgroup per
// 16×16 tile; the tile's depth-ordered Gaussians are staged through workgroup memory in batches.
// Mode 0 writes colours; mode 1 counts each pixel's weights ≥ min_weight; mode 2 writes them at
// the offsets a prefix sum of those counts gave. A dispatch covers the tile rows from `tile_y0`
// (one band of them when a frame's entries are made a band at a time).

struct Params {
    width: u32,
    height: u32,
    tiles_x: u32,
    mode: u32,
    background: vec4<f32>,
    min_weight: f32,
    tile_y0: u32,
    _pad1: f32,
    _pad2: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read> values: array<u32>;
@group(0) @binding(3) var<storage, read> tile_ranges: array<vec2<u32>>;
@group(0) @binding(4) var<storage, read_write> image: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> weight_counts: array<u32>;
@group(0) @binding(6) var<storage, read_write> weight_ids: array<u32>;
@group(0) @binding(7) var<storage, read_write> weight_values: array<f32>;

const ALPHA_MIN: f32 = 0.003921569; // 1/255
const ALPHA_MAX: f32 = 0.999;
const T_MIN: f32 = 1e-4;
const BATCH: u32 = 256u;

var<workgroup> batch_mean: array<vec2<f32>, 256>;
var<workgroup> batch_conic_opacity: array<vec4<f32>, 256>;
var<workgroup> batch_color: array<vec3<f32>, 256>;
var<workgroup> batch_id: array<u32, 256>;
var<workgroup> range_shared: vec2<u32>;
var<workgroup> done_count: atomic<u32>;
var<workgroup> all_done_shared: bool;

@compute @workgroup_size(16, 16)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) lindex: u32,
) {
    let tile_y = wid.y + params.tile_y0;
    let tile = tile_y * params.tiles_x + wid.x;
    let px = wid.x * 16u + lid.x;
    let py = tile_y * 16u + lid.y;
    let inside = px < params.width && py < params.height;
    let pixel = py * params.width + px;
    if lindex == 0u {
        range_shared = tile_ranges[tile];
    }
    let range = workgroupUniformLoad(&range_shared);
    let pos = vec2<f32>(f32(px) + 0.5, f32(py) + 0.5);
    var t = 1.0;
    var c = vec3<f32>(0.0);
    // Invocations past the image's edge have nothing to draw.
    var done = !inside;
    var written = 0u;
    var out_base = 0u;
    if params.mode == 2u && inside {
        out_base = weight_counts[pixel];
    }
    for (var start = range.x; start < range.y; start += BATCH) {
        let k = start + lindex;
        workgroupBarrier();
        if k < range.y {
            let g = values[k];
            let p = projected_load(g);
            batch_mean[lindex] = p.mean;
            batch_conic_opacity[lindex] = vec4<f32>(p.conic, p.opacity);
            batch_color[lindex] = p.color;
            batch_id[lindex] = p.id;
        }
        workgroupBarrier();
        let n = min(BATCH, range.y - start);
        // Every invocation runs every step of this loop and skips by branches: on lavapipe an
        // 8-wide group of invocations that all leave a loop early while the rest of the
        // workgroup goes on never comes back (its pixels were never written).
        for (var j = 0u; j < n; j++) {
            let d = batch_mean[j] - pos;
            let co = batch_conic_opacity[j];
            let sigma = 0.5 * (co.x * d.x * d.x + co.z * d.y * d.y) + co.y * d.x * d.y;
            let alpha = min(ALPHA_MAX, co.w * exp(-max(sigma, 0.0)));
            if !done && sigma >= 0.0 && alpha >= ALPHA_MIN {
                let next = t * (1.0 - alpha);
                if next <= T_MIN {
                    done = true;
                } else {
                    let w = alpha * t;
                    c += batch_color[j] * w;
                    if w >= params.min_weight {
                        if params.mode == 2u {
                            weight_ids[out_base + written] = batch_id[j];
                            weight_values[out_base + written] = w;
                        }
                        written++;
                    }
                    t = next;
                }
            }
        }
        // The tile is finished when all its pixels are: the count is made uniform through
        // workgroup memory so that the whole workgroup leaves together.
        if done {
            atomicAdd(&done_count, 1u);
        }
        workgroupBarrier();
        if lindex == 0u {
            all_done_shared = atomicExchange(&done_count, 0u) == 256u;
        }
        if workgroupUniformLoad(&all_done_shared) {
            break;
        }
    }
    if !inside {
        return;
    }
    image[pixel] = vec4<f32>(c + t * params.background.xyz, 1.0 - t);
    if params.mode == 1u {
        weight_counts[pixel] = written;
    }
}
