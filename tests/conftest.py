"""Fixtures the test modules share, and the ones that start a stand-in server; their helpers are in tests/support/."""

from __future__ import annotations

import pytest

from tests.support.indexes import test_settings


@pytest.fixture(scope="session")
def tiny_clip_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A random-weight tiny CLIP in sentence-transformers format (projection dim 64), built once, offline.

    Load it with ``SentenceTransformer(tiny_clip_path, device="cpu")``.
    """
    from artsearch.testing.clip_factory import build_random_clip

    return str(build_random_clip(tmp_path_factory.mktemp("tiny_clip") / "model", size="tiny", seed=0))


@pytest.fixture(scope="session")
def hub_home(tmp_path_factory: pytest.TempPathFactory):
    """An ``HF_HOME`` whose hub cache holds a tiny random CLIP as ``sentence-transformers/clip-ViT-B-32``, in the
    hub repo's exact file layout (artsearch/testing/hub_cache.py): what a first ``clip-ViT-B-32`` download leaves.

    Returns (HF_HOME, snapshot folder). Tests must not change it.
    """
    from artsearch.testing.hub_cache import build_hub_clip

    home = tmp_path_factory.mktemp("hf_home")
    return home, build_hub_clip(home, size="tiny", seed=3)


# --- an indexed collection, built once per session through the real pipeline ----------------


@pytest.fixture(scope="session")
def shared_encoder(tiny_clip_path: str):
    """The tiny CLIP loaded once through the same Encoder as clip-ViT-B-32."""
    from artsearch.model.encoder import Encoder

    return Encoder(tiny_clip_path, device="cpu", batch_size=8)


@pytest.fixture(scope="session")
def kaggle_index(tmp_path_factory: pytest.TempPathFactory, tiny_clip_path: str, shared_encoder):
    """A Kaggle-layout dataset with broken files, ingested with the tiny CLIP into embedded Qdrant.

    Returns (settings, layout, report). Tests must not modify it; copy it for destructive tests.
    """
    from artsearch.rebuild import rebuild
    from artsearch.sources import SourceOptions
    from tests.support.datasets import make_kaggle_layout

    root = tmp_path_factory.mktemp("kaggle_index")
    settings = test_settings(root, tiny_clip_path)
    layout = make_kaggle_layout(settings.data_dir / "kaggle")
    report = rebuild(settings, SourceOptions(source="kaggle"), encoder=shared_encoder, progress=False)
    return settings, layout, report


@pytest.fixture(scope="session", autouse=True)
def same_engine_and_inference_everywhere(tmp_path_factory: pytest.TempPathFactory):
    """Processes and pages the tests start use the engine and inference path the test indexes are built with,
    and ONNX exports go to a cache of this session's own, never the user's ~/.cache."""
    import os

    wanted = {
        "ARTSEARCH_EMBEDDED_ENGINE": os.environ.get("ARTSEARCH_TEST_ENGINE", "edge"),
        "ARTSEARCH_INFERENCE": os.environ.get("ARTSEARCH_TEST_INFERENCE", "torch"),
        "ARTSEARCH_CACHE_DIR": str(tmp_path_factory.mktemp("artsearch-cache")),
    }
    previous = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    yield wanted
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


# --- GCS: fake-gcs-server and a throwaway service account (tests/support/gcs.py) ----------------------------


@pytest.fixture(scope="session")
def fake_gcs(tmp_path_factory: pytest.TempPathFactory):
    """A running fake-gcs-server and an admin client for it (a FakeGCS), started once, for the tests that ask."""
    from tests.support.gcs import running_fake_gcs

    with running_fake_gcs(tmp_path_factory.mktemp("fake-gcs")) as fake:
        yield fake


@pytest.fixture
def gcs_bucket(fake_gcs) -> str:
    """A fresh, empty bucket per test."""
    return fake_gcs.new_bucket()


@pytest.fixture(scope="session")
def service_account_key():
    """A throwaway RSA key, so URL signing really runs."""
    from tests.support.gcs import new_service_account_key

    return new_service_account_key()


@pytest.fixture(scope="session")
def service_account_info(service_account_key) -> dict[str, str]:
    """What a downloaded service-account JSON key looks like, with the throwaway key."""
    from tests.support.gcs import service_account_info_for

    return service_account_info_for(service_account_key)


@pytest.fixture
def gcs_storage(fake_gcs, service_account_info, gcs_bucket):
    """A GCSStorage on a fresh bucket of the emulator, prefix ``art/``, signing with the throwaway key."""
    from tests.support.gcs import make_gcs_storage

    return make_gcs_storage(fake_gcs, service_account_info, gcs_bucket)


@pytest.fixture
def denying_server():
    """URL of a local HTTP server that answers every GCS request with 403 Forbidden."""
    from tests.support.gcs import running_denying_server

    with running_denying_server() as url:
        yield url


# --- the page's process-wide service, fresh per test (a test points the page at its own index) ---------------


@pytest.fixture
def fresh_services():
    """The page's cached SearchService forgotten before and after the test."""
    from artsearch.web import resources

    resources._service.clear()
    yield
    resources._service.clear()


# --- other stand-ins -----------------------------------------------------------------------------------------


@pytest.fixture
def museum():
    """A local stand-in of the Cleveland Museum of Art API serving tests/support/museum.py's records."""
    from tests.support.museum import running_museum

    with running_museum() as state:
        yield state


# --- the app served by `streamlit run`, for the browser tests (tests/support/browser.py) ---------------------


@pytest.fixture(scope="module")
def browser_index(kaggle_index, tmp_path_factory):
    """A private copy of the session index: the served app is another process and holds its folder open."""
    from tests.support.indexes import copy_index

    return copy_index(kaggle_index, tmp_path_factory.mktemp("browser_index"))[0]


@pytest.fixture
def served_app(browser_index, tmp_path):
    """The app serving the test index (a copy per test module); yields its URL."""
    from tests.support.browser import serve

    with serve(browser_index, tmp_path) as url:
        yield url
