"""Qdrant, embedded or remote, behind one code path.

* :mod:`~artsearch.index.filters`: payload filters applied inside Qdrant;
* :mod:`~artsearch.index.client`: connecting, locking, one-line errors;
* :mod:`~artsearch.index.builds`: embedded build folders and the pointer to the live one;
* :mod:`~artsearch.index.read`: :class:`VectorIndex`, the live collection the search queries;
* :mod:`~artsearch.index.write`: :class:`IndexBuilder`, which builds a collection and publishes it;
* :mod:`~artsearch.index.edge`: Qdrant Edge behind the part of ``QdrantClient`` the others use;
* :mod:`~artsearch.index.remote`: how remote collections are built and searched (every parameter).
"""
