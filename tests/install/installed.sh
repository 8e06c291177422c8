#!/usr/bin/env bash
# The installed sonodream, as a user outside the project sees it: install the
# build into a temporary prefix; build a small C program that classifies an
# example against it, once with pkg-config and once with find_package; move
# the prefix elsewhere and run the installed program with the source and
# build trees hidden (a private mount namespace, where root may make one);
# then uninstall through the install manifest and check nothing is left.
set -euo pipefail
source_dir=${SONO_SOURCE_DIR:?set by CTest}
build_dir=${SONO_BUILD_DIR:?set by CTest}
cc=${CC:-cc}
work=$(mktemp -d /tmp/sonodream-install-test.XXXXXX)
prefix=$work/prefix
manifest=$build_dir/install_manifest.txt
# cmake --install rewrites the build's manifest: keep the user's own.
[ -f "$manifest" ] && cp "$manifest" "$work/manifest.saved"
cleanup() {
  if [ -f "$work/manifest.saved" ]; then cp "$work/manifest.saved" "$manifest"; else rm -f "$manifest"; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "installed: $*" >&2; exit 1; }

cmake --install "$build_dir" --prefix "$prefix" > "$work/install.log"
cp "$manifest" "$work/manifest"
for path in bin/sonodream include/sonodream/classifier.h include/sonodream/export.h \
            share/sonodream/models/us8k-seed.model share/sonodream/examples/siren-102871-8-0-0.flac \
            share/man/man1/sonodream.1.gz share/man/man1/sonodream-dream.1.gz \
            share/bash-completion/completions/sonodream; do
  [ -e "$prefix/$path" ] || fail "$path was not installed"
done
pc=$(find "$prefix" -name sonodream.pc)
[ -n "$pc" ] || fail "sonodream.pc was not installed"
libdir=$(dirname "$(dirname "$pc")")
for lib in libsonodream.so libsonodream.so.0 libsonodream.a; do
  [ -e "$libdir/$lib" ] || fail "$lib is not in $libdir"
done
model=$prefix/share/sonodream/models/us8k-seed.model
sound=$prefix/share/sonodream/examples/siren-102871-8-0-0.flac
expect_siren() { # expect_siren PROGRAM...
  local out
  out=$("$@") || fail "$1 failed"
  [[ $out == siren* ]] || fail "$1 printed '$out', not siren"
}

# 1. pkg-config, the five lines of the README.
flags=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --cflags --libs sonodream)
"$cc" -std=c11 -Wall -Werror "$source_dir/tests/install/classify_example.c" -o "$work/by-pkg-config" $flags \
  -Wl,-rpath,"$libdir" || fail "cc with pkg-config's flags ($flags) failed"
expect_siren "$work/by-pkg-config" "$model" "$sound"

# 2. find_package(sonodream) -> sonodream::sonodream.
cmake -S "$source_dir/tests/install" -B "$work/by-cmake" -DCMAKE_PREFIX_PATH="$prefix" > "$work/cmake.log" ||
  { cat "$work/cmake.log" >&2; fail "find_package(sonodream) failed"; }
cmake --build "$work/by-cmake" > "$work/cmake-build.log" || { cat "$work/cmake-build.log" >&2; fail "cmake build failed"; }
expect_siren "$work/by-cmake/classify_example" "$model" "$sound"
echo "installed: an outside C program classifies the example as siren (pkg-config and find_package)"

# 3. The installed program, moved elsewhere, with no build tree in sight.
moved=$work/moved
mv "$prefix" "$moved"
ldd "$moved/bin/sonodream" > "$work/ldd.txt"
grep -qF "libsonodream.so.0 => $moved/" "$work/ldd.txt" ||
  fail "the moved program does not load its own libsonodream: $(grep sonodream "$work/ldd.txt")"
cat > "$work/run-installed.sh" <<SCRIPT
set -e
cd "$work"
"$moved/bin/sonodream" classify "$moved/share/sonodream/examples/siren-102871-8-0-0.flac" --top 1 > classify.txt 2> classify.err
"$moved/bin/sonodream" dream "$moved/share/sonodream/examples/dog_bark-100652-3-0-0.flac" -o dream.wav \
  --octaves 1 --iterations 2 --griffin-lim 4 -q > dream.txt 2> dream.err
"$moved/bin/sonodream" dream "$moved/share/sonodream/examples/dog_bark-100652-3-0-0.flac" -o class.wav \
  --class siren --octaves 1 --iterations 2 -q > class.txt 2> class.err
"$moved/bin/sonodream" dream "$moved/share/sonodream/examples/dog_bark-100652-3-0-0.flac" -o single.wav \
  --class siren --octaves 1 --iterations 2 --single-model -q > single.txt 2> single.err
SCRIPT
hidden="no"
if [ "$(id -u)" = 0 ] && unshare --mount true 2> /dev/null; then
  unshare --mount bash -c "mount -t tmpfs none '$source_dir' && mount -t tmpfs none '$build_dir' 2>/dev/null;
                           [ ! -e '$source_dir/CMakeLists.txt' ] && bash '$work/run-installed.sh'" ||
    fail "the installed program failed with the source tree hidden: $(cat "$work"/*.err 2>/dev/null)"
  hidden="yes"
else
  echo "installed: not root or no mount namespaces: the source tree stays visible for this part"
  bash "$work/run-installed.sh" || fail "the installed program failed: $(cat "$work"/*.err 2>/dev/null)"
fi
grep -q "^  siren" "$work/classify.txt" || fail "installed classify printed: $(cat "$work/classify.txt")"
grep -q "using the shipped model $moved/share/sonodream/models/us8k-seed.model" "$work/classify.err" ||
  fail "classify did not say it used the shipped model: $(cat "$work/classify.err")"
grep -q "using the shipped model" "$work/dream.err" || fail "dream did not say it used the shipped model"
[ -s "$work/dream.wav" ] && [ -s "$work/dream.png" ] && [ -s "$work/dream.json" ] || fail "dream wrote no WAV/PNG/JSON"
# A class dream without MODEL dreams with the shipped robust model too; a
# layer dream and --single-model do not.
robust=$moved/share/sonodream/models/us8k-robust.model
ensemble_of() { sed -n 's/.*"ensemble":[[:space:]]*\[\(.*\)\].*/\1/p' "$1" | tr -d '"'; }
[ "$(ensemble_of "$work/class.json")" = "$robust" ] ||
  fail "the class dream's ensemble is '$(ensemble_of "$work/class.json")', not the shipped robust model"
grep -qF "the shipped robust model $robust dreams too" "$work/class.err" || fail "the class dream did not say so"
[ -z "$(ensemble_of "$work/dream.json")" ] || fail "the layer dream took an ensemble"
[ -z "$(ensemble_of "$work/single.json")" ] || fail "--single-model dreamed with an ensemble"
echo "installed: the moved program finds its library and the shipped models (source tree hidden: $hidden)"

# 4. Uninstall through the manifest: nothing of ours is left.
mv "$moved" "$prefix"
cmake -DMANIFEST="$work/manifest" -P "$source_dir/cmake/uninstall.cmake" > "$work/uninstall.log"
left=$(find "$prefix" -type f -o -type l)
[ -z "$left" ] || fail "uninstall left: $left"
left=$(find "$prefix" -mindepth 1 -name '*sonodream*')
[ -z "$left" ] || fail "uninstall left folders: $left"
echo "installed: uninstall removed all $(wc -l < "$work/manifest") installed files"
