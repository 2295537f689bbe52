#!/usr/bin/env bash
# test/dash/setup.sh — fetches the browser tests' one npm dependency,
# playwright-core (pinned by package-lock.json), into test/dash/node_modules
# when it is missing or older than the lock file.  No browser is downloaded:
# the tests drive Debian's /usr/bin/chromium (test/install-deps.sh installs
# it).  test/run-tests.sh runs this before the TAP tests, and
# test/lib/DashLocal.pm runs it when node_modules is missing.
set -euo pipefail
cd "$(dirname "$0")"
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
fi
[ -x /usr/bin/chromium ] || { echo "test/dash/setup.sh: /usr/bin/chromium is missing (apt-get install chromium)" >&2; exit 1; }
