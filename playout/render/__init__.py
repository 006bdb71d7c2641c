"""Frame rendering: layer sources, compositing and the canvas → universe pipeline."""
