#!/usr/bin/env bash
# The batch benchmark of docs/BENCHMARKS.md: 16 small real stitch jobs (four captures, each cut
# at four planes across x with a shared band), run one after another with `splatstitch stitch`,
# then through `splatstitch batch` with 1 and 2 local workers and through Slurm, all in one sitting.
#   scripts/batch_bench.sh [OUT]          (from the repository root, after `cargo build --release`;
#                                          Slurm: `scripts/slurm_one_node.sh start` first)
set -euo pipefail
bin="$PWD/target/release/splatstitch"
out="$(realpath -m "${1:-bench-out/batch}")"
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out/jobs"

i=0
for capture in assets/flowers_27k_sh2.ply assets/fruit_drops_5k_sh3.ply tests/data/playbot_31k_sh2.ply \
  tests/data/flowers_93k_sh2.ply; do
  read -r lo hi < <("$bin" info "$capture" --json | python3 -c \
    'import json,sys; d=json.load(sys.stdin); print(d["bbox_min"][0], d["bbox_max"][0])')
  for f in 0.35 0.45 0.55 0.65; do
    i=$((i + 1))
    python3 - "$capture" "$lo" "$hi" "$f" "$out/jobs/job_$(printf %02d $i).toml" "$PWD" <<'EOF'
import sys
capture, lo, hi, f, path, root = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5], sys.argv[6]
x = lo + (hi - lo) * f
band = 0.01 * (hi - lo)
big = 1e6
open(path, "w").write(f'''[[layer]]
name = "source"
file = "{root}/{capture}"
role = "source"
crop = {{ box_min = [{-big}, {-big}, {-big}], box_max = [{x + band}, {big}, {big}] }}

[[layer]]
name = "target"
file = "{root}/{capture}"
role = "target"
crop = {{ box_min = [{x - band}, {-big}, {-big}], box_max = [{big}, {big}, {big}] }}

[blend]
method = "stitch"
iterations = 100
views = 8
resolution = 96
validation_views = 2

[output]
ply = "stitched.ply"
''')
EOF
  done
done

t() { local s; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; echo "$(date +%s.%N) - $s" | bc; }
echo "16 jobs in $out/jobs"
single=0
for j in "$out"/jobs/*.toml; do
  s=$(t "$bin" stitch "$j" --out-dir "$out/single/$(basename "$j" .toml)" --quiet)
  single=$(echo "$single + $s" | bc)
done
w1=$(t "$bin" batch "$out/jobs" --out-dir "$out/w1" --workers 1 --quiet)
w2=$(t "$bin" batch "$out/jobs" --out-dir "$out/w2" --workers 2 --quiet)
if sinfo -h >/dev/null 2>&1; then
  sl=$(printf %.1f "$(t "$bin" batch "$out/jobs" --out-dir "$out/slurm" --scheduler slurm --quiet)")
else
  sl="(no Slurm)"
fi
printf '| run | wall s |\n|---|---|\n| 16 × `stitch`, one after another | %.1f |\n' "$single"
printf '| `batch --workers 1` | %.1f |\n| `batch --workers 2` | %.1f |\n' "$w1" "$w2"
printf '| `batch --scheduler slurm` (one node, 2 CPUs) | %s |\n' "$sl"
for d in w1 w2 slurm; do
  [ -f "$out/$d/summary.json" ] && python3 -c "import json; s=json.load(open('$out/$d/summary.json')); print('$d', s['ok'], 'ok', s['failed'], 'failed', 'sum of job wall', round(sum(r['wall_s'] or 0 for r in s['rows']), 1))"
done
