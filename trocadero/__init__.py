"""Trocadero: real-time playout daemon for a landmark building's LED installation."""

__version__ = "0.1.0"
