"""Builds the Cython kernels in native/ (everything else is in pyproject.toml).

TROCADERO_DEBUG_CYTHON=1 turns on bounds/wraparound checks and line tracing, and records
the profile so `trocadero version` says which build is running.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = Path(__file__).parent
DEBUG = os.environ.get("TROCADERO_DEBUG_CYTHON") == "1"
PROFILE = "debug" if DEBUG else "release"

directives = {
    "language_level": "3",
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": True,
    "embedsignature": True,
    "linetrace": DEBUG,
}
compile_args = ["-O0", "-g"] if DEBUG else ["-O3"]
macros = [
    ("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"),
    ("TROCADERO_BUILD_PROFILE", f'"{PROFILE}"'),
]
if DEBUG:
    macros.append(("CYTHON_TRACE_NOGIL", "1"))

extensions = [
    Extension(
        f"trocadero.native.{pyx.stem}",
        [str(pyx.relative_to(HERE))],
        include_dirs=[numpy.get_include(), "native"],
        define_macros=macros,
        extra_compile_args=compile_args,
    )
    for pyx in sorted((HERE / "native").glob("*.pyx"))
]

# cythonize only notices .pyx changes: a profile switch must force a rebuild by itself.
PROFILE_STAMP = HERE / "build" / "cython-profile"
FORCE = not PROFILE_STAMP.exists() or PROFILE_STAMP.read_text() != PROFILE
PROFILE_STAMP.parent.mkdir(exist_ok=True)
PROFILE_STAMP.write_text(PROFILE)

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives=directives,
        annotate=DEBUG,
        force=FORCE,
        nthreads=0 if sys.platform != "linux" else 2,
    ),
    options={"build_ext": {"force": FORCE}},
)
