#!/usr/bin/env bash
# The Debian packages of BUILD_DIR (make deb) on this machine: lintian, then
# install them with apt-get, dream with the shipped model from
# /usr/share/sonodream, build an outside C program against the installed
# library (pkg-config and find_package), purge them, and check that nothing
# they installed is left. Needs root and dpkg (CI); skips otherwise.
# usage: tests/install/deb.sh BUILD_DIR
set -euo pipefail
build_dir=$(realpath "${1:?usage: deb.sh BUILD_DIR}")
source_dir=$(realpath "$(dirname "$0")/../..")
packages=(libsonodream0 sonodream libsonodream-dev)
fail() { echo "deb: $*" >&2; exit 1; }
if [ "$(id -u)" != 0 ] || ! command -v dpkg >/dev/null || ! command -v apt-get >/dev/null; then
  echo "deb: SKIPPED: installing packages needs root, dpkg and apt-get (CI runs as root)"
  exit 0
fi
debs=()
for p in "${packages[@]}"; do
  deb=$(ls "$build_dir"/${p}_*.deb 2>/dev/null | head -1)
  [ -n "$deb" ] || fail "no ${p}_*.deb in $build_dir (make deb)"
  debs+=("$deb")
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" &&
    fail "$p is already installed on this machine: remove it first (apt-get purge $p)"
done
work=$(mktemp -d /tmp/sonodream-deb-test.XXXXXX)
trap 'rm -rf "$work"' EXIT

# lintian: printed in full; errors fail the test, except the placeholder
# Maintainer address (SONO_DEB_MAINTAINER) when it was not set.
if command -v lintian >/dev/null; then
  lintian "${debs[@]}" 2>&1 | grep -v "^running with root" | tee "$work/lintian.txt" || true
  errors=$(grep '^E:' "$work/lintian.txt" | grep -v 'bogus-mail-host.*sonodream@localhost' || true)
  [ -z "$errors" ] || fail "lintian errors: $errors"
  echo "deb: lintian: $(grep -c '^E:' "$work/lintian.txt" || true) errors (placeholder maintainer), $(grep -c '^W:' "$work/lintian.txt" || true) warnings"
else
  echo "deb: lintian is not installed (SONO_WITH_DEB=1 scripts/install-deps): not run"
fi

for deb in "${debs[@]}"; do dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\.||' >> "$work/files"; done
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${debs[@]}" > "$work/apt.log" 2>&1 ||
  { cat "$work/apt.log" >&2; fail "apt-get install failed"; }
purge() { DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "${packages[@]}" > "$work/purge.log" 2>&1; }
trap 'purge || true; rm -rf "$work"' EXIT

cd "$work"
command -v sonodream | grep -qx /usr/bin/sonodream || fail "sonodream is not /usr/bin/sonodream"
OMP_NUM_THREADS=2 sonodream dream /usr/share/sonodream/examples/dog_bark-100652-3-0-0.flac -o dream.wav \
  --octaves 1 --iterations 2 --griffin-lim 4 -q > dream.txt 2> dream.err || fail "dream failed: $(cat dream.err)"
grep -q "using the shipped model /usr/share/sonodream/models/us8k-seed.model" dream.err ||
  fail "dream did not use the shipped model: $(cat dream.err)"
[ -s dream.wav ] && [ -s dream.png ] && [ -s dream.json ] || fail "dream wrote no WAV, PNG and JSON"
[ -f /usr/share/man/man1/sonodream-dream.1.gz ] || fail "no sonodream-dream(1)"
[ -f /usr/share/sonodream/models/us8k-robust.model ] || fail "the robust model a class dream takes as its ensemble is not installed"
echo "deb: installed; /usr/bin/sonodream dreamed with /usr/share/sonodream/models/us8k-seed.model"

cc -std=c11 -Wall -Werror "$source_dir/tests/install/classify_example.c" -o by-pkg-config \
  $(pkg-config --cflags --libs sonodream) || fail "cc with pkg-config failed"
cmake -S "$source_dir/tests/install" -B by-cmake > cmake.log && cmake --build by-cmake > cmake.log ||
  { cat cmake.log >&2; fail "find_package(sonodream) build failed"; }
for program in ./by-pkg-config ./by-cmake/classify_example; do
  out=$(OMP_NUM_THREADS=2 $program /usr/share/sonodream/models/us8k-seed.model \
        /usr/share/sonodream/examples/siren-102871-8-0-0.flac) || fail "$program failed"
  [[ $out == siren* ]] || fail "$program printed '$out', not siren"
done
echo "deb: libsonodream-dev: an outside C program (pkg-config, find_package) classifies the example as siren"

purge || { cat "$work/purge.log" >&2; fail "apt-get purge failed"; }
trap 'rm -rf "$work"' EXIT
left=""
while read -r path; do
  [ -z "$path" ] && continue
  if [ -d "$path" ]; then
    [[ $path == *sonodream* ]] && left+=" $path"   # our folders; shared ones (/usr/lib) stay
  elif [ -e "$path" ] || [ -L "$path" ]; then
    left+=" $path"
  fi
done < <(sed 's|/$||' "$work/files" | sort -u)
[ -z "$left" ] || fail "left after purge:$left"
ldconfig -p | grep -q libsonodream && fail "ldconfig still lists libsonodream"
echo "deb: purged; nothing of the $(grep -vc '/$' "$work/files") packaged files is left"
