// Tile binning (twin: `bin` in raster.rs). `emit` writes one (tile, depth, Gaussian) entry per
// tile a Gaussian touches, at the offset the prefix sum of tile counts gave it, so entries come
// in Gaussian order; the stable radix sort then orders them by (tile, depth, Gaussian).
// `ranges` finds where each tile's run starts and ends in the sorted entries.

struct Params {
    // Gaussians (emit) or entries (ranges)
    count: u32,
    tiles_x: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> projected: array<Projected>;
@group(0) @binding(2) var<storage, read> tile_counts: array<u32>;
@group(0) @binding(3) var<storage, read> offsets: array<u32>;
@group(0) @binding(4) var<storage, read_write> key_tile: array<u32>;
@group(0) @binding(5) var<storage, read_write> key_depth: array<u32>;
@group(0) @binding(6) var<storage, read_write> values: array<u32>;
@group(0) @binding(7) var<storage, read_write> tile_ranges: array<vec2<u32>>;

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 256u;
}

@compute @workgroup_size(256)
fn emit(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let g = flat_index(gid, nwg);
    if g >= params.count || tile_counts[g] == 0u {
        return;
    }
    let p = projected[g];
    var o = offsets[g];
    let depth_bits = bitcast<u32>(p.depth);
    for (var ty = p.tiles.y; ty < p.tiles.w; ty++) {
        for (var tx = p.tiles.x; tx < p.tiles.z; tx++) {
            key_tile[o] = ty * params.tiles_x + tx;
            key_depth[o] = depth_bits;
            values[o] = g;
            o++;
        }
    }
}

@compute @workgroup_size(256)
fn ranges(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if i >= params.count {
        return;
    }
    let t = key_tile[i];
    if i == 0u || key_tile[i - 1u] != t {
        tile_ranges[t].x = i;
    }
    if i + 1u == params.count || key_tile[i + 1u] != t {
        tile_ranges[t].y = i + 1u;
    }
}
