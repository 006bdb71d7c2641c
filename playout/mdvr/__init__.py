"""The MDVR gateway (CMSV6 "$$dc" vehicle cameras): signaling and media servers, telemetry,
alarms and their files, live video into canvases, and a device simulator.

    gateway/    servers, device links, sessions, the Python API the REST layer calls
                (a package of small parts; its __init__ lists them)
    files.py    alarm file downloads: resumable, checked, remuxed to MP4 + JPEG thumbnail
    video.py    live H.264/H.265 decoding in a worker thread, scaled for each canvas
    feeds.py    the live frames the ``mdvr-live`` layer source reads (no Trio, no PyAV)
    sim.py      simulated devices (``trocadero mdvr-sim``, tests, benchmarks)

This package's ``__init__`` imports nothing: the render sources import ``feeds`` alone.
"""
