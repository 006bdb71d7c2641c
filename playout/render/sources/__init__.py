"""Layer sources: what a layer draws into its canvas-sized buffer at each frame time.

The interface
-------------
A source is built once from its kind's parameters and the canvas it draws on
(``build_source(kind, params, canvas, context)``); every problem with the parameters is
reported at once as a ``SourceError`` with one line per problem, each naming the parameter::

    chase: param "speed": must be a number (got "fast")
    chase: param "direction": must be one of right, left, down, up (got "sideways")

Then, per frame, ``render(t, out)`` fills the whole of ``out`` — a C-contiguous uint16 array of
shape (height, width, 3), values 0..65535 — for frame time ``t`` (seconds). It returns False,
without touching ``out``, when ``out`` already holds exactly that output: the last call wrote
into the same array and the source's ``frame_key(t)`` has not changed. A static source (solid
colour, a still image, a gradient with speed 0…) therefore draws once per buffer; a cycling
identify pattern redraws only when the lit fixture changes. The buffer belongs to the layer
between calls (nothing else may write into it, or the skip would be wrong).

Later sources fit the same shape: a video source's ``frame_key`` is the index of the video frame
due at ``t`` (repeated frames are skipped), a camera's is the sequence number of the newest
captured frame; ``close()`` releases decoders and devices. ``ParamSpec`` types cover their
parameters (``path``, ``boolean`` loop, ``number`` speed/in/out points with a unit, ``choice``,
``string`` device names).

What a source needs from the rest of the process comes in its ``SourceContext``, given at
construction (the renderer hands its own to every source it builds): the content library's
asset files (video ``asset`` ids), the live MDVR feeds and where decoder threads report
failures. No source reads a module global set at start-up.

Parameters
----------
Each kind declares ``params``: name → ``ParamSpec`` (type, default, range, unit, doc), which
``describe_sources()`` turns into JSON for the UI to render forms from. Values are checked and
converted once in ``__init__``: colours to 16-bit triples (``colour.py``), palettes to lookup
tables, numbers to floats. Unknown parameter names are errors (with a did-you-mean).

Coordinates
-----------
Pixel (y, x) is row y from the top, column x from the left. Angles are in degrees,
counter-clockwise from "towards the right" (90 = towards the top). Speeds are in cycles per
second, where a cycle is one pass of the pattern (a gradient's length, a chase's travel, one
noise cell, one plasma phase turn).

Performance
-----------
Coordinate fields, palettes and per-fixture pixel lists are computed in ``__init__``; the
per-frame work is a few small 1-D numpy operations plus one pass over the canvas in a Cython
loop (``fields.py``, numpy reference alongside), or a broadcast copy of one row/column (chase,
colour bars). Static sources draw once per buffer.

Layout
------
``base.py`` holds the interface (``CanvasContext``, ``ParamSpec``, ``LayerSource``); one module
per kind or family (``solid``, ``gradients``, ``chase``, ``noise``, ``plasma``,
``testpatterns``, ``still``, ``live``, ``video``, ``ripple``, ``templates``; ``fallback`` is
shared by video and live); ``registry.py`` maps kind names to classes. Kind modules import only
``base`` (and ``fallback``), the registry imports the kinds, this package re-exports the
registry: no module imports one that imports it back.
"""

from .base import AssetFiles, CanvasContext, LayerSource, ParamSpec, SourceContext, SourceError
from .registry import SOURCES, build_source, describe_sources
from .testpatterns import TestIdentify, universe_colour

__all__ = [
    "SOURCES",
    "AssetFiles",
    "CanvasContext",
    "LayerSource",
    "ParamSpec",
    "SourceContext",
    "SourceError",
    "TestIdentify",
    "build_source",
    "describe_sources",
    "universe_colour",
]
