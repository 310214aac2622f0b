#!/usr/bin/env bash
# Set up a development environment and run Satchel on this machine.
#   bash scripts/dev.sh demo   set up, build the demo curriculum into site/ and serve it on http://127.0.0.1:8000/
#   bash scripts/dev.sh test   set up (Chromium included) and run the whole test suite
set -euo pipefail
cd "$(dirname "$0")/.."

setup() {
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[test]'
}

# The tests drive Debian's chromium, start their own PostgreSQL server (Debian's package), make
# a certificate with openssl and serve bundles with nginx and Caddy.
need_test_packages() {
  local missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
  command -v openssl >/dev/null || missing+=(openssl)
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)  # tests/test_machines.py: the load balancer
  command -v caddy >/dev/null || missing+=(caddy)  # tests/test_publish.py: the printed Caddyfile
  command -v ffmpeg >/dev/null || missing+=(ffmpeg)  # tests/test_media_build.py: `satchel build --media low`, the demo's media
  command -v dnsmasq >/dev/null || [ -x /usr/sbin/dnsmasq ] || missing+=(dnsmasq-base)  # tests/test_hotspot.py: dnsmasq --test
  command -v pebble >/dev/null || missing+=(pebble)  # tests/test_cert.py: an ACME server (and pebble-challtestsrv, its DNS)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ]; then
    echo "Installing Debian's ${missing[*]} for the tests..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "The tests need Debian's ${missing[*]}: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
}

case "${1:-}" in
  demo)
    setup
    .venv/bin/satchel build curricula/demo -o site
    port="${PORT:-8000}"
    echo "Serving the demo on http://127.0.0.1:${port}/ (Ctrl-C to stop)"
    exec .venv/bin/python -m http.server --bind 127.0.0.1 --directory site "$port"
    ;;
  test)
    setup
    need_test_packages
    .venv/bin/ruff check builder hub tests benchmarks
    exec .venv/bin/python -m pytest "${@:2}"
    ;;
  *)
    echo "usage: bash scripts/dev.sh demo|test [pytest arguments]" >&2
    exit 2
    ;;
esac
