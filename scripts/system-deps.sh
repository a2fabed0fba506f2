#!/usr/bin/env bash
# Install the Debian packages the test suite and the benchmarks need; idempotent and quiet
# when all is present.
set -euo pipefail
need_apt=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }
have wrk || need_apt+=(wrk)                # HTTP load for the benchmarks
have openssl || need_apt+=(openssl)        # test certificates (httpserver TLS, ACME CA)
have pebble || need_apt+=(pebble)          # ACME test server (+ pebble-challtestsrv)
have nginx || need_apt+=(nginx)            # reverse-proxy benchmark peer, never a service
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Installing nginx must not start it as a system service (the benchmarks start their own
  # on a free port): a policy-rc.d that denies every start, for the install only.
  policy=/usr/sbin/policy-rc.d
  own_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && own_policy=1
  fi
  trap 'if [ -n "$own_policy" ]; then rm -f "$policy"; fi' EXIT
  log=$(mktemp)
  apt-get update -qq >"$log" 2>&1 || true
  if ! apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >>"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
fi
