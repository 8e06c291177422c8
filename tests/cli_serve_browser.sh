#!/usr/bin/env bash
# sonodream serve in a real browser: Debian's chromium driven by
# puppeteer-core (tests/serve_browser.cjs), the version the dependency step
# installed (tests/browser/setup.sh); it uses /usr/bin/chromium and downloads
# no browser. The screenshot
# is saved as serve-browser.png in the working folder (the build folder
# under CTest).
set -euo pipefail
test_name=cli_serve_browser
source "$(dirname "$0")/serve_lib.sh"
[ -x /usr/bin/chromium ] || fail "chromium is not installed (SONO_WITH_BROWSER=1 scripts/install-deps installs it)"
module=$("$top/tests/browser/setup.sh") || fail "puppeteer-core is not installed"

start_server page "$model"
NODE_PATH=$(dirname "$module") timeout 900 node "$top/tests/serve_browser.cjs" "$url" "$dog" "$tmp" ||
  fail "see above; server log: $(tail -5 "$tmp/page/err")"
cp "$tmp/serve-browser.png" serve-browser.png
echo "$test_name: screenshot saved to $(pwd)/serve-browser.png"
kill -TERM "$pid"
wait "$pid" || fail "the server did not exit cleanly"
