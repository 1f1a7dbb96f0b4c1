"""SageMaker inference handler for the review sentiment model (scikit-learn container, script mode).

This file is the single source of the serving code: training copies it verbatim into the artifact as
``code/inference.py`` and imports its text processing and hashing, so training and serving featurize
reviews with the same code. It needs only the standard library and NumPy (no scikit-learn, no pickle).

Container contract: ``model_fn(model_dir)``, ``input_fn(body, content_type)``, ``predict_fn(data, model)``,
``output_fn(prediction, accept)``.

Wire contract (application/json):
  request  {"instances": [{"id": "r1", "text": "..."}], "explain": false}
  response {"predictions": [{"id": "r1", "label": "positive", "score": 0.97, "uncertain": false}],
            "model_version": "...", "uncertain_band": [0.3, 0.7]}
"score" is the calibrated P(positive); "uncertain" is true when the score lies inside the model's uncertain
band (inclusive), where validation predictions were right too rarely to trust; "uncertain_band" is that band.
With "explain": true each prediction also carries
  "explanation": {"positive": [{"ngram": "great movie", "weight": 0.83}, ...], "negative": [...]}.

The model: linear components over one set of hashed word n-grams (an NB-LR summing a weight per n-gram
present, and a logistic regression on the l2-normalized log-tf x idf vector, whose margin does not shrink
on short texts), combined and calibrated with one logistic row per text-length bucket.
"""

from __future__ import annotations

import html
import json
import operator
import os
import re
import unicodedata
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat
from typing import Any

import numpy as np

FORMAT_VERSION = 3  # 3: components may be a VADER_COMPOUND over a shipped lexicon
JSON_CONTENT_TYPE = "application/json"
MAX_INSTANCES = 10_000
EXPLAIN_TOP_K = 5
CHUNK = 256  # reviews featurized together when scoring (keeps sort keys 32-bit and in cache)

# ---------------------------------------------------------------------------------------------------------
# Text normalization and tokenization
# ---------------------------------------------------------------------------------------------------------

_TAG_RE = re.compile(r"<\s*br\s*/?\s*>|<\s*/?\s*[a-zA-Z][^<>]{0,200}>")
_SPACE_RE = re.compile(r"\s+")
_QUOTES = (("\u2019", "'"), ("\u2018", "'"), ("`", "'"), ("\u00b4", "'"), ("\u201c", '"'), ("\u201d", '"'))
# A rating such as 7/10 or 8.5/10, a word with inner apostrophes (don't, rock'n'roll), a number,
# a run of ! or ?, an ellipsis, or any other single non-space symbol.
_TOKEN_RE = re.compile(r"\d+(?:\.\d+)?/\d+|[^\W\d_]+(?:'[^\W\d_]+)*|\d+(?:[.,]\d+)*|[!?]+|\.{2,}|[^\w\s]")
# Contractions written without their apostrophe ("dont", "isnt") become the usual form, so both
# spellings share one feature; "cannot" becomes "can't".
_NEGATIONS = {
    "dont": "don't", "doesnt": "doesn't", "didnt": "didn't", "isnt": "isn't", "wasnt": "wasn't",
    "arent": "aren't", "werent": "weren't", "cant": "can't", "cannot": "can't", "couldnt": "couldn't",
    "wouldnt": "wouldn't", "shouldnt": "shouldn't", "wont": "won't", "havent": "haven't", "hasnt": "hasn't",
    "hadnt": "hadn't", "aint": "ain't", "mustnt": "mustn't", "neednt": "needn't",
}  # fmt: skip


def strip_markup(text: str) -> str:
    """HTML tags (``<br />``) become spaces, entities are unescaped, NFKC, curly quotes folded; case kept
    (the valence rules read ALL-CAPS emphasis)."""
    if "<" in text:
        text = _TAG_RE.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    if text.isascii():
        return text.replace("`", "'")
    text = unicodedata.normalize("NFKC", text)
    for old, new in _QUOTES:
        text = text.replace(old, new)
    return text


def normalize_text(text: str) -> str:
    """strip_markup, then lowercase with spaces collapsed."""
    return _SPACE_RE.sub(" ", strip_markup(text).lower()).strip()


def canonical_token(token: str) -> str:
    """One spelling per signal: "dont" -> "don't", "cannot" -> "can't", "!!!!!" -> "!!!"."""
    if token[0] in "!?":
        return token[:3]
    return _NEGATIONS.get(token, token)


def raw_tokens(text: str) -> list[str]:
    """The pattern's tokens of a lowercased text, found word by word: no token holds whitespace, and a word of
    letters only is one token as it stands, so only the other words go through the pattern. Same tokens as
    ``_TOKEN_RE.findall`` over the whole text (checked on all 76,000 IMDb and short texts) in about 40% of
    its time; runs of whitespace need no collapsing first."""
    tokens: list[str] = []
    for word in text.split():
        if word.isalpha():
            tokens.append(word)
        else:
            tokens.extend(_TOKEN_RE.findall(word))
    return tokens


def tokenize(normalized: str) -> list[str]:
    """Tokens of a normalized text: words (with contractions kept whole), ratings, numbers, punctuation."""
    return [canonical_token(t) for t in raw_tokens(normalized)]


# ---------------------------------------------------------------------------------------------------------
# Feature hashing (stable across processes and platforms: CRC32 for tokens, a 64-bit polynomial
# rolling hash and the SplitMix64 finalizer for n-grams, all vectorized with NumPy uint64 arithmetic)
# ---------------------------------------------------------------------------------------------------------

_PRIME = np.uint64(0x100000001B3)  # FNV-1 64-bit prime: h = h * P + unit over the n-gram
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the top bits of h * golden pick the bucket
_SEED = np.uint64(0xCBF29CE484222325)
_S29 = np.uint64(29)


def _token_hashes(tokens: Sequence[str]) -> np.ndarray:
    """CRC32 of each canonical token's UTF-8 bytes (each distinct token of the batch is handled once)."""
    table = {t: zlib.crc32(canonical_token(t).encode("utf-8")) for t in dict.fromkeys(tokens)}
    return np.fromiter(map(table.__getitem__, tokens), dtype=np.uint64, count=len(tokens))


def _unique_sorted(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values and the index where each run starts (faster than np.unique here)."""
    key = np.sort(key)
    keep = np.empty(key.shape[0], dtype=bool)
    if key.shape[0]:
        keep[0] = True
        np.not_equal(key[1:], key[:-1], out=keep[1:])
    starts = np.flatnonzero(keep)
    return key[starts], starts


def _ngram_buckets(
    units: np.ndarray, doc_of_unit: np.ndarray, n_min: int, n_max: int, salt: int, bits: int
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """For n in n_min..n_max: (n, bucket in [0, 2**bits), start index) of every n-gram of consecutive units
    that does not cross a document. The rolling hash of the (n-1)-grams is extended to the n-grams."""
    total = units.shape[0]
    shift = np.uint64(64 - bits)
    with np.errstate(over="ignore"):
        h = np.full(total, _SEED + np.uint64(salt), dtype=np.uint64)
        for n in range(1, n_max + 1):
            length = total - n + 1
            if length <= 0:
                return
            h = h[:length] * _PRIME + units[n - 1 : n - 1 + length]
            if n < n_min:
                continue
            f = h + np.uint64(n) * _GOLDEN
            f = ((f ^ (f >> _S29)) * _GOLDEN) >> shift
            if n > 1:
                ok = doc_of_unit[:length] == doc_of_unit[n - 1 : n - 1 + length]
                yield n, f[ok].astype(np.int64), np.flatnonzero(ok)
            else:
                yield n, f.astype(np.int64), np.arange(length, dtype=np.int64)


@dataclass(frozen=True)
class FeatureSpec:
    """How reviews become hashed binary features: word n-grams and, optionally, character n-grams."""

    word_ngram: tuple[int, int] = (1, 3)
    word_bits: int = 22
    char_ngram: tuple[int, int] = (0, 0)  # (0, 0) means no character n-grams
    char_bits: int = 22
    lowercase: bool = True
    normalizer: str = "html-unescape-nfkc-lower-v1"
    tokenizer: str = "word-rating-punct-negation-v1"
    hash: str = "crc32-fnv64poly-fibonacci-v2"

    @property
    def uses_chars(self) -> bool:
        return self.char_ngram[1] > 0

    @property
    def n_features(self) -> int:
        return (1 << self.word_bits) + ((1 << self.char_bits) if self.uses_chars else 0)

    def to_json(self) -> dict[str, Any]:
        return {
            "word_ngram": list(self.word_ngram),
            "word_bits": self.word_bits,
            "char_ngram": list(self.char_ngram),
            "char_bits": self.char_bits,
            "lowercase": self.lowercase,
            "normalizer": self.normalizer,
            "tokenizer": self.tokenizer,
            "hash": self.hash,
            "n_features": self.n_features,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureSpec:
        return cls(
            word_ngram=(int(data["word_ngram"][0]), int(data["word_ngram"][1])),
            word_bits=int(data["word_bits"]),
            char_ngram=(int(data["char_ngram"][0]), int(data["char_ngram"][1])),
            char_bits=int(data["char_bits"]),
        )


@dataclass
class Featurized:
    """Deduplicated (document, feature) pairs of a batch, sorted by document then feature."""

    n_docs: int
    doc: np.ndarray  # int64
    feature: np.ndarray  # int64, in [0, spec.n_features)
    count: np.ndarray | None = None  # how often each (document, feature) occurs, when asked for
    n_tokens: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # tokens per document


@dataclass
class _Prepared:
    normalized: list[str] = field(default_factory=list)
    tokens: list[list[str]] = field(default_factory=list)


def featurize(texts: Sequence[str], spec: FeatureSpec, counts: bool = False) -> Featurized:
    """Binary hashed features of a batch of raw texts (with occurrence counts if asked)."""
    return featurize_stripped([strip_markup(t) for t in texts], spec, counts)


def featurize_stripped(stripped: Sequence[str], spec: FeatureSpec, counts: bool = False) -> Featurized:
    """featurize for texts already through strip_markup (serving strips each text once, for the n-grams and
    for the valence, which reads the case)."""
    n_docs = len(stripped)
    tokens = [raw_tokens(text.lower()) for text in stripped]
    docs: list[np.ndarray] = []
    feats: list[np.ndarray] = []
    lengths = np.fromiter((len(t) for t in tokens), dtype=np.int64, count=n_docs)
    flat = [tok for toks in tokens for tok in toks]
    units = _token_hashes(flat)
    doc_of_unit = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
    if spec.word_ngram[1] > 0:
        lo, hi = spec.word_ngram
        for _, f, start in _ngram_buckets(units, doc_of_unit, lo, hi, salt=1, bits=spec.word_bits):
            docs.append(doc_of_unit[start])
            feats.append(f)
    if spec.uses_chars:
        # Characters of the normalized text, one space at each end, documents separated in doc_of_char.
        padded = [f" {_SPACE_RE.sub(' ', text.lower()).strip()} " for text in stripped]
        chars = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        clen = np.fromiter((len(p) for p in padded), dtype=np.int64, count=n_docs)
        doc_of_char = np.repeat(np.arange(n_docs, dtype=np.int64), clen)
        offset = 1 << spec.word_bits
        lo, hi = spec.char_ngram
        for _, f, start in _ngram_buckets(chars, doc_of_char, lo, hi, salt=2, bits=spec.char_bits):
            docs.append(doc_of_char[start])
            feats.append(f + offset)
    if not docs:
        empty = np.zeros(0, np.int64)
        return Featurized(n_docs, empty, empty, empty if counts else None, lengths)
    # One sortable key per (document, feature); 32-bit keys sort about twice as fast when they fit.
    dtype = np.dtype(np.uint32) if n_docs * spec.n_features < (1 << 32) else np.dtype(np.int64)
    width = np.asarray(spec.n_features, dtype=dtype)
    key = np.add(np.multiply(np.concatenate(docs).astype(dtype), width), np.concatenate(feats).astype(dtype))
    total = key.shape[0]
    key, starts = _unique_sorted(key)
    count = np.diff(starts, append=total) if counts else None
    doc, feature = np.divmod(key, width)
    return Featurized(n_docs, doc.astype(np.int64), feature.astype(np.int64), count, lengths)


def word_ngrams_with_features(text: str, spec: FeatureSpec) -> list[tuple[str, int]]:
    """Every word n-gram of one text with its feature index (used to explain a prediction)."""
    tokens = tokenize(normalize_text(text))
    units = _token_hashes(tokens)
    doc_of_unit = np.zeros(len(tokens), dtype=np.int64)
    out: list[tuple[str, int]] = []
    lo, hi = spec.word_ngram
    for n, f, start in _ngram_buckets(units, doc_of_unit, lo, hi, salt=1, bits=spec.word_bits):
        for s, b in zip(start.tolist(), f.tolist(), strict=True):
            out.append((" ".join(tokens[s : s + n]), b))
    return out


# ---------------------------------------------------------------------------------------------------------
# VADER-style valence (Hutto & Gilbert 2014): the compound score of vaderSentiment 3.3.2's polarity_scores,
# re-implemented with NumPy over a batch (the container has no vaderSentiment). The lexicon ships in the
# artifact (lexicon/vader_lexicon.txt, MIT, with its notice). Rules: lexicon valence of each word, "no"
# before a lexicon word, ALL-CAPS emphasis when only some words are capitalized, booster and dampener words
# up to 3 words back (scaled 1, 0.95, 0.9), negation up to 3 words back (x -0.74, "never so/this" x 1.25,
# "without doubt" kept), "least", the first "but" (x0.5 before, x1.5 after), ! and ? emphasis, then
# sum / sqrt(sum^2 + 15). Not implemented: emoji descriptions and the few multi-word special cases
# ("the shit", "kind of" as a dampener of a later word...); the unit test bounds the difference.
# ---------------------------------------------------------------------------------------------------------

LEXICON_DIR = "lexicon"
VADER_LEXICON_FILE = "vader_lexicon.txt"
_B_INCR, _C_INCR, _N_SCALAR = 0.293, 0.733, -0.74
_VADER_NEGATE = frozenset({
    "aint", "arent", "cannot", "cant", "couldnt", "darent", "didnt", "doesnt", "ain't", "aren't", "can't",
    "couldn't", "daren't", "didn't", "doesn't", "dont", "hadnt", "hasnt", "havent", "isnt", "mightnt",
    "mustnt", "neither", "don't", "hadn't", "hasn't", "haven't", "isn't", "mightn't", "mustn't", "neednt",
    "needn't", "never", "none", "nope", "nor", "not", "nothing", "nowhere", "oughtnt", "shant", "shouldnt",
    "uhuh", "wasnt", "werent", "oughtn't", "shan't", "shouldn't", "uh-uh", "wasn't", "weren't", "without",
    "wont", "wouldnt", "won't", "wouldn't", "rarely", "seldom", "despite"
})  # fmt: skip
_VADER_BOOSTERS = dict.fromkeys((
    "absolutely", "amazingly", "awfully", "completely", "considerable", "considerably", "decidedly",
    "deeply", "effing", "enormous", "enormously", "entirely", "especially", "exceptional", "exceptionally",
    "extreme", "extremely", "fabulously", "flipping", "flippin", "frackin", "fracking", "fricking",
    "frickin", "frigging", "friggin", "fully", "fuckin", "fucking", "fuggin", "fugging", "greatly", "hella",
    "highly", "hugely", "incredible", "incredibly", "intensely", "major", "majorly", "more", "most",
    "particularly", "purely", "quite", "really", "remarkably", "so", "substantially", "thoroughly", "total",
    "totally", "tremendous", "tremendously", "uber", "unbelievably", "unusually", "utter", "utterly", "very"
), _B_INCR) | dict.fromkeys((
    "almost", "barely", "hardly", "kinda", "kindof", "kind-of", "less", "little", "marginal", "marginally",
    "occasional", "occasionally", "partly", "scarce", "scarcely", "slight", "slightly", "somewhat", "sorta",
    "sortof", "sort-of"
), -_B_INCR)  # fmt: skip
# Words some rules test for by identity; each gets a code (0: any other word).
_VADER_WORDS = (
    "no", "or", "nor", "never", "so", "this", "without", "doubt", "least", "at", "very", "kind", "of", "but",
    "the", "shit", "bomb", "bad", "ass", "bus", "stop", "yeah", "right", "kiss", "death", "to", "die", "for",
    "beating", "heart", "sort", "just", "enough",
)  # fmt: skip
# Phrases that set the valence of a lexicon word they contain or follow, and dampening phrases.
_VADER_SPECIAL = {
    ("the", "shit"): 3.0, ("the", "bomb"): 3.0, ("bad", "ass"): 1.5, ("bus", "stop"): 0.0,
    ("yeah", "right"): -2.0, ("kiss", "of", "death"): -1.5, ("to", "die", "for"): 3.0,
    ("beating", "heart"): 3.5,
}  # fmt: skip
_VADER_DAMPENING = (("kind", "of"), ("sort", "of"), ("just", "enough"))
_PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"  # string.punctuation, as VADER strips it


def read_lexicon(path: str) -> dict[str, float]:
    """word -> mean valence from a VADER lexicon file (word, mean, std, ratings; tab-separated)."""
    lexicon: dict[str, float] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.strip().split("\t")
            if len(parts) >= 2:
                lexicon[parts[0]] = float(parts[1])
    return lexicon


def _vader_words(tokens: list[str]) -> list[str]:
    """VADER's words: leading and trailing punctuation stripped unless that leaves 2 characters or fewer."""
    stripped = map(str.strip, tokens, repeat(_PUNCT))
    return [word if len(word) > 2 else token for word, token in zip(stripped, tokens, strict=True)]


@dataclass
class _VaderTokens:
    """A batch's words, flattened: per word its document, position and rule properties."""

    doc: np.ndarray
    pos: np.ndarray
    valence: np.ndarray  # lexicon valence, 0 outside the lexicon
    in_lexicon: np.ndarray
    booster: np.ndarray  # booster/dampener scalar, 0 for other words
    negation: np.ndarray
    upper: np.ndarray
    code: np.ndarray  # index in _VADER_WORDS + 1, 0 for other words


_VADER_CODES = {w: i + 1 for i, w in enumerate(_VADER_WORDS)}


def _vader_tokens(texts: Sequence[str], lexicon: dict[str, float]) -> _VaderTokens:
    """Each distinct whitespace token of the batch is looked at once, its properties by one C-level map
    per property over the distinct tokens (no Python code per token), then gathered for every word."""
    split = list(map(str.split, texts))
    lengths = np.fromiter(map(len, split), dtype=np.int64, count=len(texts))
    flat = list(chain.from_iterable(split))
    distinct = list(dict.fromkeys(flat))
    n = len(distinct)
    index = dict(zip(distinct, range(n), strict=True))
    ids = np.fromiter(map(index.__getitem__, flat), dtype=np.int64, count=len(flat))
    words = _vader_words(distinct)
    low = list(map(str.lower, words))
    valence = np.fromiter(map(lexicon.get, low, repeat(np.nan)), dtype=np.float64, count=n)
    in_lexicon = ~np.isnan(valence)
    negation = np.fromiter(map(_VADER_NEGATE.__contains__, low), dtype=bool, count=n)
    negation |= np.fromiter(map(operator.contains, low, repeat("n't")), dtype=bool, count=n)
    doc = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
    starts = np.cumsum(lengths) - lengths
    return _VaderTokens(
        doc=doc,
        pos=np.arange(len(flat), dtype=np.int64) - starts[doc],
        valence=np.where(in_lexicon, valence, 0.0)[ids],
        in_lexicon=in_lexicon[ids],
        booster=np.fromiter(map(_VADER_BOOSTERS.get, low, repeat(0.0)), dtype=np.float64, count=n)[ids],
        negation=negation[ids],
        upper=np.fromiter(map(str.isupper, words), dtype=bool, count=n)[ids],
        code=np.fromiter(map(_VADER_CODES.get, low, repeat(0)), dtype=np.int64, count=n)[ids],
    )


class _Near:
    """Properties of the words `offset` places from a subset of a batch's words, within the same text.
    Each offset's positions, word codes and phrase keys are computed once per batch (the rules ask for the
    same neighbours many times)."""

    def __init__(self, t: _VaderTokens, at: np.ndarray) -> None:
        self.t, self.at = t, at
        self._positions: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._codes: dict[int, np.ndarray] = {}
        self._keys: dict[tuple[int, int], np.ndarray] = {}

    def _position(self, offset: int) -> tuple[np.ndarray, np.ndarray]:
        """Index of the word `offset` places away (clipped into the batch), whether it is in the same text."""
        found = self._positions.get(offset)
        if found is None:
            n_words = self.t.doc.shape[0]
            j = self.at + offset
            jc = np.minimum(np.maximum(j, 0), max(n_words - 1, 0))
            same = (j >= 0) & (j < n_words) & (self.t.doc[jc] == self.t.doc[self.at])
            found = self._positions[offset] = (jc, same)
        return found

    def get(self, a: np.ndarray, offset: int, fill: Any) -> np.ndarray:
        jc, same = self._position(offset)
        return np.where(same, a[jc], fill)

    def code(self, offset: int) -> np.ndarray:
        found = self._codes.get(offset)
        if found is None:
            found = self._codes[offset] = self.get(self.t.code, offset, -1)
        return found

    def phrase_key(self, offset: int, length: int) -> np.ndarray:
        """The words `offset` to `offset + length - 1` places from each word as one integer (_phrase_key)."""
        found = self._keys.get((offset, length))
        if found is None:
            found = self.code(offset) + 1
            for j in range(1, length):
                found = found * _KEY_BASE + self.code(offset + j) + 1
            self._keys[(offset, length)] = found
        return found


_KEY_BASE = 64  # > len(_VADER_WORDS) + 1: each word's code + 1 is one digit (0: no word there)


def _phrase_key(words: tuple[str, ...]) -> int:
    key = 0
    for word in words:
        key = key * _KEY_BASE + _VADER_WORDS.index(word) + 2
    return key


def _phrase_table(phrases: dict[tuple[str, ...], float], length: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted keys and their values, for the phrases of one length."""
    pairs = sorted((_phrase_key(w), v) for w, v in phrases.items() if len(w) == length)
    return np.array([k for k, _ in pairs], dtype=np.int64), np.array([v for _, v in pairs], dtype=np.float64)


def _lookup(table: tuple[np.ndarray, np.ndarray], key: np.ndarray) -> np.ndarray:
    """The table's value of each key, NaN where the key is not in it."""
    keys, values = table
    i = np.minimum(np.searchsorted(keys, key), keys.shape[0] - 1)
    return np.where(keys[i] == key, values[i], np.nan)


_SPECIAL_TABLES = {n: _phrase_table(_VADER_SPECIAL, n) for n in (2, 3)}
_DAMPENING_TABLE = _phrase_table(dict.fromkeys(_VADER_DAMPENING, -_B_INCR), 2)


def _vader_idioms(v: np.ndarray, near: _Near) -> np.ndarray:
    """VADER's special-case check: a phrase ending at or just before the word (first match in its order),
    then one starting at the word, set the valence; "kind of", "sort of", "just enough" before it dampen.
    Each (start, length) is one table lookup of the words' combined key."""
    before = np.full(v.shape[0], np.nan)
    for start, length in ((-1, 2), (-2, 3), (-2, 2), (-3, 3), (-3, 2)):  # 1-0, 2-1-0, 2-1, 3-2-1, 3-2
        before = np.where(
            np.isnan(before), _lookup(_SPECIAL_TABLES[length], near.phrase_key(start, length)), before
        )
    v = np.where(np.isnan(before), v, before)
    for length in (2, 3):
        at_word = _lookup(_SPECIAL_TABLES[length], near.phrase_key(0, length))
        v = np.where(np.isnan(at_word), v, at_word)
    for start in (-3, -2):
        damp = _lookup(_DAMPENING_TABLE, near.phrase_key(start, 2))
        v = np.where(np.isnan(damp), v, v + damp)
    return v


def _vader_valences(t: _VaderTokens, at: np.ndarray, cap_diff: np.ndarray) -> np.ndarray:
    """The valence of each lexicon word `at` (indices into t) after VADER's rules for the words before it."""
    near = _Near(t, at)
    c = _VADER_CODES
    pos = t.pos[at]
    code1, code2, code3 = near.code(-1), near.code(-2), near.code(-3)
    base = t.valence[at]
    v = np.where((t.code[at] == c["no"]) & near.get(t.in_lexicon, 1, False), 0.0, base)
    or_nor = (code1 == c["or"]) | (code1 == c["nor"])
    after_no = (code1 == c["no"]) | (code2 == c["no"]) | ((code3 == c["no"]) & or_nor)
    v = np.where(after_no, base * _N_SCALAR, v)
    v = np.where(t.upper[at] & cap_diff, np.where(v > 0, v + _C_INCR, v - _C_INCR), v)
    so_this = {k: (code == c["so"]) | (code == c["this"]) for k, code in ((1, code1), (2, code2))}
    for k, damp in ((1, 1.0), (2, 0.95), (3, 0.9)):
        ok = (pos >= k) & ~near.get(t.in_lexicon, -k, True)
        scalar = near.get(t.booster, -k, 0.0)
        scalar = np.where(v < 0, -scalar, scalar)
        capped = (scalar != 0) & near.get(t.upper, -k, False) & cap_diff
        scalar = np.where(capped, np.where(v > 0, scalar + _C_INCR, scalar - _C_INCR), scalar)
        v = np.where(ok, v + scalar * damp, v)
        negated = near.get(t.negation, -k, False)
        if k == 1:
            never_so, keep = np.zeros_like(ok), np.zeros_like(ok)
        elif k == 2:
            never_so = (code2 == c["never"]) & so_this[1]
            keep = (code2 == c["without"]) & (code1 == c["doubt"])
        else:
            never_so = ((code3 == c["never"]) & so_this[2]) | so_this[1]
            keep = (code3 == c["without"]) & ((code2 == c["doubt"]) | (code1 == c["doubt"]))
        factor = np.where(never_so, 1.25, np.where(keep, 1.0, np.where(negated, _N_SCALAR, 1.0)))
        v = np.where(ok, v * factor, v)
        if k == 3:
            v = np.where(ok, _vader_idioms(v, near), v)
    least = (code1 == c["least"]) & ~near.get(t.in_lexicon, -1, True)
    least &= (pos == 1) | ~((code2 == c["at"]) | (code2 == c["very"]))
    return np.where(least, v * _N_SCALAR, v)


def vader_compound(texts: Sequence[str], lexicon: dict[str, float]) -> np.ndarray:
    """VADER's compound score in [-1, 1] for each text (see the section comment for the rules)."""
    n = len(texts)
    t = _vader_tokens(texts, lexicon)
    next_code = np.where(np.append(t.doc[1:], -1) == t.doc, np.append(t.code[1:], -1), -1)
    kind_of = (t.code == _VADER_WORDS.index("kind") + 1) & (next_code == _VADER_WORDS.index("of") + 1)
    at = np.flatnonzero(t.in_lexicon & (t.booster == 0) & ~kind_of)
    n_upper = np.bincount(t.doc, weights=t.upper, minlength=n)
    cap_diff = (n_upper > 0) & (n_upper < np.bincount(t.doc, minlength=n))
    v = _vader_valences(t, at, cap_diff[t.doc[at]])
    # The first "but" of a text: words before it count half, words after it one and a half.
    buts = np.flatnonzero(t.code == _VADER_WORDS.index("but") + 1)
    first_but = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first_but, t.doc[buts], t.pos[buts])
    but, pos = first_but[t.doc[at]], t.pos[at]
    has_but = but < np.iinfo(np.int64).max
    v = v * np.where(has_but & (pos < but), 0.5, np.where(has_but & (pos > but), 1.5, 1.0))
    total = np.bincount(t.doc[at], weights=v, minlength=n)
    marks = np.array([[text.count("!"), text.count("?")] for text in texts], dtype=np.float64).reshape(n, 2)
    qm = np.where(marks[:, 1] > 3, 0.96, np.where(marks[:, 1] > 1, marks[:, 1] * 0.18, 0.0))
    total = total + np.sign(total) * (np.minimum(marks[:, 0], 4) * 0.292 + qm)
    return np.clip(total / np.sqrt(total * total + 15.0), -1.0, 1.0)


# ---------------------------------------------------------------------------------------------------------
# The model: linear components over the shared hashed features, combined and calibrated per text length:
# P(positive) = sigmoid(intercept[bucket] + sum_k coef[bucket, k] * margin_k), bucket = the text's length.
# ---------------------------------------------------------------------------------------------------------

BINARY = "binary"  # margin = intercept + sum of the weights of the features a text has (NB-LR weights)
L2_LOGTF_IDF = "l2-logtf-idf"  # x_j = log(1 + count_j) * idf_j, l2-normalized per text; margin = w . x + b
VADER_COMPOUND = "vader-compound"  # margin = VADER's compound score of the text (no weights; a lexicon)


@dataclass
class Component:
    """One linear model over the hashed features (weights already folded with NB ratios where used).

    Weights live on "slots": the model's features in a compact array, slot 0 standing for every feature
    the model does not use (weight 0, idf 0); SentimentModel.slot_of maps a feature to its slot."""

    name: str
    kind: str
    weights: np.ndarray  # float32, one per slot
    intercept: float
    idf: np.ndarray | None = None  # float32, one per slot, 0 for features the model ignores
    lexicon: dict[str, float] | None = None  # word -> valence, for a VADER_COMPOUND component

    @property
    def hashed(self) -> bool:
        """Whether the component is linear in the hashed n-gram features (explanations list those)."""
        return self.kind != VADER_COMPOUND

    def contributions(self, fz: Featurized, slots: np.ndarray) -> np.ndarray:
        """Each (document, feature) pair's share of its document's margin (intercept excluded)."""
        w = self.weights[slots].astype(np.float64)
        if self.kind == BINARY:
            return w
        if self.idf is None or fz.count is None:
            raise ValueError(f"component {self.name!r} needs idf weights and feature counts")
        v = np.log1p(fz.count.astype(np.float64)) * self.idf[slots]
        norm = np.sqrt(np.bincount(fz.doc, weights=v * v, minlength=fz.n_docs))
        norm[norm == 0] = 1.0
        return w * v / norm[fz.doc]

    def margins(self, fz: Featurized, slots: np.ndarray, stripped: Sequence[str]) -> np.ndarray:
        """Margins of the texts featurized as fz (`stripped`: the same texts through strip_markup)."""
        if self.kind == VADER_COMPOUND:
            if self.lexicon is None:
                raise ValueError(f"component {self.name!r} needs its lexicon")
            return vader_compound(stripped, self.lexicon) + self.intercept
        contrib = self.contributions(fz, slots)
        return np.bincount(fz.doc, weights=contrib, minlength=fz.n_docs) + self.intercept


@dataclass
class LengthCalibration:
    """One (coefficients, intercept) per length bucket: bucket k takes texts of at most max_tokens[k]
    tokens that no earlier bucket took; the last bucket takes every longer text."""

    max_tokens: list[int]  # one per bucket but the last
    coef: np.ndarray  # (n_buckets, n_components)
    intercept: np.ndarray  # (n_buckets,)

    def bucket(self, n_tokens: np.ndarray) -> np.ndarray:
        return np.searchsorted(np.asarray(self.max_tokens, dtype=np.int64), n_tokens, side="left")

    def to_json(self, names: Sequence[str]) -> dict[str, Any]:
        edges = [*self.max_tokens, None]
        return {
            "method": "logistic-by-length",
            "components": list(names),
            "buckets": [
                {"max_tokens": edge, "coef": [float(c) for c in coef], "intercept": float(b)}
                for edge, coef, b in zip(edges, self.coef, self.intercept, strict=True)
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LengthCalibration:
        buckets = data["buckets"]
        return cls(
            max_tokens=[int(b["max_tokens"]) for b in buckets[:-1]],
            coef=np.array([b["coef"] for b in buckets], dtype=np.float64),
            intercept=np.array([b["intercept"] for b in buckets], dtype=np.float64),
        )


@dataclass
class SentimentModel:
    spec: FeatureSpec
    slot_of: np.ndarray  # int32, shape (spec.n_features,): each feature's slot in the components' arrays
    components: list[Component]
    calibration: LengthCalibration
    model_version: str
    classes: tuple[str, str] = ("negative", "positive")
    threshold: float = 0.5
    uncertain_band: tuple[float, float] = (0.5, 0.5)  # scores inside [low, high] are flagged uncertain
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def needs_counts(self) -> bool:
        return any(c.kind == L2_LOGTF_IDF for c in self.components)

    def _chunks(self, texts: Sequence[str]) -> Iterator[tuple[int, Featurized, list[str]]]:
        """Each chunk's offset, features and texts through strip_markup."""
        for lo in range(0, len(texts), CHUNK):
            stripped = [strip_markup(t) for t in texts[lo : lo + CHUNK]]
            yield lo, featurize_stripped(stripped, self.spec, counts=self.needs_counts), stripped

    def component_margins(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Uncalibrated log-odds of every component (texts x components) and each text's token count."""
        out = np.empty((len(texts), len(self.components)), dtype=np.float64)
        n_tokens = np.empty(len(texts), dtype=np.int64)
        for lo, fz, chunk in self._chunks(texts):
            slots = self.slot_of[fz.feature]
            for k, comp in enumerate(self.components):
                out[lo : lo + fz.n_docs, k] = comp.margins(fz, slots, chunk)
            n_tokens[lo : lo + fz.n_docs] = fz.n_tokens
        return out, n_tokens

    def log_odds(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated log-odds of positive for each text."""
        margins, n_tokens = self.component_margins(texts)
        b = self.calibration.bucket(n_tokens)
        return np.einsum("ij,ij->i", margins, self.calibration.coef[b]) + self.calibration.intercept[b]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated P(positive) for each text."""
        z = self.log_odds(texts)
        return 1.0 / (1.0 + np.exp(-np.clip(z, -500.0, 500.0)))

    def is_uncertain(self, score: float) -> bool:
        return self.uncertain_band[0] <= score <= self.uncertain_band[1]

    def explain(self, text: str, top_k: int = EXPLAIN_TOP_K) -> dict[str, list[dict[str, Any]]]:
        """The word n-grams of a text that pushed its score most toward each class (calibrated log-odds)."""
        fz = featurize([text], self.spec, counts=True)
        slots = self.slot_of[fz.feature]
        coef = self.calibration.coef[int(self.calibration.bucket(fz.n_tokens)[0])]
        total = sum(
            c * comp.contributions(fz, slots)
            for c, comp in zip(coef, self.components, strict=True)
            if comp.hashed  # the valence component has no per-n-gram share
        )
        by_feature = dict(zip(fz.feature.tolist(), np.asarray(total).tolist(), strict=True))
        seen: dict[int, str] = {}
        for gram, f in word_ngrams_with_features(text, self.spec):
            seen.setdefault(f, gram)
        contrib = sorted(((round(by_feature.get(f, 0.0), 4), g) for f, g in seen.items()), reverse=True)
        pos = [{"ngram": g, "weight": w} for w, g in contrib[:top_k] if w > 0]
        neg = [{"ngram": g, "weight": w} for w, g in reversed(contrib[-top_k:]) if w < 0]
        return {"positive": pos, "negative": neg}


def load_model(model_dir: str) -> SentimentModel:
    """Read model.json and weights.npz from a directory (an extracted model.tar.gz)."""
    with open(os.path.join(model_dir, "model.json"), encoding="utf-8") as fh:
        meta = json.load(fh)
    if int(meta.get("format_version", 0)) != FORMAT_VERSION:
        raise ValueError(f"unsupported model format_version {meta.get('format_version')!r}")
    spec = FeatureSpec.from_json(meta["features"])
    for name in ("hash", "tokenizer", "normalizer"):
        if meta["features"].get(name) != getattr(spec, name):
            raise ValueError(
                f"model.json was trained with {name} {meta['features'].get(name)!r} but this inference.py "
                f"implements {getattr(spec, name)!r}: serve the artifact with the code it was built with"
            )
    components = []
    with np.load(os.path.join(model_dir, "weights.npz"), allow_pickle=False) as npz:
        # One scatter into a dense map (feature -> slot); the weights stay compact, slot 0 being "absent".
        features = np.cumsum(npz["feature_index_deltas"].astype(np.int64))
        slot_of = np.zeros(spec.n_features, dtype=np.int32)
        slot_of[features] = np.arange(1, features.shape[0] + 1, dtype=np.int32)
        for comp in meta["components"]:
            if comp["kind"] == VADER_COMPOUND:
                lexicon = read_lexicon(os.path.join(model_dir, comp["lexicon"]))
                no_weights = np.zeros(1, np.float32)
                components.append(Component(comp["name"], comp["kind"], no_weights, 0.0, None, lexicon))
                continue
            if comp["kind"] not in (BINARY, L2_LOGTF_IDF):
                raise ValueError(f"unknown component kind {comp['kind']!r}: serve an artifact with its code")
            prefix = f"{comp['name']}_"
            weights = np.zeros(features.shape[0] + 1, dtype=np.float32)
            weights[1:] = npz[f"{prefix}values"].astype(np.float32) * np.float32(npz[f"{prefix}scale"])
            idf = None
            if comp["kind"] == L2_LOGTF_IDF:
                idf = np.zeros(features.shape[0] + 1, dtype=np.float32)
                idf[1:] = npz[f"{prefix}idf"]
            components.append(
                Component(comp["name"], comp["kind"], weights, float(npz[f"{prefix}intercept"]), idf)
            )
    band = meta.get("uncertainty", {}).get("band", [0.5, 0.5])
    return SentimentModel(
        spec=spec,
        slot_of=slot_of,
        components=components,
        calibration=LengthCalibration.from_json(meta["calibration"]),
        model_version=str(meta["model_version"]),
        classes=(str(meta["classes"][0]), str(meta["classes"][1])),
        threshold=float(meta.get("threshold", 0.5)),
        uncertain_band=(float(band[0]), float(band[1])),
        meta=meta,
    )


# ---------------------------------------------------------------------------------------------------------
# SageMaker container contract
# ---------------------------------------------------------------------------------------------------------


def model_fn(model_dir: str) -> SentimentModel:
    return load_model(model_dir)


def input_fn(request_body: bytes | str, request_content_type: str | None) -> dict[str, Any]:
    """Parse and check a request; every problem raises ValueError with a message for the caller."""
    ctype = (request_content_type or "").split(";")[0].strip().lower()
    if ctype != JSON_CONTENT_TYPE:
        raise ValueError(f"unsupported content type {request_content_type!r}: send {JSON_CONTENT_TYPE}")
    if isinstance(request_body, bytes | bytearray):
        try:
            request_body = bytes(request_body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"request body is not UTF-8: {exc}") from exc
    try:
        payload = json.loads(request_body)
    except json.JSONDecodeError as exc:
        raise ValueError(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict) or "instances" not in payload:
        raise ValueError('request must be a JSON object with "instances": [{"id": ..., "text": ...}]')
    instances = payload["instances"]
    if not isinstance(instances, list) or not instances:
        raise ValueError('"instances" must be a non-empty list')
    if len(instances) > MAX_INSTANCES:
        raise ValueError(f'"instances" has {len(instances)} items; at most {MAX_INSTANCES} per request')
    explain = payload.get("explain", False)
    if not isinstance(explain, bool):
        raise ValueError('"explain" must be true or false')
    ids: list[str] = []
    texts: list[str] = []
    for i, inst in enumerate(instances):
        if not isinstance(inst, dict):
            raise ValueError(f"instances[{i}] must be an object with id and text")
        text = inst.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"instances[{i}].text must be a non-empty string")
        rid = inst.get("id", str(i))
        if not isinstance(rid, str | int) or isinstance(rid, bool):
            raise ValueError(f"instances[{i}].id must be a string")
        ids.append(str(rid))
        texts.append(text)
    return {"ids": ids, "texts": texts, "explain": explain}


def predict_fn(input_data: dict[str, Any], model: SentimentModel) -> dict[str, Any]:
    texts: list[str] = input_data["texts"]
    scores = model.predict_proba(texts)
    neg_label, pos_label = model.classes
    predictions: list[dict[str, Any]] = []
    for rid, score in zip(input_data["ids"], scores.tolist(), strict=True):
        predictions.append(
            {
                "id": rid,
                "label": pos_label if score >= model.threshold else neg_label,
                "score": round(score, 6),
                "uncertain": model.is_uncertain(score),
            }
        )
    if input_data.get("explain"):
        for pred, text in zip(predictions, texts, strict=True):
            pred["explanation"] = model.explain(text)
    return {
        "predictions": predictions,
        "model_version": model.model_version,
        "uncertain_band": list(model.uncertain_band),
    }


def output_fn(prediction: dict[str, Any], accept: str | None) -> tuple[str, str]:
    accepted = [a.split(";")[0].strip().lower() for a in (accept or JSON_CONTENT_TYPE).split(",")]
    if not any(a in (JSON_CONTENT_TYPE, "*/*", "application/*") for a in accepted):
        raise ValueError(f"unsupported accept type {accept!r}: this model answers {JSON_CONTENT_TYPE}")
    return json.dumps(prediction, separators=(",", ":")), JSON_CONTENT_TYPE
