#!/usr/bin/env bash
# Prepares .gpu/ (ignored by git) for scripts/gpu_check.sh on a lent GPU machine, which has no
# Rust toolchain and no network: stripped, xz-compressed release binaries (the CLI, the renderer's
# GPU tests, the optimizer's backend tests) and the Vulkan loader packages (.gl/); the captures
# travel with the working tree. Run from the repository root.
set -euo pipefail
cargo build --release
tests=$(cargo test --release --workspace --test gpu --test optimize --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m.get("executable"): print(m["target"]["name"], m["executable"])')
mkdir -p .gpu .gl
strip -o .gpu/splatstitch target/release/splatstitch && xz -T2 -6 -f .gpu/splatstitch
while read -r name exe; do strip -o ".gpu/$name" "$exe" && xz -T2 -6 -f ".gpu/$name"; done <<<"$tests"
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
mkdir -p /tmp/amd64/partial && apt-get $o update -qq && (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || printf '/.gpu/\n/.gl/\n' >> .git/info/exclude
du -sh .gpu .gl
echo "now: device run, command 'bash scripts/gpu_check.sh', carry ['.gl', '.gpu'], timeout 480"
