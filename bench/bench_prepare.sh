#!/usr/bin/env bash
# prepare on ../shared/data/UrbanSound8K beside a numpy/scipy reference that
# computes the same features with the same number of workers; prints clips/s
# for both and the ratio. Skips (exit 0) when the data or numpy is absent.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
data=${SONO_BENCH_DATA:-$top/../shared/data/UrbanSound8K}
bin=$top/build/sonodream
jobs=${JOBS:-$(nproc)}
if [ ! -f "$data/metadata/UrbanSound8K.csv" ]; then echo "bench_prepare: no dataset at $data, skipped"; exit 0; fi
if ! /usr/bin/python3 -c 'import numpy, scipy' 2>/dev/null; then
  echo "bench_prepare: python3-numpy/scipy missing (SONO_WITH_PYTHON=1 scripts/install-deps), skipped"; exit 0; fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

start=$(date +%s.%N)
"$bin" prepare "$data" -o "$tmp/us8k.safetensors" --jobs "$jobs" --quiet > "$tmp/prepare.log"
end=$(date +%s.%N)
clips=$(grep -oP 'wrote .*: \K[0-9]+(?= clips)' "$tmp/prepare.log")
ours=$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')

ref=$(/usr/bin/python3 "$top/bench/prepare_reference.py" "$data" "$jobs" "$tmp/ref.npy")
ref_clips=$(echo "$ref" | awk '{print $2}')
ref_seconds=$(echo "$ref" | awk '{print $4}')

# Check the result first: both computed the same features.
/usr/bin/python3 "$top/bench/compare_features.py" "$tmp/us8k.safetensors" "$tmp/ref.npy"

awk -v c="$clips" -v s="$ours" -v rc="$ref_clips" -v rs="$ref_seconds" -v j="$jobs" 'BEGIN {
  ours = c / s; ref = rc / rs;
  printf "prepare UrbanSound8K (%d clips, %d jobs)\n", c, j;
  printf "  sonodream      %8.1f clips/s (%.2f s, whole command)\n", ours, s;
  printf "  numpy/scipy    %8.1f clips/s (%.2f s, feature loop only)\n", ref, rs;
  printf "  ratio          %8.1fx\n", ours / ref }'
