// Tile binning (twin: `bin` in raster.rs). `emit` writes one (tile, depth, Gaussian) entry per
// tile a Gaussian touches, at the offset the prefix sum of tile counts gave it, so entries come
// in Gaussian order; the stable radix sort then orders them by (tile, depth, Gaussian).
// `ranges` finds where each tile's run starts and ends in the sorted entries.
// When one frame's entries are more than one binding holds, they are made a band of tile rows
// at a time: `count_band` counts each Gaussian's tiles within the band, and `emit` writes only
// those.

struct Params {
    // Gaussians (emit) or entries (ranges)
    count: u32,
    tiles_x: u32,
    // The band's tile rows, y0..y1
    band_y0: u32,
    band_y1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read> tile_counts: array<u32>;
@group(0) @binding(3) var<storage, read> offsets: array<u32>;
@group(0) @binding(4) var<storage, read_write> key_tile: array<u32>;
@group(0) @binding(5) var<storage, read_write> key_depth: array<u32>;
@group(0) @binding(6) var<storage, read_write> values: array<u32>;
@group(0) @binding(7) var<storage, read_write> tile_ranges: array<vec2<u32>>;
@group(0) @binding(8) var<storage, read_write> band_counts: array<u32>;

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 256u;
}

@compute @workgroup_size(256)
fn emit(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let g = flat_index(gid, nwg);
    if g >= params.count || tile_counts[g] == 0u {
        return;
    }
    let p = projected_load(g);
    var o = offsets[g];
    let depth_bits = bitcast<u32>(p.depth);
    for (var ty = max(p.tiles.y, params.band_y0); ty < min(p.tiles.w, params.band_y1); ty++) {
        for (var tx = p.tiles.x; tx < p.tiles.z; tx++) {
            key_tile[o] = ty * params.tiles_x + tx;
            key_depth[o] = depth_bits;
            values[o] = g;
            o++;
        }
    }
}

@compute @workgroup_size(256)
fn count_band(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let g = flat_index(gid, nwg);
    if g >= params.count {
        return;
    }
    var n = 0u;
    if tile_counts[g] != 0u {
        let p = projected_load(g);
        let y0 = max(p.tiles.y, params.band_y0);
        let y1 = min(p.tiles.w, params.band_y1);
        if y0 < y1 {
            n = (y1 - y0) * (p.tiles.z - p.tiles.x);
        }
    }
    band_counts[g] = n;
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
