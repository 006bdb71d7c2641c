"""Cameras: a blob tracker process per configured camera and the daemon's handle on each
(docs/cameras.md)."""
