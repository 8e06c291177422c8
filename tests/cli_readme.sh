#!/usr/bin/env bash
# The README's usage commands, run as written (only `sonodream` becomes the
# built binary) on a small UrbanSound8K-layout tree made from the example
# clips, so the README cannot drift from what the program accepts.
set -euo pipefail
top=${SONO_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${SONO_BINARY:-$top/build/sonodream}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

# path/to/UrbanSound8K: the four example clips, two per fold in folds 1-10.
root=path/to/UrbanSound8K
mkdir -p "$root/metadata"
echo "slice_file_name,fsID,start,end,salience,fold,classID,class" > "$root/metadata/UrbanSound8K.csv"
examples=("$top"/examples/*.flac)
for fold in $(seq 1 10); do
  mkdir -p "$root/audio/fold$fold"
  for k in 0 1; do
    src=${examples[$(( (2 * fold + k) % ${#examples[@]} ))]}
    name=$(basename "$src" .flac)           # class-fsID-classID-occurrence-slice
    class=${name%%-*}
    slice=${name#*-}
    id=$(echo "$slice" | cut -d- -f2)
    file="$slice-f$fold.flac"
    cp "$src" "$root/audio/fold$fold/$file"
    echo "$file,${slice%%-*},0,4,1,$fold,$id,$class" >> "$root/metadata/UrbanSound8K.csv"
  done
done
cp "$top/examples/siren-102871-8-0-0.flac" siren.wav
cp "$top/examples/dog_bark-100652-3-0-0.flac" dog.flac
cp "$top/examples/street_music-14387-9-0-11.flac" street.wav

commands=$(sed -n '/^The whole pipeline on UrbanSound8K/,/^Every command/p' "$top/README.md" | grep '^    sonodream ')
[ "$(echo "$commands" | grep -c .)" -ge 8 ] || { echo "cli_readme: usage block not found in README.md" >&2; exit 1; }
while IFS= read -r line; do
  cmd=${line#    sonodream }
  echo "cli_readme: sonodream $cmd"
  # shellcheck disable=SC2086 # the README's words, split as a shell would
  if ! "$bin" $cmd > out.txt 2>&1; then
    cat out.txt >&2
    echo "cli_readme: README command failed: sonodream $cmd" >&2
    exit 1
  fi
done <<< "$commands"
for f in us8k.safetensors us8k.model street-dream.wav street-dream.png street-dream.json siren-dream.wav \
         what-conv5-hears.wav guided.wav more-street.wav dog-as-street.wav; do
  [ -s "$f" ] || { echo "cli_readme: $f was not written" >&2; exit 1; }
done
echo "cli_readme: all README usage commands ran"
