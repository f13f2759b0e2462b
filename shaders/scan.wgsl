// Exclusive prefix sum over u32, in blocks of 256 (twin: `exclusive_scan` in gpu/scan.rs's
// tests). `scan_blocks` scans each block in place and writes its total to `block_sums`; the
// host scans `block_sums` the same way (recursively) and `add_offsets` adds them back.

struct Params {
    count: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> data: array<u32>;
@group(0) @binding(2) var<storage, read_write> block_sums: array<u32>;

var<workgroup> temp: array<u32, 256>;

@compute @workgroup_size(256)
fn scan_blocks(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let block = wid.x + wid.y * nwg.x;
    let i = block * 256u + lid.x;
    var v = 0u;
    if i < params.count {
        v = data[i];
    }
    temp[lid.x] = v;
    workgroupBarrier();
    // Hillis–Steele inclusive scan.
    for (var offset = 1u; offset < 256u; offset = offset * 2u) {
        var add = 0u;
        if lid.x >= offset {
            add = temp[lid.x - offset];
        }
        workgroupBarrier();
        temp[lid.x] = temp[lid.x] + add;
        workgroupBarrier();
    }
    if i < params.count {
        data[i] = temp[lid.x] - v;
    }
    if lid.x == 255u && block * 256u < params.count {
        block_sums[block] = temp[255];
    }
}

@compute @workgroup_size(256)
fn add_offsets(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let block = wid.x + wid.y * nwg.x;
    let i = block * 256u + lid.x;
    if i < params.count {
        data[i] = data[i] + block_sums[block];
    }
}
