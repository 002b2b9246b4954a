"""artsearch: artwork similarity search with CLIP and Qdrant.

Importing this package does nothing else: no secrets are read, no model is
loaded, nothing touches the network. Call :func:`artsearch.config.load_settings`
and pass the result around.
"""

__version__ = "0.1.0"
