#!/usr/bin/env bash
# sonodream serve in a real browser: Debian's chromium driven by
# puppeteer-core (tests/serve_browser.cjs). puppeteer-core is installed from
# npm into a cache outside git (build/node, or $SONO_NODE_PREFIX) the first
# time; it uses /usr/bin/chromium and downloads no browser. The screenshot
# is saved as serve-browser.png in the working folder (the build folder
# under CTest).
set -euo pipefail
test_name=cli_serve_browser
source "$(dirname "$0")/serve_lib.sh"
[ -x /usr/bin/chromium ] || fail "chromium is not installed (SONO_WITH_BROWSER=1 scripts/install-deps installs it)"
command -v npm > /dev/null || fail "npm is not installed (SONO_WITH_BROWSER=1 scripts/install-deps installs it)"
puppeteer_version=24.37.5
prefix=${SONO_NODE_PREFIX:-$top/build/node}
if [ ! -f "$prefix/node_modules/puppeteer-core/package.json" ] ||
   ! grep -q "\"version\": \"$puppeteer_version\"" "$prefix/node_modules/puppeteer-core/package.json"; then
  mkdir -p "$prefix"
  echo "$test_name: installing puppeteer-core $puppeteer_version into $prefix"
  PUPPETEER_SKIP_DOWNLOAD=1 npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error \
    "puppeteer-core@$puppeteer_version" > "$tmp/npm.log" 2>&1 || fail "npm install failed: $(tail -5 "$tmp/npm.log")"
fi

start_server page "$model"
NODE_PATH=$prefix/node_modules timeout 900 node "$top/tests/serve_browser.cjs" "$url" "$dog" "$tmp" ||
  fail "see above; server log: $(tail -5 "$tmp/page/err")"
cp "$tmp/serve-browser.png" serve-browser.png
echo "$test_name: screenshot saved to $(pwd)/serve-browser.png"
kill -TERM "$pid"
wait "$pid" || fail "the server did not exit cleanly"
