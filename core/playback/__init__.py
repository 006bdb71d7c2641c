"""Playback: cue lists, parks, scripted overrides and the emergency latch, merged per canvas
by the priority ladder into a composition plan the renderer draws (`plan.py`).

Pure and clock-free: every call takes the frame time `t` (seconds on the frame clock), so the
same engine runs under the daemon and under a test's controlled clock.
"""
