"""The search page's logic, kept out of ``app.py`` so it can be tested without a browser.

* :mod:`~artsearch.web.state`: what a page state means and how it travels in links;
* :mod:`~artsearch.web.session`: the session-state keys and the widgets' callbacks;
* :mod:`~artsearch.web.cards`: how results, artists and messages read;
* :mod:`~artsearch.web.pictures`: result images and the upload preview;
* :mod:`~artsearch.web.map`: the collection map;
* :mod:`~artsearch.web.resources`: the cached, process-wide resources (``st.cache_*``).
"""
