"""`make bench`: every benchmark, each regenerating its own section of docs/benchmarks.md in place."""

from __future__ import annotations

import argparse
import json
import sys
from types import ModuleType

from bench import (
    big_upload,
    cold_start,
    cost,
    duplicate_ids,
    end_to_end,
    export_parts,
    model_serving,
    preprocess,
    scale,
)
from local.stack import stop_on_sigterm

# name -> (module with run(command=), to_markdown(), write_section(), SECTION and DOC; what it measures)
BENCHMARKS: dict[str, tuple[ModuleType, str]] = {
    "model_serving": (model_serving, "Model serving benchmark"),
    "preprocess": (preprocess, "Preprocess throughput benchmark (one core, 10 and 100 MB of JSONL)"),
    "end_to_end": (end_to_end, "End-to-end benchmark on the local emulator (5,000 and 50,000 reviews)"),
    "scale": (scale, "Memory against upload size on the local emulator (10 MB, 100 MB, 1 GB)"),
    "cold_start": (cold_start, "Cold start benchmark (handler imports, fresh processes)"),
    "cost": (cost, "Cost per 1,000,000 reviews, from the handlers run on moto"),
    "big_upload": (big_upload, "A 1 GB upload in pieces on the emulator (reading only)"),
    "duplicate_ids": (duplicate_ids, "Duplicate-id check at 1 and 10 million ids (dict against SQLite)"),
    "export_parts": (export_parts, "A 1,000,000-row job's export in parts on the emulator"),
}
# Run only when named with --only: big_upload writes a 1 GB file and holds it in the emulator for minutes;
# duplicate_ids holds 10 million ids in a dict (1.6 GB) and takes minutes of CPU; export_parts stores a
# million items in the emulator's table and exports them (about ten minutes).
_ON_REQUEST = {"big_upload", "duplicate_ids", "export_parts"}
# Printed in full: every section but model serving, which is long and already printed by its own main().
# The cost section ends with its figure, so `--only cost` prints that line last.
_PRINTED = set(BENCHMARKS) - {"model_serving"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", choices=list(BENCHMARKS), action="append", help="run only this benchmark")
    args = parser.parse_args(argv)
    chosen = args.only or [name for name in BENCHMARKS if name not in _ON_REQUEST]
    stop_on_sigterm()
    command = " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])])
    for name in (name for name in BENCHMARKS if name in chosen):
        module, title = BENCHMARKS[name]
        print(f"{title}...", flush=True)
        result = module.run(command=command)
        if name in _ON_REQUEST:
            print(json.dumps(result, default=str), flush=True)  # its raw figures, should the table fail
        markdown = module.to_markdown(result)
        module.write_section(markdown)
        print(f"  wrote the {module.SECTION!r} section of {module.DOC}", flush=True)
        if name in _PRINTED:
            print(markdown.rstrip("\n"), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
