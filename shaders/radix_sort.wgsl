// Stable LSD radix sort of (key, value) pairs, 4 bits per pass, blocks of 256 (twin: the CPU
// binning's depth-then-tile order, checked by the tests). Per pass: `count` builds a digit
// histogram per block laid out digit-major, so its exclusive prefix sum gives every
// (digit, block) its first output slot; `scatter` ranks each element among equal digits of its
// block (stable) with one-bit splits in workgroup memory and writes it out.

struct Params {
    count: u32,
    shift: u32,
    num_blocks: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> keys_in: array<u32>;
@group(0) @binding(2) var<storage, read> vals_in: array<u32>;
// Carried along with the sort: the other half of the key.
@group(0) @binding(3) var<storage, read> extra_in: array<u32>;
@group(0) @binding(4) var<storage, read_write> keys_out: array<u32>;
@group(0) @binding(5) var<storage, read_write> vals_out: array<u32>;
@group(0) @binding(6) var<storage, read_write> extra_out: array<u32>;
@group(0) @binding(7) var<storage, read_write> histogram: array<u32>;

var<workgroup> counts: array<atomic<u32>, 16>;
var<workgroup> flags: array<u32, 256>;
var<workgroup> order: array<u32, 256>;
var<workgroup> digit_start: array<u32, 16>;

fn block_index(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + wid.y * nwg.x;
}

@compute @workgroup_size(256)
fn count(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let block = block_index(wid, nwg);
    if lid.x < 16u {
        atomicStore(&counts[lid.x], 0u);
    }
    workgroupBarrier();
    let i = block * 256u + lid.x;
    if i < params.count {
        let d = (keys_in[i] >> params.shift) & 15u;
        atomicAdd(&counts[d], 1u);
    }
    workgroupBarrier();
    if lid.x < 16u && block < params.num_blocks {
        histogram[lid.x * params.num_blocks + block] = atomicLoad(&counts[lid.x]);
    }
}

// Exclusive scan of `flags` in place (Hillis–Steele on a copy); returns the total.
fn scan_flags(l: u32) -> u32 {
    let own = flags[l];
    workgroupBarrier();
    for (var offset = 1u; offset < 256u; offset = offset * 2u) {
        var add = 0u;
        if l >= offset {
            add = flags[l - offset];
        }
        workgroupBarrier();
        flags[l] = flags[l] + add;
        workgroupBarrier();
    }
    let total = flags[255];
    let exclusive = flags[l] - own;
    workgroupBarrier();
    flags[l] = exclusive;
    workgroupBarrier();
    return total;
}

@compute @workgroup_size(256)
fn scatter(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let block = block_index(wid, nwg);
    let l = lid.x;
    let i = block * 256u + l;
    let valid = i < params.count;
    // Invalid slots sort last (digit 16 never matches a real one).
    var digit = 16u;
    if valid {
        digit = (keys_in[i] >> params.shift) & 15u;
    }
    // Five stable one-bit splits (LSD) on the digit's bits move every element to its place in
    // the block sorted by digit; bit 4 only sends the invalid slots (digit 16) past the end.
    var pos = l;
    for (var bit = 0u; bit < 5u; bit++) {
        let b = (digit >> bit) & 1u;
        flags[pos] = 1u - b;
        workgroupBarrier();
        let zeros = scan_flags(l);
        let zeros_before = flags[pos];
        var new_pos = zeros_before;
        if b == 1u {
            new_pos = zeros + (pos - zeros_before);
        }
        workgroupBarrier();
        pos = new_pos;
    }
    // Position within the block's digit-sorted order → rank within the digit.
    order[pos] = digit;
    workgroupBarrier();
    if l < 16u {
        digit_start[l] = 0u;
    }
    workgroupBarrier();
    if pos == 0u || order[pos - 1u] != digit {
        if digit < 16u {
            digit_start[digit] = pos;
        }
    }
    workgroupBarrier();
    if valid {
        let rank = pos - digit_start[digit];
        let dst = histogram[digit * params.num_blocks + block] + rank;
        keys_out[dst] = keys_in[i];
        vals_out[dst] = vals_in[i];
        extra_out[dst] = extra_in[i];
    }
}
