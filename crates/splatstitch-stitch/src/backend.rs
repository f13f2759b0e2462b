//! What the optimizer runs on: burn-wgpu on the renderer's own wgpu device, the native CPU
//! loops ([`crate::native`]), or one of burn's CPU backends. On a software adapter (lavapipe)
//! burn-wgpu is about 60× slower than the CPU and its kernels take minutes to compile, so `auto`
//! only picks it on real GPUs. On the CPU the native loops measured 4–5× faster than burn's
//! `flex` backend (docs/BENCHMARKS.md), so `cpu` means them; `flex` and `ndarray` stay
//! selectable for comparisons.

use burn::tensor::Device;
use burn::tensor::wgpu::WgpuSetup;
use splatstitch_render::gpu::GpuContext;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// burn-wgpu on a hardware GPU adapter, the native CPU loops on a software adapter or none.
    #[default]
    Auto,
    /// burn-wgpu, on whatever adapter there is (also a software one).
    Wgpu,
    /// The fastest CPU path: the native loops on all cores.
    Cpu,
    /// burn's `flex` CPU backend (autodiff), for comparisons.
    Flex,
    /// burn's `ndarray` CPU backend (autodiff), for comparisons.
    Ndarray,
}

/// What runs the optimization.
#[derive(Clone)]
pub enum Engine {
    /// Plain Rust loops over the CPU's cores ([`crate::native`]).
    Native,
    /// A burn device: burn-wgpu, flex or ndarray.
    Burn(Device),
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("--backend wgpu: {0}")]
    NoGpu(String),
    #[error("burn could not use the wgpu device `{adapter}`: {error}")]
    Register { adapter: String, error: String },
}

/// A device for the optimizer and how it was chosen, for logs and reports.
#[derive(Clone)]
pub struct OptimizerDevice {
    pub engine: Engine,
    /// What runs it, e.g. `burn-wgpu on NVIDIA H200 (Vulkan)` or `native CPU (2 threads)`.
    pub name: String,
    /// Why `auto` chose it (empty when the user chose).
    pub reason: String,
}

impl OptimizerDevice {
    pub fn is_gpu(&self) -> bool {
        self.name.starts_with("burn-wgpu")
    }

    /// The burn device, unless the native loops run it.
    pub fn burn_device(&self) -> Option<&Device> {
        match &self.engine {
            Engine::Burn(d) => Some(d),
            Engine::Native => None,
        }
    }
}

/// The fastest CPU path: the native loops on rayon's threads.
pub fn cpu() -> OptimizerDevice {
    OptimizerDevice {
        engine: Engine::Native,
        name: format!("native CPU ({} threads)", rayon::current_num_threads()),
        reason: String::new(),
    }
}

/// burn's CPU backend: `flex`, or `ndarray` (which burn 0.22 deprecates; `flex` measured 11×
/// faster on this optimizer, docs/BENCHMARKS.md).
#[allow(deprecated)]
pub fn burn_cpu(ndarray: bool) -> OptimizerDevice {
    if ndarray {
        OptimizerDevice {
            engine: Engine::Burn(Device::ndarray()),
            name: "burn ndarray (CPU)".into(),
            reason: String::new(),
        }
    } else {
        OptimizerDevice { engine: Engine::Burn(Device::flex()), name: "burn flex (CPU)".into(), reason: String::new() }
    }
}

/// Registers `ctx`'s device with burn once per process and returns burn's handle to it:
/// registering the same handles twice would make a second runtime on one queue.
pub fn wgpu(ctx: &GpuContext) -> Result<OptimizerDevice, BackendError> {
    static REGISTERED: Mutex<Vec<(usize, Device)>> = Mutex::new(Vec::new());
    let key = Arc::as_ptr(&ctx.device) as usize;
    let mut registered = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
    let name = format!("burn-wgpu on {} ({:?})", ctx.info.name, ctx.info.backend);
    if let Some((_, d)) = registered.iter().find(|(k, _)| *k == key) {
        return Ok(OptimizerDevice { engine: Engine::Burn(d.clone()), name, reason: String::new() });
    }
    let setup = WgpuSetup {
        instance: ctx.instance.clone(),
        adapter: ctx.adapter.clone(),
        device: (*ctx.device).clone(),
        queue: (*ctx.queue).clone(),
        backend: ctx.info.backend,
    };
    let device = Device::wgpu_options()
        .setup(setup)
        .init()
        .map_err(|e| BackendError::Register { adapter: ctx.describe(), error: e.to_string() })?;
    registered.push((key, device.clone()));
    Ok(OptimizerDevice { engine: Engine::Burn(device), name, reason: String::new() })
}

/// Resolves a choice. `gpu` is the renderer's context when there is one (the editor's);
/// otherwise a headless one is made when the choice may need it.
pub fn select(choice: BackendChoice, gpu: Option<&GpuContext>) -> Result<OptimizerDevice, BackendError> {
    match choice {
        BackendChoice::Cpu => return Ok(cpu()),
        BackendChoice::Flex => return Ok(burn_cpu(false)),
        BackendChoice::Ndarray => return Ok(burn_cpu(true)),
        BackendChoice::Auto | BackendChoice::Wgpu => {}
    }
    let owned;
    let ctx = match gpu {
        Some(c) => Ok(c),
        None => match GpuContext::headless() {
            Ok(c) => {
                owned = c;
                Ok(&owned)
            }
            Err(e) => Err(e.to_string()),
        },
    };
    match (choice, ctx) {
        (BackendChoice::Wgpu, Ok(c)) => wgpu(c),
        (BackendChoice::Wgpu, Err(e)) => Err(BackendError::NoGpu(e)),
        (_, Ok(c)) if !c.is_software() => {
            let mut d = wgpu(c)?;
            d.reason = format!("`{}` is a hardware GPU", c.info.name);
            Ok(d)
        }
        (_, Ok(c)) => Ok(OptimizerDevice {
            reason: format!("`{}` is a software adapter, where burn-wgpu is ~60× slower than the CPU", c.info.name),
            ..cpu()
        }),
        (_, Err(e)) => Ok(OptimizerDevice { reason: format!("no GPU adapter ({e})"), ..cpu() }),
    }
}
