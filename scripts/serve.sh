#!/usr/bin/env bash
# Install, build the index on the embedded defaults (once), and serve the search page.
# Usage: bash scripts/serve.sh [initialize_db.py flags, e.g. --source folder --images-dir ~/Pictures/art]
# Flags given here always rebuild; with none, an existing index is reused.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x .venv/bin/python ] || python3 -m venv .venv
. .venv/bin/activate
pip install -q torch==2.13.0
pip install -q -r requirements.txt
pip install -q --no-deps -e .  # the artsearch package and its command, from this checkout

if [ "$#" -gt 0 ] || ! python -m artsearch info --json 2>/dev/null | grep -q '"artworks": [1-9]'; then
  python qdrant/initialize_db.py "$@"
fi
exec streamlit run app.py
