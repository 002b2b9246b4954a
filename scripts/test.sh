#!/usr/bin/env bash
# Install everything the tests need (virtualenv, Python packages, Debian's Chromium) and run them.
# Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian's chromium for the browser test"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
. .venv/bin/activate
# torch first: 2.13.0 is the CPU build; installing it alone keeps pip from picking a CUDA build.
pip install -q torch==2.13.0
pip install -q -r requirements-dev.txt
pip install -q --no-deps -e .  # the artsearch package and its command, from this checkout

export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
python -m ruff check .
python -m pytest "$@"
