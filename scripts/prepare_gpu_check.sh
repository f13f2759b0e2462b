#!/usr/bin/env bash
# Prepares .gpu/ (ignored by git) for scripts/gpu_check.sh on a lent GPU machine, which has no
# Rust toolchain and no network: a stripped, xz-compressed release binary and GPU test binary, the
# captures the checks read, and the Vulkan loader packages (.gl/). Run from the repository root.
set -euo pipefail
cargo build --release
test_bin=$(cargo test --release -p splatstitch-render --test gpu --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m.get("executable") and m["target"]["name"]=="gpu": print(m["executable"])')
mkdir -p .gpu .gl
strip -o .gpu/splatstitch target/release/splatstitch && xz -T2 -6 -f .gpu/splatstitch
strip -o .gpu/gpu "$test_bin" && xz -T2 -6 -f .gpu/gpu
cp tests/data/{flowers_93k_sh2,playbot_31k_sh2}.ply assets/{flowers_27k_sh2,fruit_drops_5k_sh3}.ply .gpu/
sed -e 's|"../../tests/data/|"|; s|"../../assets/|"|' examples/jobs/flowers_lod_speed.toml > .gpu/speed.toml
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
mkdir -p /tmp/amd64/partial && apt-get $o update -qq && (cd .gl && apt-get $o download libvulkan1)
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || printf '/.gpu/\n/.gl/\n' >> .git/info/exclude
du -sh .gpu .gl
echo "now: device run, command 'bash scripts/gpu_check.sh', carry ['.gl', '.gpu'], timeout 540"
