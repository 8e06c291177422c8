#!/usr/bin/env bash
# Every subcommand of the program has a man page (sonodream-<command>.1.gz in
# MAN_DIR) that mentions each long option its parser accepts: the getopt
# table of the file in src/cli that defines cmd_<command>, read independently
# of --help.
set -euo pipefail
binary=${SONO_BINARY:?set by CTest}
man_dir=${1:-${SONO_MAN_DIR:?set by CTest}}
source_dir=${SONO_SOURCE_DIR:?}
[ -f "$man_dir/sonodream.1.gz" ] || { echo "man: no sonodream.1.gz in $man_dir" >&2; exit 1; }
commands=$("$binary" --help | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z-]*\).*/\1/p')
[ -n "$commands" ] || { echo "man: no commands in '$binary --help'" >&2; exit 1; }
status=0 checked=0
for command in $commands; do
  page=$man_dir/sonodream-$command.1.gz
  [ -f "$page" ] || { echo "man: no page for '$command' ($page)" >&2; status=1; continue; }
  text=$(zcat "$page" | sed 's/\\-/-/g; s/\\f[BIRP]//g; s/\\f(..//g')
  # The file that defines cmd_<command> (texture and style share dream's parser).
  source=$(grep -l "^int cmd_${command//-/_}(" "$source_dir"/src/cli/*.c | head -1)
  options=$(grep -oE '\{"[a-z][a-z0-9-]*", *(required|no|optional)_argument' "${source:-/dev/null}" |
            sed -E 's/^\{"([^"]+)".*/\1/')
  [ -n "$options" ] || { echo "man: no option table found for cmd_$command in src/cli" >&2; status=1; }
  for option in $options; do
    grep -qE -- "--$option([^a-z0-9-]|$)" <<< "$text" ||
      { echo "man: sonodream-$command(1) does not mention --$option" >&2; status=1; }
    checked=$((checked + 1))
  done
  zgrep -q "sonodream-$command" "$man_dir/sonodream.1.gz" ||
    { echo "man: sonodream(1) does not refer to sonodream-$command(1)" >&2; status=1; }
done
[ $status = 0 ] && echo "man: $(wc -w <<< "$commands") command pages mention all $checked options"
exit $status
