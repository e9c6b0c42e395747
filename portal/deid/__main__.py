"""``python -m portal.deid``: compile the engine's hot modules for this interpreter (``native``)."""
from portal.deid import native

native.main()
