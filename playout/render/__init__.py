"""Frame rendering: layer sources, compositing and the canvas → universe pipeline."""

# The source registry first: the video source (video.py) builds on sources.LayerSource and
# sources.py registers it, so sources must be the one to start that import whichever module
# is imported first.
from . import sources as _sources  # noqa: F401
