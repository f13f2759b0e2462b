// Stable LSD radix sort of (key, value) pairs, 4 bits per pass, blocks of 256 (twin: the CPU
// binning's depth-then-tile order, checked by the tests). Per pass: `count` builds a digit
// histogram per block laid out digit-major, so its exclusive prefix sum gives every
// (digit, block) its first output slot; `scatter` ranks each element among equal digits of its
// block (stable): every element sets its bit in its digit's 256-bit mask in workgroup memory,
// and its rank is the number of bits set below its own (two barriers a pass, where one-bit
// splits took about ninety).

struct Params {
    count: u32,
    shift: u32,
    num_blocks: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> keys_in: array<u32>;
@group(0) @binding(2) var<storage, read> vals_in: array<u32>;
@group(0) @binding(4) var<storage, read_write> keys_out: array<u32>;
@group(0) @binding(5) var<storage, read_write> vals_out: array<u32>;
@group(0) @binding(7) var<storage, read_write> histogram: array<u32>;

var<workgroup> counts: array<atomic<u32>, 16>;
// Per digit, which of the block's 256 elements hold it: 8 words of 32.
var<workgroup> masks: array<atomic<u32>, 128>;

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

@compute @workgroup_size(256)
fn scatter(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let block = block_index(wid, nwg);
    let l = lid.x;
    let i = block * 256u + l;
    let valid = i < params.count;
    if l < 128u {
        atomicStore(&masks[l], 0u);
    }
    workgroupBarrier();
    var digit = 0u;
    if valid {
        digit = (keys_in[i] >> params.shift) & 15u;
        atomicOr(&masks[digit * 8u + (l >> 5u)], 1u << (l & 31u));
    }
    workgroupBarrier();
    if valid {
        let word = l >> 5u;
        var rank = countOneBits(atomicLoad(&masks[digit * 8u + word]) & ((1u << (l & 31u)) - 1u));
        for (var w = 0u; w < word; w++) {
            rank += countOneBits(atomicLoad(&masks[digit * 8u + w]));
        }
        let dst = histogram[digit * params.num_blocks + block] + rank;
        keys_out[dst] = keys_in[i];
        vals_out[dst] = vals_in[i];
    }
}
