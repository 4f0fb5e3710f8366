#!/usr/bin/env bash
# Install dflow into ./.venv. `./install.sh --dev` adds the test tools; `--link` also puts
# `dflow` on PATH as a symlink in ~/.local/bin (or $DFLOW_LINK_DIR). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"

extras=""
link=""
for arg in "$@"; do
  case "$arg" in
    --dev) extras="[dev]" ;;
    --link) link=1 ;;
    -h|--help) echo "usage: ./install.sh [--dev] [--link]"; exit 0 ;;
    *) echo "install.sh: unknown option '$arg' (use --dev, --link or nothing)" >&2; exit 2 ;;
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
link_dir=${DFLOW_LINK_DIR:-$HOME/.local/bin}
if [ -n "$link" ]; then
  mkdir -p "$link_dir"
  ln -sf "$PWD/.venv/bin/dflow" "$link_dir/dflow"
  echo "linked $link_dir/dflow -> $PWD/.venv/bin/dflow"
  case ":$PATH:" in
    *":$link_dir:"*) ;;
    *) echo "add $link_dir to PATH: export PATH=\"$link_dir:\$PATH\"" ;;
  esac
elif ! command -v dflow >/dev/null 2>&1; then
  echo "dflow is not on PATH: run ./install.sh --link (a symlink in $link_dir), or pipx install . / uv tool install ."
fi
