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

need_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  if [ "$(id -u)" = 0 ]; then
    echo "Installing Debian's chromium for the browser tests..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "The browser tests need Debian's chromium: sudo apt-get install chromium" >&2
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
    need_chromium
    .venv/bin/ruff check builder hub tests benchmarks
    exec .venv/bin/python -m pytest "${@:2}"
    ;;
  *)
    echo "usage: bash scripts/dev.sh demo|test [pytest arguments]" >&2
    exit 2
    ;;
esac
