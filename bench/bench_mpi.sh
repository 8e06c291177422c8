#!/usr/bin/env bash
# 1 rank x 2 threads against 2 ranks x 1 thread on the same machine: training
# samples/s (one epoch of the seed network, batch 32) and the share of the
# run spent waiting in the gradient allreduce. Alternates the two, ROUNDS
# times, so load from other users hits both alike.
# usage: bench/bench_mpi.sh FEATURES [ROUNDS]   (e.g. UrbanSound8K folds 1-2)
set -euo pipefail
features=${1:?usage: bench/bench_mpi.sh FEATURES [ROUNDS]}
rounds=${2:-3}
bin=${SONO_BINARY:-build/sonodream}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
common=(train "$features" --epochs 1 --train-folds 1 --val-folds 2 --checkpoint-every 0 --seed 1)
sps() { grep -o '[0-9.]* samples/s' "$1" | head -1 | cut -d' ' -f1; }
for r in $(seq "$rounds"); do
  OMP_NUM_THREADS=2 "$bin" "${common[@]}" -o "$out/a.model" --jobs 2 > "$out/a.txt" 2>&1
  OMP_NUM_THREADS=1 mpirun --oversubscribe --allow-run-as-root -np 2 --bind-to none \
    "$bin" "${common[@]}" -o "$out/b.model" --jobs 1 > "$out/b.txt" 2>&1
  comm=$(grep -o 'ranks: [0-9.]* s of [0-9.]* s' "$out/b.txt" | awk '{print $2 / $5 * 100}')
  echo "round $r: 1 rank x 2 threads $(sps "$out/a.txt") samples/s; 2 ranks x 1 thread $(sps "$out/b.txt") samples/s, ${comm}% of the run in allreduce (rank 0)"
done
