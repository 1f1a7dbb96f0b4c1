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

from model.serving.inference import BINARY, FORMAT_VERSION, FeatureSpec

SERVING_DIR = Path(__file__).resolve().parent / "serving"
# The files copied into code/ of the artifact: the handler and the container's requirements hint.
SERVING_FILES = ("inference.py",)


def quantize(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Non-zero weights as (indices, float16 values, scale): weight = value * scale."""
    idx = np.flatnonzero(weights).astype(np.uint32)
    vals = weights[idx].astype(np.float64)
    scale = float(np.abs(vals).max()) if vals.size else 1.0
    scale = scale if scale > 0 else 1.0
    return idx, (vals / scale).astype(np.float16), scale


def model_version(name: str, date: str, digest: str) -> str:
    return f"{name}-{date}-{digest[:8]}"


@dataclass
class ExportComponent:
    """One linear component as write_model_dir stores it (see inference.Component)."""

    name: str
    kind: str
    weights: np.ndarray
    intercept: float
    idf: np.ndarray | None = None


def _component_arrays(comp: ExportComponent) -> dict[str, np.ndarray]:
    """Sparse, quantized arrays of a component: weights as float16 x scale on the non-zero indices (on the
    features with an idf, for an l2 component, whose idf is kept as float32 so norms are exact)."""
    if comp.idf is None:
        idx, vals, scale = quantize(comp.weights)
    else:
        idx = np.flatnonzero(comp.idf).astype(np.uint32)
        w = comp.weights[idx].astype(np.float64)
        scale = float(np.abs(w).max()) if w.size and np.abs(w).max() > 0 else 1.0
        vals = (w / scale).astype(np.float16)
    arrays: dict[str, Any] = {
        "index_deltas": np.diff(idx, prepend=np.uint32(0)).astype(np.uint32),
        "values": vals,
        "scale": np.float64(scale),
        "intercept": np.float64(comp.intercept),
    }
    if comp.idf is not None:
        arrays["idf"] = comp.idf[idx].astype(np.float32)
    return {f"{comp.name}_{key}": value for key, value in arrays.items()}


def write_model_dir(
    out_dir: Path,
    spec: FeatureSpec,
    components: list[ExportComponent],
    calibration: dict[str, Any],
    name: str,
    date: str,
    hyperparameters: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """model.json, weights.npz and code/inference.py in out_dir; returns the model.json content."""
    out_dir.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    for comp in components:
        arrays.update(_component_arrays(comp))
    h = hashlib.sha256()
    for key in sorted(arrays):
        h.update(key.encode())
        h.update(np.ascontiguousarray(arrays[key]).tobytes())
    digest = h.hexdigest()
    meta: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "model_version": model_version(name, date, digest),
        "model_type": " + ".join(
            "nb-logistic-regression on hashed binary n-grams"
            if c.kind == BINARY
            else "logistic regression on l2-normalized log-tf x idf of hashed n-grams"
            for c in components
        ),
        "classes": ["negative", "positive"],
        "threshold": 0.5,
        "features": spec.to_json(),
        "components": [{"name": c.name, "kind": c.kind} for c in components],
        "calibration": calibration,
        "weights": {
            "file": "weights.npz",
            "n_nonzero": {c.name: int(arrays[f"{c.name}_values"].shape[0]) for c in components},
            "encoding": "per component <name>_: weight[cumsum(index_deltas)] = values * scale, other weights "
            "0; idf (l2 components) on the same indices",
            "sha256": digest,
        },
        "hyperparameters": hyperparameters,
    }
    if extra:
        meta.update(extra)
    with open(out_dir / "weights.npz", "wb") as fh:
        np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]
    (out_dir / "model.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    code = out_dir / "code"
    code.mkdir(exist_ok=True)
    for fname in SERVING_FILES:
        shutil.copyfile(SERVING_DIR / fname, code / fname)
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
