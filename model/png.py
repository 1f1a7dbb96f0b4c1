"""A reliability diagram as PNG, drawn with NumPy and zlib only (no plotting library needed)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# 3x5 glyphs for tick labels and short words
_FONT = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001010010010",
    "8": "111101111101111", "9": "111101111001111", ".": "000000000000010", " ": "000000000000000",
    "P": "111101111100100", "O": "111101101101111", "S": "111100111001111", "B": "110101110101110",
    "E": "111100110100111", "R": "110101110101101", "V": "101101101101010", "D": "110101101101110",
    "C": "111100100100111", "F": "111100110100100", "I": "111010010010111", "N": "101111111111101",
    "T": "111010010010010", "A": "010101111101101", "L": "100100100100111", "M": "101111111101101",
    "(": "010100100100010", ")": "010001001001010", "/": "001001010100100", "|": "010010010010010",
    "-": "000000111000000", "=": "000111000111000", "+": "000010111010000", "G": "111100101101111",
    "Y": "101101010010010", "U": "101101101101111", "H": "101101111101101", "K": "101110100110101",
    "W": "101101111111101", "X": "101101010101101", "Q": "111101101111001", "J": "001001001101111",
    "Z": "111001010100111",
}  # fmt: skip


def _png(rgb: np.ndarray) -> bytes:
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].astype(np.uint8).tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def _text(img: np.ndarray, x: int, y: int, s: str, scale: int = 2, color: Sequence[int] = (0, 0, 0)) -> None:
    for i, ch in enumerate(s.upper()):
        glyph = _FONT.get(ch, _FONT[" "])
        for k, bit in enumerate(glyph):
            if bit == "1":
                gy, gx = divmod(k, 3)
                y0, x0 = y + gy * scale, x + (i * 4 + gx) * scale
                img[y0 : y0 + scale, x0 : x0 + scale] = color


def _line(img: np.ndarray, x0: int, y0: int, x1: int, y1: int, color: Sequence[int], width: int = 1) -> None:
    n = max(abs(x1 - x0), abs(y1 - y0)) + 1
    xs = np.linspace(x0, x1, n).round().astype(int)
    ys = np.linspace(y0, y1, n).round().astype(int)
    for dx in range(width):
        for dy in range(width):
            img[np.clip(ys + dy, 0, img.shape[0] - 1), np.clip(xs + dx, 0, img.shape[1] - 1)] = color


def reliability_png(
    bins: Sequence[dict[str, float]], path: Path, title: str = "RELIABILITY", size: int = 480
) -> None:
    """Observed positive rate (bars) against mean predicted P(positive) per bin, with the diagonal."""
    img = np.full((size, size, 3), 255, dtype=np.uint8)
    left, bottom, top, right = 60, size - 50, 40, size - 20
    plot_w, plot_h = right - left, bottom - top

    def px(v: float) -> int:
        return left + round(v * plot_w)

    def py(v: float) -> int:
        return bottom - round(v * plot_h)

    total = sum(b["count"] for b in bins) or 1
    for b in bins:
        if not b["count"]:
            continue
        x0, x1 = px(b["lo"]) + 1, px(b["hi"]) - 1
        frac = b["fraction_positive"]
        img[py(frac) : bottom, x0:x1] = (120, 160, 220)  # observed positive rate
        share = b["count"] / total  # thin grey strip: share of reviews in the bin
        img[bottom - round(share * plot_h * 0.5) : bottom, x0 : x0 + 3] = (90, 90, 90)
        mx, my = px(b["mean_predicted"]), py(frac)
        img[my - 3 : my + 4, mx - 3 : mx + 4] = (200, 40, 40)  # (mean predicted, observed)
    _line(img, px(0), py(0), px(1), py(1), (60, 60, 60))
    _line(img, left, bottom, right, bottom, (0, 0, 0), 2)
    _line(img, left, top, left, bottom, (0, 0, 0), 2)
    for v in (0.0, 0.25, 0.5, 0.75, 1.0):
        _line(img, px(v), bottom, px(v), bottom + 5, (0, 0, 0))
        _line(img, left - 5, py(v), left, py(v), (0, 0, 0))
        label = f"{v:g}"
        _text(img, px(v) - len(label) * 4, bottom + 10, label)
        _text(img, left - 12 - len(label) * 8, py(v) - 5, label)
    _text(img, left + plot_w // 2 - 80, size - 22, "PREDICTED P(POS)")
    _text(img, 8, 12, title[:56], color=(0, 0, 0))
    path.write_bytes(_png(img))
