"""`make bench`: every benchmark, each regenerating its own section of docs/benchmarks.md in place."""

from __future__ import annotations

import argparse
import sys

from bench import cold_start, end_to_end, model_serving
from local.stack import stop_on_sigterm

BENCHMARKS = ("model_serving", "end_to_end", "cold_start")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", choices=BENCHMARKS, action="append", help="run only this benchmark")
    args = parser.parse_args(argv)
    chosen = args.only or list(BENCHMARKS)
    stop_on_sigterm()
    command = " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])])
    if "model_serving" in chosen:
        print("Model serving benchmark...", flush=True)
        model_serving.write_section(model_serving.to_markdown(model_serving.run(command=command)))
        print(f"  wrote the 'Model serving' section of {model_serving.DOC}", flush=True)
    if "end_to_end" in chosen:
        print("End-to-end benchmark on the local emulator...", flush=True)
        markdown = end_to_end.to_markdown(end_to_end.run(command=command))
        end_to_end.write_section(markdown)
        print(markdown)
        print(f"  wrote the {end_to_end.SECTION!r} section of {end_to_end.DOC}", flush=True)
    if "cold_start" in chosen:
        print("Cold start benchmark (handler imports, fresh processes)...", flush=True)
        markdown = cold_start.to_markdown(cold_start.run(command=command))
        cold_start.write_section(markdown)
        print(markdown)
        print(f"  wrote the {cold_start.SECTION!r} section of {cold_start.DOC}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
