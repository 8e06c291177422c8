#!/usr/bin/env bash
# The whole pipeline under valgrind memcheck: prepare a small class-folder
# tree, train two epochs of the default topology, classify a clip, and dream
# one second (with the report: WAV, PNG, JSON, HTML). Any invalid read or
# write, use of an uninitialised value, or leak (definite, indirect or
# possible) fails the run.
#   tests/valgrind/e2e.sh BINARY      (make test-valgrind builds BINARY without
#                                      AVX-512, which valgrind cannot decode)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(realpath "${1:?usage: e2e.sh BINARY}")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

# Four classes from the example clips: two training copies and one
# validation copy each (the TRAIN-/VALIDATE- prefixes give the split).
for clip in "$top"/examples/*.flac; do
  class=$(basename "$clip" | cut -d- -f1)
  mkdir -p "tree/$class"
  for name in TRAIN-a TRAIN-b VALIDATE-a; do cp "$clip" "tree/$class/$name.flac"; done
done
cp "$top/examples/siren-102871-8-0-0.flac" siren.flac

memcheck=(valgrind --tool=memcheck --error-exitcode=99 --leak-check=full
          --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible
          --track-origins=yes --num-callers=40 --suppressions="$top/tests/valgrind/memcheck.supp" --quiet)
# Two OpenMP threads, so the threaded paths run under memcheck too; OpenBLAS
# runs inside them, single-threaded, as in a normal run.
export OMP_NUM_THREADS=2

run() {
  echo "valgrind: sonodream $*"
  if ! "${memcheck[@]}" --log-file=valgrind.log "$bin" "$@" > out.txt 2>&1; then
    cat out.txt valgrind.log >&2
    echo "valgrind: FAILED: sonodream $*" >&2
    exit 1
  fi
  if [ -s valgrind.log ]; then
    cat valgrind.log >&2
    echo "valgrind: reports for: sonodream $*" >&2
    exit 1
  fi
}

run prepare tree -o tree.safetensors --seconds 1 --mels 32
run train tree.safetensors -o tree.model --epochs 2 --batch 4 --checkpoint-every 3
run classify tree.model siren.flac --top 2
run dream tree.model siren.flac -o dream.wav --iterations 2 --octaves 2 --report
run dream tree.model --noise 1 -o noise.wav --layer conv3 --channel 1 --iterations 2 --octaves 1
for f in tree.safetensors tree.model dream.wav dream.png dream.json dream.html noise.wav; do
  [ -s "$f" ] || { echo "valgrind: $f was not written" >&2; exit 1; }
done
echo "valgrind: the pipeline is clean under memcheck"
