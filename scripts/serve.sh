#!/usr/bin/env bash
# Install, build the index on the embedded defaults (once), and serve the search page.
# Usage: bash scripts/serve.sh [initialize_db.py flags, e.g. --source folder --images-dir ~/Pictures/art]
# Flags given here always rebuild; with none, an existing index is reused, and one that cannot be read
# (`python -m artsearch info` fails) stops the script instead of starting a rebuild over it.
# ARTSEARCH_SKIP_INSTALL=1 uses the `python` on PATH as it is (an environment you manage yourself).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${ARTSEARCH_SKIP_INSTALL:-}" != 1 ]; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  . .venv/bin/activate
  pip install -q torch==2.13.0
  pip install -q -r requirements.txt
  pip install -q --no-deps -e .  # the artsearch package and its command, from this checkout
fi

if [ "$#" -gt 0 ]; then
  python qdrant/initialize_db.py "$@"
elif ! info=$(python -m artsearch info --json); then
  echo "serve.sh: the index could not be read (the line above says why), so it is not rebuilt over;" \
    "fix that, or pass initialize_db.py flags to rebuild it." >&2
  exit 1
elif ! grep -q '"artworks": [1-9]' <<<"$info"; then
  python qdrant/initialize_db.py
fi
exec streamlit run serve.py  # app.py, with the model loaded before the server answers (serve.py)
