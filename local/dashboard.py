"""The results dashboard's files, laid out as CloudFront serves them: `/dashboard/<key>` from the dashboard
bucket's `dashboard/<key>` objects (`make deploy` uploads them with scripts/publish_dashboard.py), and from
the local emulator's HTTP API port, so the page and the API share one origin in both places.

The layout is defined here once, for both: the static files of `dashboard/`; the model card of the shipped
model (`model/artifact/model_card.{json,md}`) under `model/`, with the evaluation report and the images the
two reports reference (the reliability diagram); and `index.html` again under the empty key, so that
`/dashboard/` itself shows the page.
"""

from __future__ import annotations

import re
from pathlib import Path

from local.template import PROJECT_ROOT

DASHBOARD_DIR = PROJECT_ROOT / "dashboard"
MODEL_ARTIFACT_DIR = PROJECT_ROOT / "model" / "artifact"
# The CloudFront behaviour `/dashboard/*` and the S3 key prefix of the files (template.yaml says the same).
URL_PREFIX = "/dashboard/"
KEY_PREFIX = "dashboard/"
MODEL_FOLDER = "model/"
MODEL_REPORTS = ("model_card.json", "model_card.md", "evaluation.md")
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".md": "text/markdown; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}
_MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")


def content_type(path: Path) -> str:
    return CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")


def referenced_images(markdown: Path) -> list[str]:
    """Relative image paths a Markdown report shows, e.g. ['evaluation_reliability.png']."""
    targets = _MARKDOWN_IMAGE.findall(markdown.read_text(encoding="utf-8"))
    return [target for target in targets if "://" not in target and not target.startswith("/")]


def site_files(dashboard_dir: Path = DASHBOARD_DIR, model_dir: Path = MODEL_ARTIFACT_DIR) -> dict[str, Path]:
    """Key under the dashboard prefix -> local file, for every file the dashboard serves."""
    files = {
        path.relative_to(dashboard_dir).as_posix(): path
        for path in sorted(dashboard_dir.rglob("*"))
        if path.is_file() and path.suffix.lower() in CONTENT_TYPES
    }
    if "index.html" in files:
        files[""] = files["index.html"]
    model_root = model_dir.resolve()
    for name in MODEL_REPORTS:
        report = model_dir / name
        if not report.is_file():
            continue
        files[MODEL_FOLDER + name] = report
        if report.suffix != ".md":
            continue
        for image in referenced_images(report):
            found = (model_dir / image).resolve()
            if found.is_file() and found.is_relative_to(model_root):
                files[MODEL_FOLDER + found.relative_to(model_root).as_posix()] = found
    return files
