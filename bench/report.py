"""docs/benchmarks.md: one section per benchmark, each regenerated in place and the others kept."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "benchmarks.md"


def machine() -> str:
    """The machine a benchmark ran on, as its section's first line names it."""
    return f"{platform.machine()}, nproc {os.cpu_count()}, Python {platform.python_version()}"


def publish(heading: str, markdown: str, write: bool, doc: Path = DOC) -> None:
    """Print a benchmark's section, and with `write` put it into the document."""
    print(markdown)
    if write:
        write_section(heading, markdown, doc)
        print(f"wrote {doc}")


def write_section(heading: str, markdown: str, doc: Path = DOC) -> None:
    """Replace the section that starts with `heading` (a '## ...' line), or append it."""
    text = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n\n"
    markdown = markdown.rstrip("\n") + "\n\n"  # a blank line before the next section
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: markdown, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + markdown
    doc.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
