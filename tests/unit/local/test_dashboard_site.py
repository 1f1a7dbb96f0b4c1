"""The results dashboard's file layout (local/dashboard.py), shared by the emulator and the deploy step,
and the emulator serving it on the API's origin as CloudFront's `/dashboard/*` behaviour does."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from local.dashboard import DASHBOARD_DIR, MODEL_ARTIFACT_DIR, referenced_images, site_files
from local.stack import LocalStack


def _model_dir(root: Path, card_markdown: str) -> Path:
    model = root / "artifact"
    model.mkdir()
    (model / "model_card.json").write_text('{"model_version": "v1"}')
    (model / "model_card.md").write_text(card_markdown)
    (model / "evaluation.md").write_text(
        "# Evaluation\n\n![reliability diagram](evaluation_reliability.png)\n"
    )
    (model / "evaluation_reliability.png").write_bytes(b"\x89PNG evaluation")
    (model / "card_reliability.png").write_bytes(b"\x89PNG card")
    (model / "model.tar.gz").write_bytes(b"not served")
    (root / "secret.png").write_bytes(b"outside the artifact folder")
    return model


def test_the_site_is_the_dashboard_folder_plus_the_model_card_and_the_images_it_references(
    tmp_path: Path,
) -> None:
    # Given a model folder whose card shows one image, links outside the folder and names a missing one
    card = "# Card\n\n![diagram](card_reliability.png) ![x](../secret.png) ![y](missing.png) ![z](https://x/y.png)\n"
    model = _model_dir(tmp_path, card)
    # When the site's files are listed
    files = site_files(DASHBOARD_DIR, model)
    # Then the page is there, also under the folder's own URL, with its scripts
    assert files[""] == files["index.html"] == DASHBOARD_DIR / "index.html"
    assert {"app.js", "api.js", "charts.js", "markdown.js", "style.css"} <= set(files)
    # And the model card's reports and the images they reference, nothing else from the model folder
    model_files = {key: path for key, path in files.items() if key.startswith("model/")}
    assert model_files == {
        "model/model_card.json": model / "model_card.json",
        "model/model_card.md": model / "model_card.md",
        "model/evaluation.md": model / "evaluation.md",
        "model/card_reliability.png": (model / "card_reliability.png").resolve(),
        "model/evaluation_reliability.png": (model / "evaluation_reliability.png").resolve(),
    }


def test_the_shipped_model_card_brings_its_reliability_diagram() -> None:
    # Given the repository's own model artifact folder
    files = site_files()
    # When the images its reports reference are looked up
    images = referenced_images(MODEL_ARTIFACT_DIR / "model_card.md") + referenced_images(
        MODEL_ARTIFACT_DIR / "evaluation.md"
    )
    # Then at least one is a PNG the site serves
    served = [image for image in images if f"model/{image}" in files]
    assert served
    assert all(files[f"model/{image}"].read_bytes().startswith(b"\x89PNG") for image in served)


def test_the_emulator_serves_the_dashboard_on_the_apis_origin(tiny_stack: LocalStack) -> None:
    # Given the running emulator and what its state file says
    state = json.loads((tiny_stack.state_dir / "stack.json").read_text())
    assert state["dashboard_url"] == f"{state['api_url']}/dashboard/"
    # When the page, a script and the model card are fetched
    page = requests.get(state["dashboard_url"], timeout=10)
    script = requests.get(f"{state['dashboard_url']}app.js", timeout=10)
    card = requests.get(f"{state['dashboard_url']}model/model_card.json", timeout=10)
    # Then each comes with the content type a browser needs (a module script must be JavaScript)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "Review sentiment results" in page.text
    assert script.status_code == 200
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert card.json() == json.loads((MODEL_ARTIFACT_DIR / "model_card.json").read_text())
    # And a file that is not part of the site is a 404, while the API's routes still answer
    assert requests.get(f"{state['dashboard_url']}model/model.tar.gz", timeout=10).status_code == 404
    assert requests.get(f"{state['api_url']}/things/42", timeout=10).status_code == 200
