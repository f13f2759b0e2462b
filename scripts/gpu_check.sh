#!/usr/bin/env bash
# The GPU figures of docs/BENCHMARKS.md, on a lent GPU machine (see scripts/prepare_gpu_check.sh).
# Results land in $OUT (speed*.json, cpu300.json, render.json, blend.json) and on stdout.
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
export XDG_RUNTIME_DIR=/tmp/xdg; mkdir -p $XDG_RUNTIME_DIR
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f $icd ] && export VK_DRIVER_FILES=$icd
OUT=${OUT:-/tmp/gpu-check-out}; mkdir -p "$OUT"
cd .gpu && for f in *.xz; do xz -d -f "$f"; done && chmod +x splatstitch gpu
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; nproc
export SPLATSTITCH_DATA=$PWD
echo "== stitch speed job, auto backend (first run compiles burn's kernels)"
( time ./splatstitch stitch speed.toml --out-dir /tmp/speed ) 2>&1; cp /tmp/speed/*.json "$OUT/speed.json"
echo "== again, kernels compiled"
( time ./splatstitch stitch speed.toml --out-dir /tmp/speed2 ) 2>&1; cp /tmp/speed2/*.json "$OUT/speed2.json"
echo "== 300 iterations on the CPU backend, for the ratio"
( time ./splatstitch stitch speed.toml --backend cpu --set iterations=300 --set patience=0 --out-dir /tmp/cpu300 ) 2>&1; cp /tmp/cpu300/*.json "$OUT/cpu300.json"
echo "== render bench"
./splatstitch bench render --data . --repeat 3 --scratch /tmp --json "$OUT/render.json" 2>&1 | tail -14
echo "== GPU tests"
timeout 120 ./gpu 2>&1 | grep -E "test |result|panicked|differ" | head -30
echo "== blend bench (one capture, stitch on the GPU against none)"
timeout 200 ./splatstitch bench blend --data . --captures flowers_93k_sh2.ply --changes gain_offset,matrix \
  --methods none,stitch --no-lod --out /tmp/blend --json "$OUT/blend.json" 2>&1 | tail -8
