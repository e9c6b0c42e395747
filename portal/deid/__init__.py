"""De-identification of Chinese and English text (``engine`` is the entry point).

The hot modules run compiled when a build of their current sources exists (``native``).
"""
from portal.deid import native

native.install()
