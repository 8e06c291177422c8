#!/usr/bin/env bash
# Prints the path of the puppeteer-core module the browser tests require():
# the version tests/browser/package-lock.json pins, which the dependency
# step (SONO_WITH_BROWSER=1 scripts/install-deps, as make test runs it)
# installed into build/node or $SONO_NODE_PREFIX. A test installs nothing:
# without it, this fails and says how to install it.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
prefix=${SONO_NODE_PREFIX:-$top/build/node}
module=$prefix/node_modules/puppeteer-core
if ! command -v node > /dev/null; then
  echo "browser setup: node is needed (SONO_WITH_BROWSER=1 scripts/install-deps installs it)" >&2
  exit 1
fi
pinned=$(node -p "require('$top/tests/browser/package-lock.json').packages['node_modules/puppeteer-core'].version")
installed=$(node -p "require('$module/package.json').version" 2> /dev/null || true)
if [ "$installed" != "$pinned" ]; then
  echo "browser setup: puppeteer-core $pinned is not in $prefix (found '${installed:-nothing}');" \
       "run SONO_WITH_BROWSER=1 scripts/install-deps" >&2
  exit 1
fi
echo "$module"
