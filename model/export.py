"""Writes the model artifact: model.json + weights.npz + code/ (copied from model/serving/), no pickle."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model.serving.inference import (
    BINARY,
    FORMAT_VERSION,
    LEXICON_DIR,
    VADER_COMPOUND,
    VADER_LEXICON_FILE,
    FeatureSpec,
)

SERVING_DIR = Path(__file__).resolve().parent / "serving"
# The files copied into code/ of the artifact: the handler and the container's requirements hint.
SERVING_FILES = ("inference.py",)
# The VADER lexicon (MIT) and its notice, copied into lexicon/ of an artifact with a valence component.
LEXICON_FILES = (VADER_LEXICON_FILE, "LICENSE.txt")
_MODEL_TYPES = {
    BINARY: "nb-logistic-regression on hashed binary n-grams",
    "l2-logtf-idf": "logistic regression on l2-normalized log-tf x idf of hashed n-grams",
    VADER_COMPOUND: "VADER lexicon valence (compound score, NumPy re-implementation)",
}


def model_version(name: str, date: str, digest: str) -> str:
    return f"{name}-{date}-{digest[:8]}"


def version_digest(weights_sha256: str, served: dict[str, Any]) -> str:
    """sha256 of the weights' digest and of everything else that makes the model's answers (canonical
    JSON): two artifacts with the same weights but another calibration, uncertain band or label-noise
    rates get different versions."""
    h = hashlib.sha256(weights_sha256.encode())
    h.update(json.dumps(served, sort_keys=True, separators=(",", ":")).encode())
    return h.hexdigest()


@dataclass
class ExportComponent:
    """One component as write_model_dir stores it (see inference.Component); a VADER_COMPOUND component
    has no weights (empty arrays) and is stored as its lexicon."""

    name: str
    kind: str
    weights: np.ndarray
    intercept: float
    idf: np.ndarray | None = None

    def to_json(self) -> dict[str, Any]:
        if self.kind == VADER_COMPOUND:
            return {"name": self.name, "kind": self.kind, "lexicon": f"{LEXICON_DIR}/{VADER_LEXICON_FILE}"}
        return {"name": self.name, "kind": self.kind}


def _model_arrays(components: list[ExportComponent]) -> dict[str, Any]:
    """The features any component uses (feature_index_deltas: cumsum gives the sorted feature indices) and,
    per component on those features, weights as float16 values x scale and, for an l2 component, its idf
    (float32, so the serving norms are the training ones; 0 where the component ignores a feature)."""
    components = [c for c in components if c.kind != VADER_COMPOUND]
    used = [np.flatnonzero(c.weights if c.idf is None else c.idf) for c in components]
    features = np.unique(np.concatenate(used)).astype(np.uint32) if used else np.zeros(0, np.uint32)
    arrays: dict[str, Any] = {
        "feature_index_deltas": np.diff(features, prepend=np.uint32(0)).astype(np.uint32)
    }
    for comp in components:
        w = comp.weights[features].astype(np.float64)
        scale = float(np.abs(w).max()) if w.size and np.abs(w).max() > 0 else 1.0
        arrays[f"{comp.name}_values"] = (w / scale).astype(np.float16)
        arrays[f"{comp.name}_scale"] = np.float64(scale)
        arrays[f"{comp.name}_intercept"] = np.float64(comp.intercept)
        if comp.idf is not None:
            arrays[f"{comp.name}_idf"] = comp.idf[features].astype(np.float32)
    return arrays


def write_model_dir(
    out_dir: Path,
    spec: FeatureSpec,
    components: list[ExportComponent],
    calibration: dict[str, Any],
    name: str,
    date: str,
    hyperparameters: dict[str, Any],
    extra: dict[str, Any] | None = None,
    label_noise: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """model.json, weights.npz and code/inference.py in out_dir; returns the model.json content.

    model_version's digest covers the weights, the calibration, the uncertain band (extra's
    "uncertainty") and the sentences' label-noise rates the calibration was fit with (label_noise,
    recorded as model.json's "label_noise"; serving does not read it)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    arrays = _model_arrays(components)
    h = hashlib.sha256()
    for key in sorted(arrays):
        h.update(key.encode())
        h.update(np.ascontiguousarray(arrays[key]).tobytes())
    digest = h.hexdigest()
    served = {
        "features": spec.to_json(),
        "components": [c.to_json() for c in components],
        "calibration": calibration,
        "uncertainty": (extra or {}).get("uncertainty"),
        "label_noise": label_noise,
    }
    version_sha256 = version_digest(digest, served)
    meta: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "model_version": model_version(name, date, version_sha256),
        "version_sha256": version_sha256,
        "model_type": " + ".join(_MODEL_TYPES[c.kind] for c in components),
        "classes": ["negative", "positive"],
        "threshold": 0.5,
        "features": spec.to_json(),
        "components": [c.to_json() for c in components],
        "calibration": calibration,
        "weights": {
            "file": "weights.npz",
            "n_features_used": int(arrays["feature_index_deltas"].shape[0]),
            "encoding": "features = cumsum(feature_index_deltas); per component <name>_: weight[features] = "
            "values * scale, other weights 0; <name>_idf (l2 components) on the same features",
            "sha256": digest,
        },
        "hyperparameters": hyperparameters,
    }
    if label_noise is not None:
        meta["label_noise"] = label_noise
    if extra:
        meta.update(extra)
    with open(out_dir / "weights.npz", "wb") as fh:
        np.savez_compressed(fh, **arrays)
    (out_dir / "model.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    code = out_dir / "code"
    code.mkdir(exist_ok=True)
    for fname in SERVING_FILES:
        shutil.copyfile(SERVING_DIR / fname, code / fname)
    if any(c.kind == VADER_COMPOUND for c in components):
        (out_dir / LEXICON_DIR).mkdir(exist_ok=True)
        for fname in LEXICON_FILES:
            shutil.copyfile(SERVING_DIR / LEXICON_DIR / fname, out_dir / LEXICON_DIR / fname)
    (code / "requirements.txt").write_text(
        "# inference.py needs only NumPy, which the SageMaker scikit-learn container already has.\n",
        encoding="utf-8",
    )
    return meta


def make_tarball(src_dir: Path, tar_path: Path, mtime: int = 0) -> str:
    """A reproducible model.tar.gz of src_dir (sorted entries, fixed mtime and owner); returns sha256."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(p for p in src_dir.rglob("*") if "__pycache__" not in p.parts):
            info = tar.gettarinfo(str(path), arcname=path.relative_to(src_dir).as_posix())
            info.mtime, info.uid, info.gid, info.uname, info.gname = mtime, 0, 0, "", ""
            info.mode = 0o755 if path.is_dir() else 0o644
            if path.is_file():
                with open(path, "rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)
    tar_path.parent.mkdir(parents=True, exist_ok=True)
    with open(tar_path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=mtime) as gz:
        gz.write(buf.getvalue())
    return hashlib.sha256(tar_path.read_bytes()).hexdigest()


def today(epoch: float | None = None) -> str:
    return time.strftime("%Y%m%d", time.gmtime(epoch if epoch is not None else time.time()))
