#!/usr/bin/env bash
# Install dflow into ./.venv. `./install.sh --dev` adds the test tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"

extras=""
for arg in "$@"; do
  case "$arg" in
    --dev) extras="[dev]" ;;
    -h|--help) echo "usage: ./install.sh [--dev]"; exit 0 ;;
    *) echo "install.sh: unknown option '$arg' (use --dev or nothing)" >&2; exit 2 ;;
  esac
done

python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null 2>&1; then
  echo "install.sh: no '$python' on PATH; install Python 3.11 or newer (apt-get install python3)" >&2
  exit 1
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "install.sh: dflow needs Python 3.11 or newer, but '$python' is $("$python" -V 2>&1); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
if ! command -v git >/dev/null 2>&1; then
  echo "install.sh: dflow needs git on PATH (apt-get install git)" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  if ! "$python" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    # Debian splits venv out of the interpreter package.
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      echo "install.sh: installing python3-venv with apt-get"
      apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
      "$python" -m venv .venv
    else
      echo "install.sh: '$python -m venv' failed; install the venv module (sudo apt-get install python3-venv) and run again" >&2
      exit 1
    fi
  fi
fi

quiet="-q"
[ "${CI:-}" = "true" ] && quiet=""
.venv/bin/python -m pip install $quiet --disable-pip-version-check --upgrade "pip>=24"
.venv/bin/python -m pip install $quiet --disable-pip-version-check -e ".${extras}"
echo "dflow installed: .venv/bin/dflow ($(.venv/bin/dflow --version))"
