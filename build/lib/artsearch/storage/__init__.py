"""Where images, ``artists.json`` and map projections live: a local folder or a GCS bucket.

The app and the ingest only see the :class:`~artsearch.storage.base.Storage` protocol, so
switching ``[Storage] BACKEND`` between ``local`` and ``gcs`` changes nothing else.

* :mod:`~artsearch.storage.base`: the protocol, the key rules, the artists.json format;
* :mod:`~artsearch.storage.local`: a folder;
* :mod:`~artsearch.storage.gcs`: a bucket, shown to browsers through V4 signed URLs;
* :mod:`~artsearch.storage.upload`: ``python -m artsearch upload``, a local folder into the bucket.
"""

from __future__ import annotations

from artsearch.config import Settings
from artsearch.storage.base import Storage
from artsearch.storage.local import LocalStorage


def open_storage(settings: Settings) -> Storage:
    """The storage backend the settings name."""
    if settings.storage_backend == "gcs":
        # Imported only when asked for: google-cloud-storage takes a while to import, and the
        # local backend (the default) never needs it.
        from artsearch.storage.gcs import GCSStorage

        return GCSStorage.from_settings(settings)
    return LocalStorage(settings.data_dir)
