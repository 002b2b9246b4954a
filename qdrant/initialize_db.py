"""Rebuild the artwork index: ``python qdrant/initialize_db.py [--source ...]``.

With no flags it rebuilds from the configured source (secrets.toml or the
environment) into the embedded Qdrant under ``data/qdrant``. A new collection
is built beside the live one and published in one alias move, so the app
keeps serving meanwhile. Run it again after an interruption: it resumes.
``--help`` lists every flag; it is ``python -m artsearch ingest`` (and
``artsearch ingest``). It needs the project installed (``pip install -e .``,
which ``scripts/serve.sh`` and ``scripts/test.sh`` do).
"""

import sys

from artsearch.cli import main

if __name__ == "__main__":
    sys.exit(main(["ingest", *sys.argv[1:]]))
