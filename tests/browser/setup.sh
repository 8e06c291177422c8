#!/usr/bin/env bash
# puppeteer-core for the browser tests, installed once from npm into a folder
# outside git (default: build/node, or $SONO_NODE_PREFIX), without a browser
# download: the tests drive Debian's chromium. Prints the path of the
# puppeteer-core module to require(). Concurrent callers (ctest -j) wait for
# each other on a lock.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
prefix=${SONO_NODE_PREFIX:-$top/build/node}
version=24.10.0 # the newest line that still runs on Debian 12's Node.js 18
module=$prefix/node_modules/puppeteer-core
if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
  echo "browser setup: node and npm are needed (SONO_WITH_BROWSER=1 scripts/install-deps installs them)" >&2
  exit 1
fi
mkdir -p "$prefix"
(
  flock 9
  installed=$(node -p "require('$module/package.json').version" 2> /dev/null || true)
  if [ "$installed" != "$version" ]; then
    echo "browser setup: npm install puppeteer-core@$version into $prefix" >&2
    PUPPETEER_SKIP_DOWNLOAD=1 npm install --prefix "$prefix" --no-audit --no-fund --no-save --loglevel=error \
      "puppeteer-core@$version" >&2
  fi
) 9> "$prefix/.lock"
echo "$module"
