//! Compute pipelines for the WGSL kernels, and small helpers to bind and dispatch them.

use wgpu::util::DeviceExt;

pub struct Kernels {
    pub preprocess: wgpu::ComputePipeline,
    pub scan_blocks: wgpu::ComputePipeline,
    pub add_offsets: wgpu::ComputePipeline,
    pub emit: wgpu::ComputePipeline,
    pub ranges: wgpu::ComputePipeline,
    pub radix_count: wgpu::ComputePipeline,
    pub radix_scatter: wgpu::ComputePipeline,
    pub rasterize: wgpu::ComputePipeline,
    pub present: wgpu::ComputePipeline,
}

fn pipeline(device: &wgpu::Device, module: &wgpu::ShaderModule, entry: &str) -> wgpu::ComputePipeline {
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(entry),
        layout: None,
        module,
        entry_point: Some(entry),
        compilation_options: Default::default(),
        cache: None,
    })
}

impl Kernels {
    pub fn new(device: &wgpu::Device) -> Self {
        let module = |label: &str, src: &str| {
            device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(label),
                source: wgpu::ShaderSource::Wgsl(src.into()),
            })
        };
        // WGSL has no includes: the shared declarations are prepended.
        let common = include_str!("../../../../shaders/common.wgsl");
        let with_common = |src: &str| format!("{common}{src}");
        let pre = module("preprocess", &with_common(include_str!("../../../../shaders/preprocess.wgsl")));
        let scan = module("scan", include_str!("../../../../shaders/scan.wgsl"));
        let binning = module("binning", &with_common(include_str!("../../../../shaders/binning.wgsl")));
        let radix = module("radix_sort", include_str!("../../../../shaders/radix_sort.wgsl"));
        let raster = module("rasterize", &with_common(include_str!("../../../../shaders/rasterize.wgsl")));
        let present = module("present", include_str!("../../../../shaders/present.wgsl"));
        Self {
            preprocess: pipeline(device, &pre, "main"),
            scan_blocks: pipeline(device, &scan, "scan_blocks"),
            add_offsets: pipeline(device, &scan, "add_offsets"),
            emit: pipeline(device, &binning, "emit"),
            ranges: pipeline(device, &binning, "ranges"),
            radix_count: pipeline(device, &radix, "count"),
            radix_scatter: pipeline(device, &radix, "scatter"),
            rasterize: pipeline(device, &raster, "main"),
            present: pipeline(device, &present, "main"),
        }
    }
}

/// Workgroup counts for `groups` workgroups, folded into two dimensions past the 65535 limit
/// (kernels recover the flat index as `x + y · num_workgroups.x`).
pub fn grid(groups: u32) -> (u32, u32) {
    const MAX: u32 = 65535;
    if groups <= MAX { (groups.max(1), 1) } else { (MAX, groups.div_ceil(MAX)) }
}

pub fn uniform<T: bytemuck::Pod>(device: &wgpu::Device, value: &T) -> wgpu::Buffer {
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("params"),
        contents: bytemuck::bytes_of(value),
        usage: wgpu::BufferUsages::UNIFORM,
    })
}

pub fn bind(
    device: &wgpu::Device,
    pipeline: &wgpu::ComputePipeline,
    entries: &[(u32, wgpu::BindingResource<'_>)],
) -> wgpu::BindGroup {
    let entries: Vec<wgpu::BindGroupEntry> = entries
        .iter()
        .map(|(binding, resource)| wgpu::BindGroupEntry { binding: *binding, resource: resource.clone() })
        .collect();
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &entries,
    })
}

pub fn dispatch(
    encoder: &mut wgpu::CommandEncoder,
    pipeline: &wgpu::ComputePipeline,
    group: &wgpu::BindGroup,
    (x, y): (u32, u32),
) {
    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes: None });
    pass.set_pipeline(pipeline);
    pass.set_bind_group(0, group, &[]);
    pass.dispatch_workgroups(x, y, 1);
}
