#!/usr/bin/env bash
# Install the npm packages the test suite needs (tests/_oidc: the OpenID provider the auth
# tests start on loopback), from the committed lock file; idempotent and quiet when present.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/tests/_oidc"
if ! command -v npm >/dev/null 2>&1; then
  echo "npm is missing: install Node.js 20 or later (the OIDC tests need it)" >&2
  exit 1
fi
if [ -f "$dir/node_modules/.package-lock.json" ] && cmp -s "$dir/package-lock.json" "$dir/.installed-lock" 2>/dev/null; then
  exit 0
fi
echo "installing npm packages for the tests (tests/_oidc)"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
cp "$dir/package-lock.json" "$dir/.installed-lock"
