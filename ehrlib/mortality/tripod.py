"""A TRIPOD+AI checklist (Collins et al., BMJ 2024;385:e078378) generated from the run's results.

Each row is one reporting item (grouped as in the statement, abridged), where the book answers it,
and what this run reports for it, read from the typed `MortalityResults`. Items the book cannot
answer (it is a methods study on synthetic data) say so instead of being left out.
"""

from __future__ import annotations

from ehrlib.booktext import interval
from ehrlib.evaluation.calibration import calibrator_name
from ehrlib.mortality.report import MODEL_NAMES, models_of
from ehrlib.mortality.results import MortalityResults


def _data_text(r: MortalityResults) -> str:
    if r.data is None:
        return "not written in this run"
    parts = [f"{s} {c.n:,} episodes / {c.subjects:,} subjects / {c.deaths:,} deaths" for s, c in r.data.splits.items()]
    return f"{r.data.source} data, {r.data.n_variables} variables; " + "; ".join(parts)


def checklist_rows(r: MortalityResults) -> list[tuple[str, str, str, str]]:
    """(item, topic, where in the book, this run) rows of the checklist."""
    m = r.lstm
    models = ", ".join(MODEL_NAMES.get(k, k) for k in models_of(r))
    sub = ("not evaluated" if r.subgroups is None else
           f"{len(r.subgroups.rows)} model x subgroup rows" if r.subgroups.available else r.subgroups.reason)
    seeds = f"{len(r.seeds.seeds)} seeds" if r.seeds is not None else "one seed"
    kfold = f"{r.kfold.n_splits}-fold by patient" if r.kfold is not None else "not run"
    return [
        ("1-2", "Title and abstract", "Book introduction", "in-hospital mortality from the first 48 h of an ICU stay"),
        ("3", "Background and objectives", "Chapters 3 and 7", "does an LSTM beat simpler models on this data?"),
        ("5", "Data source and dates", "Chapters 1 and 3", _data_text(r)),
        ("6", "Participants and setting", "Chapter 1 (generator), chapter 3", "adult ICU stays with at least 48 h"),
        ("7", "Data preparation", "Chapter 3 (preprocessing), chapter 2 (missingness)",
         "forward fill, training medians, standardisation, masked empty hours"),
        ("8", "Outcome", "Chapter 1", "in-hospital death, drawn from the latent risk"),
        ("9", "Predictors", "Chapters 1 and 3", f"{r.data.n_variables if r.data else '?'} hourly variables"),
        ("10", "Sample size", "Chapter 7 (learning curve)",
         "learning curve computed" if r.learning_curve is not None else "learning curve not run"),
        ("11", "Missing data", "Chapter 2; chapter 7 (missingness baseline, ablation)",
         "ablation run" if r.ablation is not None else "ablation not run"),
        ("12a", "Analytical methods: models", "Chapters 3 and 7", models),
        ("12b", "Internal validation", "Chapter 7", f"held-out test split scored once; {kfold}; {seeds}"),
        ("12c", "Performance measures", "Chapters 4 and 7",
         f"LSTM AUROC {interval(m.auroc)} (raw scores, {m.n_boot} subject-bootstrap resamples)"),
        ("12d", "Calibration", "Chapter 4",
         f"{calibrator_name(m.calibrator)} chosen on validation; test ECE {interval(m.calibrated.ece, 4)}, ICI {interval(m.calibrated.ici, 4)}"),
        ("12e", "Clinical utility", "Chapter 7 (decision curve)",
         "decision curve computed" if r.decision_curve is not None else "not computed"),
        ("14", "Fairness (subgroups)", "Chapter 7", sub),
        ("18", "Open science: code and data", "Repository README",
         "all code in ehrlib; predictions and fitted state saved beside the results"),
        ("20", "Results: participants", "Chapter 8 (Data)", _data_text(r)),
        ("23", "Model performance", "Chapter 8 (Test metrics, Baselines)", f"threshold {m.threshold:.3f} from validation"),
        ("26", "Limitations", "Chapter 8 (Limits)", "synthetic data; see the report's limits"),
        ("27", "Usability in practice", "not answered", "a methods study on synthetic data; no deployment claim"),
    ]


def tripod_checklist(results: MortalityResults) -> str:
    """The checklist as a Markdown table."""
    rows = checklist_rows(results)
    lines = ["| item | topic | where the book answers it | this run |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines) + "\n"
