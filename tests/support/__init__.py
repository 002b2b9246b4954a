"""Helpers the tests share: plain functions and classes, never tests, never fixtures.

Fixtures live in ``tests/conftest.py`` (built from these helpers where they need more than a few lines);
a test module imports helpers from here and never from another test module.

- ``datasets``: small on-disk datasets (the Kaggle layout with broken files, paintings, JPEG bytes).
- ``indexes``: settings for a test, copies of the session index, other indexes built through the rebuild.
- ``encoders``: a real encoder that counts the images it embeds.
- ``cli``: running the command line as a separate process.
- ``servers``: local servers the tests start (a free port, waiting until up, stopping, fake-gcs-server).
- ``gcs``: fake-gcs-server, a throwaway service account, a server that answers 403.
- ``museum``: a local stand-in of the Cleveland Museum of Art API and its records.
- ``app``: driving ``app.py`` through Streamlit's AppTest and reading what it shows.
- ``filesystems``: small tmpfs filesystems the tests mount and fill (full-disk tests).
- ``hostile``: adversarial inputs (megabyte query texts built to make a parser backtrack).
- ``browser``: ``streamlit run app.py`` on localhost and Debian's Chromium through Playwright.
- ``search_server``: a script, run as a subprocess, that plays the app's server process.
- ``page_server``: a script, run as a subprocess, that is the app's server process: app.py through AppTest.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository root: app.py, qdrant/, artsearch/
