#!/usr/bin/env bash
# Bash completion (completions/sonodream.bash) offers the subcommands, a
# subcommand's options, and the layer and class names of the model on the line.
set -euo pipefail
source_dir=${SONO_SOURCE_DIR:?set by CTest}
binary=$(realpath "${SONO_BINARY:?set by CTest}")
model=$source_dir/models/us8k-seed.model
source "$source_dir/completions/sonodream.bash"
status=0
complete_line() { # complete_line EXPECTED WORD... (the last word is completed)
  local expected=$1
  shift
  COMP_WORDS=("$binary" "$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  _sonodream
  local got="${COMPREPLY[*]:-}"
  if [ "$got" != "$expected" ]; then
    echo "completion: '${*}' gave '$got', expected '$expected'" >&2
    status=1
  fi
}
complete_line "dream" dr
complete_line "--layer" dream "$model" in.wav --la
complete_line "--top" classify --to
complete_line "conv1 conv2 conv3 conv4 conv5" dream "$model" in.wav --layer conv
complete_line "siren street_music" dream "$model" in.wav --class s
complete_line "" classify --top ""
[ $status = 0 ] && echo "completion: subcommands, options, layer and class names"
exit $status
