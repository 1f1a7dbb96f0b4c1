"""Writes the model artifact: model.json + weights.npz + code/ (copied from model/serving/), no pickle."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import tarfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from model.serving.inference import FORMAT_VERSION, FeatureSpec

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


def weights_digest(indices: np.ndarray, values: np.ndarray, intercept: float) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(indices).tobytes())
    h.update(np.ascontiguousarray(values).tobytes())
    h.update(repr(round(intercept, 9)).encode())
    return h.hexdigest()


def model_version(name: str, date: str, digest: str) -> str:
    return f"{name}-{date}-{digest[:8]}"


def write_model_dir(
    out_dir: Path,
    spec: FeatureSpec,
    weights: np.ndarray,
    intercept: float,
    calibration: tuple[float, float],
    name: str,
    date: str,
    hyperparameters: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """model.json, weights.npz and code/inference.py in out_dir; returns the model.json content."""
    out_dir.mkdir(parents=True, exist_ok=True)
    idx, vals, scale = quantize(weights)
    digest = weights_digest(idx, vals, intercept)
    meta: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "model_version": model_version(name, date, digest),
        "model_type": "nb-logistic-regression on hashed binary n-grams",
        "classes": ["negative", "positive"],
        "threshold": 0.5,
        "features": spec.to_json(),
        "calibration": {"method": "platt", "a": calibration[0], "b": calibration[1]},
        "weights": {
            "file": "weights.npz",
            "n_nonzero": int(idx.shape[0]),
            "encoding": "weight[cumsum(index_deltas)] = values * scale; other weights are 0",
            "sha256": digest,
        },
        "hyperparameters": hyperparameters,
    }
    if extra:
        meta.update(extra)
    deltas = np.diff(idx, prepend=np.uint32(0)).astype(np.uint32)
    with open(out_dir / "weights.npz", "wb") as fh:
        np.savez_compressed(
            fh,
            index_deltas=deltas,
            values=vals,
            scale=np.float64(scale),
            intercept=np.float64(intercept),
        )
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
