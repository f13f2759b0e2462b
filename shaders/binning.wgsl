// Tile binning (twin: `bin` in raster.rs). The Gaussians are sorted by depth first
// (`depth_keys`, then the stable radix sort over one key a Gaussian, ties by index); `gather_counts`
// puts their tile counts in that order, and `emit` writes one (tile, Gaussian) entry per tile a
// Gaussian touches at the offset the prefix sum of those counts gave it, so entries come in depth
// order; the stable radix sort over the tile bits then orders them by (tile, depth, Gaussian)
// with a quarter of the passes over entries that sorting each entry's depth took.
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
// Gaussian indices in depth order (written by `depth_keys` before they are sorted).
@group(0) @binding(9) var<storage, read_write> order: array<u32>;

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 256u;
}

// Each Gaussian's depth as a sort key (positive floats order as their bits; culled ones last).
@compute @workgroup_size(256)
fn depth_keys(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let g = flat_index(gid, nwg);
    if g >= params.count {
        return;
    }
    var k = 0xffffffffu;
    if tile_counts[g] != 0u {
        k = bitcast<u32>(projected_load(g).depth);
    }
    key_depth[g] = k;
    order[g] = g;
}

// The counts at binding 2 (all tiles', or a band's) in depth order, into binding 8.
@compute @workgroup_size(256)
fn gather_counts(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = flat_index(gid, nwg);
    if r >= params.count {
        return;
    }
    band_counts[r] = tile_counts[order[r]];
}

// The entries of the Gaussian of depth rank `r`, at the offset its rank's prefix sum gave.
@compute @workgroup_size(256)
fn emit(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = flat_index(gid, nwg);
    if r >= params.count {
        return;
    }
    let g = order[r];
    if tile_counts[g] == 0u {
        return;
    }
    let p = projected_load(g);
    var o = offsets[r];
    for (var ty = max(p.tiles.y, params.band_y0); ty < min(p.tiles.w, params.band_y1); ty++) {
        for (var tx = p.tiles.x; tx < p.tiles.z; tx++) {
            key_tile[o] = ty * params.tiles_x + tx;
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
