"""Benchmarks: `make bench` (python -m bench) regenerates each section of docs/benchmarks.md in place."""

import sys
from pathlib import Path

# The benchmarks use the pipeline's own code (e.g. the result store's item builder), which Lambda finds in the
# function's layer; from the repository root it is here.
_LAYER = str(Path(__file__).resolve().parent.parent / "layers" / "review_pipeline")
if _LAYER not in sys.path:
    sys.path.append(_LAYER)
