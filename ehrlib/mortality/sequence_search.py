"""The small documented search that trains the replication's LSTM well, on validation data only.

`search(fit_set, base, stages)` takes ONE set of stays (the stays the protocol fits on: set A for the
challenge protocol) and nothing else, splits it once by patient into a search-training part and a
search-validation part (`evaluation.kfold.inner_split`), and walks through `stages` greedily: each
stage tries its candidates (field changes applied to the best spec so far), trains each once on the
search-training part with early stopping on the search-validation part, and keeps the one with the
highest validation AUROC (ties: the earlier candidate, so the current spec wins a tie). No test stay
can reach it: it is never given one (tested with a fitter that records every stay it sees).

`LSTM_STAGES` is the book's search: the loss (the replication's focal loss with alpha 0.25, which
weights deaths down; focal with alpha 0.75; plain cross-entropy), dropout (the replication's 0.5 on
inputs and head and 0.3 recurrent; 0.2 and 0; none), the learning rate (0.001, 0.003), and the inputs
(the hours since each value was observed added; the mask indicators removed; the descriptors removed).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from ehrlib.evaluation.kfold import inner_split
from ehrlib.evaluation.metrics import ranking_metrics
from ehrlib.icu.episodes import EpisodeSet
from ehrlib.records import Record
from ehrlib.logs import get_logger
from ehrlib.mortality.sequence_models import Fitter, SequenceSpec, sequence_fitter
from ehrlib.workers import ordered_map

_log = get_logger(__name__)

Candidate = tuple[str, dict[str, Any]]  # label, field changes ("train.loss", "inputs.delta", "lstm_dropout")
Stage = tuple[str, list[Candidate]]

LSTM_STAGES: list[Stage] = [
    ("loss", [("focal, alpha 0.25 (replication)", {}),
              ("focal, alpha 0.75", {"train.alpha": 0.75}),
              ("cross-entropy", {"train.loss": "bce"})]),
    ("dropout", [("0.5 inputs and head, 0.3 recurrent (replication)", {}),
                 ("0.2 inputs and head, none recurrent", {"lstm_dropout": 0.2, "lstm_head_dropout": 0.2,
                                                          "lstm_recurrent_dropout": 0.0}),
                 ("none", {"lstm_dropout": 0.0, "lstm_head_dropout": 0.0, "lstm_recurrent_dropout": 0.0})]),
    ("learning rate", [("0.001 (replication)", {}), ("0.003", {"train.learning_rate": 3e-3})]),
    ("inputs", [("values + mask + descriptors (replication)", {}),
                ("+ hours since observed", {"inputs.delta": True}),
                ("- mask indicators", {"inputs.mask": False}),
                ("- descriptors", {"inputs.descriptors": False})]),
]


def apply_changes(spec: SequenceSpec, changes: dict[str, Any]) -> SequenceSpec:
    """`spec` with `changes` applied: a key is a field of the spec or "train.<field>" / "inputs.<field>"."""
    top = {k: v for k, v in changes.items() if "." not in k}
    for part in ("train", "inputs"):
        sub = {k.split(".", 1)[1]: v for k, v in changes.items() if k.startswith(part + ".")}
        if sub:
            top[part] = replace(getattr(spec, part), **sub)
    unknown = [k for k in changes if "." in k and k.split(".", 1)[0] not in ("train", "inputs")]
    if unknown:
        raise ValueError(f"unknown search fields {unknown}: use a spec field, train.<field> or inputs.<field>")
    return replace(spec, **top)


@dataclass
class SearchRow(Record):
    """One candidate: its stage and label, the spec tried, validation AUROC, best epoch, seconds, kept."""

    stage: str
    label: str
    spec: SequenceSpec
    val_auroc: float
    seconds: float
    kept: bool = False


@dataclass
class SearchResult(Record):
    """Every candidate tried, the chosen spec, and the stays (ids) the search trained and validated on."""

    rows: list[SearchRow]
    chosen: SequenceSpec
    train_stays: list[str]
    val_stays: list[str]


@dataclass(frozen=True)
class SearchConfig:
    """The search's split (1 / `inner_splits` of the stays validate), the seed of its split and trainings,
    and how many of a stage's candidates train at once (`ehrlib.workers.ordered_map`: same results)."""

    inner_splits: int = 8
    seed: int = 0
    workers: int = 1


def _try(name: str, label: str, spec: SequenceSpec, train: EpisodeSet, val: EpisodeSet,
         make_fitter: Callable[[SequenceSpec, int], Fitter], seed: int) -> SearchRow:
    """Train one candidate on `train` (early stopping on `val`) and score it on `val`."""
    start = time.perf_counter()
    p = make_fitter(spec, seed)(train, val)(val)
    auroc = float(ranking_metrics(np.asarray(val.y).astype(int), p)["auroc"])
    row = SearchRow(name, label, spec, auroc, time.perf_counter() - start)
    _log.info(f"search, {name}: {label}: validation AUROC {auroc:.4f} ({row.seconds:.0f} s)")
    return row


def _stage(name: str, candidates: list[Candidate], current: SequenceSpec, train: EpisodeSet, val: EpisodeSet,
           make_fitter: Callable[[SequenceSpec, int], Fitter], seed: int, seen: dict[SequenceSpec, SearchRow],
           workers: int = 1) -> tuple[SequenceSpec, list[SearchRow]]:
    """Try the stage's candidates from `current`, `workers` at a time (a spec already trained is not
    trained again: same seed, same result); return the best spec and the stage's rows."""
    specs = [(label, apply_changes(current, changes)) for label, changes in candidates]
    todo: dict[SequenceSpec, str] = {}  # each spec not trained yet, under its first label
    for label, spec in specs:
        if spec not in seen:
            todo.setdefault(spec, label)
    fresh = {row.spec: row for row in ordered_map(
        lambda job: _try(name, job[1], job[0], train, val, make_fitter, seed), list(todo.items()), workers)}
    seen.update(fresh)
    rows = [fresh.pop(spec) if spec in fresh else SearchRow(name, label, spec, seen[spec].val_auroc, 0.0)
            for label, spec in specs]
    best = int(np.argmax([r.val_auroc for r in rows]))
    rows[best].kept = True
    return rows[best].spec, rows


def search_split(fit_set: EpisodeSet, config: SearchConfig = SearchConfig()) -> tuple[EpisodeSet, EpisodeSet]:
    """The search's one patient split of `fit_set`: its training and validation stays."""
    tr, va = inner_split(np.asarray(fit_set.y).astype(int), fit_set.subject_ids, config.inner_splits, config.seed)
    return fit_set.take(tr), fit_set.take(va)


def search(fit_set: EpisodeSet, base: SequenceSpec, stages: list[Stage] = LSTM_STAGES,
           config: SearchConfig = SearchConfig(),
           make_fitter: Callable[[SequenceSpec, int], Fitter] = sequence_fitter) -> SearchResult:
    """Greedy search over `stages` from `base` on one patient split of `fit_set` (see the module doc)."""
    train, val = search_split(fit_set, config)
    current, rows, seen = base, [], {}
    for name, candidates in stages:
        current, stage_rows = _stage(name, candidates, current, train, val, make_fitter, config.seed, seen,
                                      config.workers)
        rows += stage_rows
    return SearchResult(rows=rows, chosen=current, train_stays=[str(s) for s in train.stays],
                        val_stays=[str(s) for s in val.stays])


def stages_for(size: str) -> list[Stage]:
    """The search of a profile: "full" is `LSTM_STAGES`; "small" its first stage's first two candidates."""
    if size == "full":
        return LSTM_STAGES
    if size == "small":
        name, candidates = LSTM_STAGES[0]
        return [(name, candidates[:2])]
    raise ValueError(f"unknown search size {size!r}; choose 'full' or 'small'")
