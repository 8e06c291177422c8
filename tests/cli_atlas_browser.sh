#!/usr/bin/env bash
# The atlas in a real browser: a small atlas (test_atlas's model and feature
# file, some clips with readable sources, some rendered from features) made by
# the command line, then checked in headless Chromium by tests/browser/check_atlas.cjs
# (puppeteer-core from tests/browser/setup.sh). Saves browser-atlas.png (the
# index) in the working folder, the build folder under CTest.
set -euo pipefail
top=${SONO_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${SONO_BINARY:-$top/build/sonodream}
fixtures_bin=$(dirname "$bin")/test_atlas
[ -x /usr/bin/chromium ] || { echo "cli_atlas_browser: /usr/bin/chromium is missing (SONO_WITH_BROWSER=1 scripts/install-deps)" >&2; exit 1; }
module=$("$top/tests/browser/setup.sh")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$fixtures_bin" --fixtures "$tmp" 2> "$tmp/fixtures.log" || { cat "$tmp/fixtures.log" >&2; exit 1; }
"$bin" atlas "$tmp/model.safetensors" "$tmp/features.safetensors" -o "$tmp/atlas" --seconds 1 \
  --octaves 2 --iterations 3 --top 4 -q > "$tmp/atlas.log"
# A channel page whose examples play both kinds of audio: an original
# recording and one rendered from the features.
page=""
for p in "$tmp"/atlas/conv*/*.html; do
  if grep -q -- '-rendered.flac' "$p" && grep -q 'clips/[^"]*[0-9a-f]\.flac' "$p"; then page=${p#"$tmp/atlas/"}; break; fi
done
[ -n "$page" ] || { echo "cli_atlas_browser: no channel page with both kinds of example audio" >&2; exit 1; }
timeout 300 node "$top/tests/browser/check_atlas.cjs" "$module" "$tmp/atlas" "$page" "$tmp/profile" "$tmp/shot.png"
cp "$tmp/shot.png" browser-atlas.png
echo "cli_atlas_browser: screenshot saved to $(pwd)/browser-atlas.png"
