#!/usr/bin/env bash
# Install the Debian packages the test suite needs; idempotent and quiet when all is present.
set -euo pipefail
need_apt=()
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)  # test certificates (httpserver TLS)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || true
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
