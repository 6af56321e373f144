#!/usr/bin/env bash
# Installs what portcullis needs on a fresh Debian machine. Safe to run again; it
# only installs what is missing.
#   scripts/setup.sh --build   what the build needs (cmake for pingora's zlib-ng)
#   scripts/setup.sh           that, plus what the tests talk to: nginx, Caddy, Redis,
#                              Chromium, the test IdP's Node packages, the
#                              Hermes and JupyterLab dashboards in cached
#                              virtualenvs, and buildah and debootstrap for the
#                              container test
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_ONLY=false
[ "${1:-}" = "--build" ] && BUILD_ONLY=true

if ! command -v cargo >/dev/null; then
  echo "setup: cargo is missing. Install the Rust toolchain (https://rustup.rs), then run this again." >&2
  exit 1
fi

need_apt=()
command -v cmake >/dev/null || need_apt+=(cmake)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
command -v cc >/dev/null || need_apt+=(build-essential)
if ! $BUILD_ONLY; then
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need_apt+=(nginx-light)
  command -v redis-server >/dev/null || need_apt+=(redis-server)
  command -v caddy >/dev/null || need_apt+=(caddy)
  command -v chromium >/dev/null || need_apt+=(chromium)
  command -v openssl >/dev/null || need_apt+=(openssl)
  command -v node >/dev/null || need_apt+=(nodejs npm)
  command -v curl >/dev/null || need_apt+=(curl)
  command -v jq >/dev/null || need_apt+=(jq)
  # The container test: an OCI builder that needs no daemon, and the tool that
  # makes its stand-in base images from Debian's packages.
  command -v buildah >/dev/null || need_apt+=(buildah)
  command -v debootstrap >/dev/null || need_apt+=(debootstrap)
fi

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if $BUILD_ONLY; then
  echo "setup: done (build only)" >&2
  exit 0
fi

# Node packages for the test IdP (oidc-provider) and the browser driver.
if [ ! -d tests/idp/node_modules ] || [ tests/idp/package-lock.json -nt tests/idp/node_modules ]; then
  echo "setup: installing test IdP packages" >&2
  (cd tests/idp && npm ci --no-audit --no-fund --loglevel=error)
fi
# The real dashboards the tests put portcullis in front of, each from PyPI in a
# cached virtualenv: Hermes (hermes-agent) and JupyterLab.
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/portcullis"
# A marker written after a complete install names the version, so an interrupted
# install or a version bump installs afresh.
venv() { # venv DIR EXECUTABLE PACKAGE==VERSION
  if [ ! -x "$1/bin/$2" ] || [ ! -f "$1/.installed-$3" ]; then
    echo "setup: installing $3 into $1" >&2
    if ! python3 -c "import venv, ensurepip" 2>/dev/null; then
      SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
      $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3 python3-venv >/dev/null
    fi
    mkdir -p "$(dirname "$1")"
    rm -rf "$1"
    python3 -m venv "$1"
    "$1/bin/pip" install -q --disable-pip-version-check "$3"
    touch "$1/.installed-$3"
  fi
}
venv "${PORTCULLIS_HERMES_VENV:-$CACHE/hermes-venv}" hermes hermes-agent==0.19.0
venv "${PORTCULLIS_JUPYTER_VENV:-$CACHE/jupyter-venv}" jupyter-lab jupyterlab==4.6.6
echo "setup: done" >&2
