#!/usr/bin/env bash
# The GPU figures of docs/BENCHMARKS.md, on a lent GPU machine (see scripts/prepare_gpu_check.sh).
# Each step has its own time limit so that one slow step leaves the others their turn; the log and
# the JSON results land in $OUT (log, speed*.json, stitch.json, render_*.json, blend.json).
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
export XDG_RUNTIME_DIR=/tmp/xdg; mkdir -p $XDG_RUNTIME_DIR
# The NVIDIA Vulkan driver (libGLX_nvidia, which needs glvnd's libGLdispatch from .gl/) is
# mounted under /usr/local/nvidia, outside the loader's search paths.
icd=$(ls /usr/local/nvidia/share/vulkan/icd.d/*.json /usr/share/vulkan/icd.d/nvidia*.json \
  /etc/vulkan/icd.d/nvidia*.json 2>/dev/null | head -1)
[ -n "$icd" ] || icd=$(find / -xdev -name 'nvidia_icd*.json' 2>/dev/null | head -1)
[ -n "$icd" ] && export VK_DRIVER_FILES=$icd
export LD_LIBRARY_PATH=/usr/local/nvidia/lib64:/usr/local/nvidia/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
OUT=${OUT:-/tmp/gpu-check-out}; mkdir -p "$OUT"
python3 -c 'import glob,lzma,os,shutil
for f in glob.glob(".gpu/*.xz"):
    with lzma.open(f) as src, open(f[:-3], "wb") as dst: shutil.copyfileobj(src, dst)
    os.remove(f); os.chmod(f[:-3], 0o755)'
# The test binaries look for the captures in the checkout they were built from.
[ -e /work/main ] || { mkdir -p /work && ln -s "$PWD" /work/main; }
TIMEFORMAT="%R s wall"
step() { echo; echo "== $1 ($(date +%T))"; }
{
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv,noheader; nproc
echo "Vulkan driver manifest: ${icd:-none found}"; [ -n "$icd" ] && cat "$icd"
ldconfig -p | grep -E "libvulkan|libGLX_nvidia|libGLdispatch" | head
if ! timeout 60 .gpu/splatstitch bench render --no-cpu --render-generated 1000 --repeat 1 2>&1 | grep "^adapter:"; then
  echo "no GPU adapter: the loader's view follows"
  VK_LOADER_DEBUG=error,warn,driver timeout 60 .gpu/splatstitch bench render --no-cpu --render-generated 1000 --repeat 1 2>&1 | head -40
  ls /usr/local/nvidia /usr/local/nvidia/lib64 2>&1 | head -40
  exit 1
fi
step "renderer GPU tests (GPU image = CPU image)"
timeout 90 .gpu/gpu 2>&1 | grep -E "^test |test result|panicked|differ|PSNR" | head -30
step "optimizer: burn-wgpu against the CPU backend"
timeout 90 .gpu/optimize wgpu_and_cpu_backends_agree 2>&1 | grep -E "^test |test result|panicked" | head
step "speed job, whole process, auto backend (the first run compiles burn's kernels)"
time timeout 120 .gpu/splatstitch stitch examples/jobs/flowers_lod_speed.toml --out-dir /tmp/speed 2>&1 | tail -12
cp /tmp/speed/*.json "$OUT/speed.json" 2>/dev/null
step "speed job again, kernels compiled"
time timeout 60 .gpu/splatstitch stitch examples/jobs/flowers_lod_speed.toml --out-dir /tmp/speed2 2>&1 | tail -6
cp /tmp/speed2/*.json "$OUT/speed2.json" 2>/dev/null
step "bench render, GPU only: 1M, 3M, 10M SH3"
timeout 120 .gpu/splatstitch bench render --render-generated 1000000,3000000,10000000 --no-cpu --repeat 5 --json "$OUT/render_gpu.json" 2>&1 | tail -14
step "bench stitch: wgpu against cpu, 1500 iterations"
timeout 90 .gpu/splatstitch bench stitch --job examples/jobs/flowers_lod_speed.toml --backends wgpu,cpu --repeat 2 --json "$OUT/stitch.json" 2>&1 | tail -12
step "bench blend: the suite's stitch column on the GPU (seed 1, no LOD)"
timeout 150 .gpu/splatstitch bench blend --methods stitch --seeds 1 --no-lod --out /tmp/blend --json "$OUT/blend.json" 2>&1 | grep -E "^\|" | tail -60
step "bench render with the CPU twin (16 cores), for the ratio"
timeout 60 .gpu/splatstitch bench render --render-generated 1000000 --repeat 2 --json "$OUT/render_cpu.json" 2>&1 | tail -8
step "speed job on the CPU backend (16 cores), for the ratio"
time timeout 60 .gpu/splatstitch stitch examples/jobs/flowers_lod_speed.toml --backend cpu --out-dir /tmp/speedcpu 2>&1 | tail -6
cp /tmp/speedcpu/*.json "$OUT/speed_cpu.json" 2>/dev/null
step "done"
} 2>&1 | tee "$OUT/log"
