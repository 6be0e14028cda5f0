"""The book's key findings, written from the typed results of this build.

After the chapters ran, the book runner writes `book/findings.md`, which the introduction and the
conclusion include: a few sentences per study, each built from the results files by a *verdict*
function here (never typed by hand), so that a sentence changes with the numbers. Each function is
tested on records whose numbers point the other way. A study whose chapter did not run in this
profile is named as such instead of summarised.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ehrlib.booktext import interval, spread
from ehrlib.evaluation.bootstrap import Interval
from ehrlib.evaluation.calibration import calibrator_name
from ehrlib.files import atomic_write_text
from ehrlib.records import RecordError
from ehrlib.mortality.prose import runs_verdict
from ehrlib.mortality.real_report import difference_sentence, label
from ehrlib.mortality.real_results import RealDataResults, load_real_results
from ehrlib.mortality.results import MortalityResults, load_results
from ehrlib.profiles import get_profile
from ehrlib.stroke.results import StrokeMetrics, stroke_verdict

PAGE = Path("book") / "findings.md"


def mortality_findings(r: MortalityResults) -> list[str]:
    """The synthetic mortality study: the LSTM over seeds against the regression and the true risk."""
    if r.seeds is None or r.baselines is None or r.lstm is None:
        return ["The synthetic mortality chapters (3, 4 and 7) did not run in this build."]
    auroc = np.asarray(r.seeds.auroc)
    diff = float(np.mean([d.value for d in r.seeds.diff_auroc]))
    lr = r.baselines["logistic_regression"].evaluation.auroc
    out = [f"On the synthetic ICU stays the replication's LSTM reaches a test AUROC of {auroc.mean():.3f} "
           f"± {auroc.std(ddof=1) if auroc.size > 1 else 0.0:.3f} over {auroc.size} seeds, against "
           f"{interval(lr)} for the benchmark's logistic regression; LSTM minus regression averages "
           f"{diff:+.3f}, and {runs_verdict(r.seeds.diff_auroc)}."]
    if r.oracle is not None:
        out.append(f"The generator's true risk, the best any model can reach on these stays, scores "
                   f"{interval(r.oracle.auroc)}.")
    cal = r.lstm.calibrated.ece
    method = calibrator_name(r.lstm.calibrator)
    out.append(f"Calibrated on validation ({method}), the LSTM's expected calibration error on test is "
               f"{interval(cal)}.")
    return out


def real_findings(r: RealDataResults) -> list[str]:
    """The real-data study: the LSTM against boosted trees and the organisers' SAPS-I, both protocols."""
    ch = r.protocols["challenge"]
    out = [f"On real ICU stays (PhysioNet 2012, fitted on set A and scored on set B, {ch.n_splits} runs each), "
           f"the LSTM reaches an AUROC of {spread(ch.models['lstm'].spread['auroc'])} (mean ± SD, range), "
           f"{label('gbt').lower()} {spread(ch.models['gbt'].spread['auroc'])} and the organisers' SAPS-I "
           f"{spread(ch.models['saps1'].spread['auroc'])}; LSTM minus trees is "
           f"{difference_sentence(ch, 'lstm', 'gbt')}."]
    if "kfold" in r.protocols:
        kf = r.protocols["kfold"]
        out.append(f"{kf.n_splits}-fold cross-validation over both sets gives {spread(kf.models['lstm'].spread['auroc'])} "
                   f"for the LSTM and {spread(kf.models['gbt'].spread['auroc'])} for the trees.")
    return out


def stroke_findings(s: StrokeMetrics) -> list[str]:
    """The stroke study: model 3 in the paper's view (mean and spread over seeds), and the networks against
    their best baseline (chosen on validation) in the views the case-control sampling cannot flatter."""
    m3 = s.models["model 3 (dual input)"]
    over = m3.spread("paper")
    auroc = spread(over) + f" over {over.n} seeds" if over is not None else f"{m3.headline('paper'):.3f}"
    return [f"In the stroke study the dual-input network scores an AUROC of {auroc} on the paper's samples "
            f"(the paper reports {s.paper_auroc:.3f}). In one prediction per patient and within matched sets, "
            f"paired against their best simple baseline over matched-set resamples: {stroke_verdict(s)}."]


def _load(loader, folder: Path):
    """A results record, or None when its chapter has not written it in this profile."""
    try:
        return loader(folder)
    except (FileNotFoundError, RecordError):
        return None


def findings_page(root: Path, profile_name: str) -> str:
    """The findings as Markdown bullets, from the results of `profile_name` under `root`."""
    p = get_profile(profile_name)
    results = root / "data" / "results" / profile_name
    mortality = _load(load_results, results)
    real = _load(load_real_results, results / "physionet2012")
    stroke = _load(lambda f: StrokeMetrics.load(f / "stroke_metrics.json"), results)
    parts = [*(mortality_findings(mortality) if mortality else ["The synthetic mortality chapters did not run."]),
             *(real_findings(real) if real else ["The real-data chapter (9) did not run in this build."]),
             *(stroke_findings(stroke) if stroke else ["The stroke chapters (5 and 6) did not run in this build."])]
    scale = "the quick profile: small and noisy, for testing" if p.name == "quick" else f"the {p.name} profile"
    return "\n".join([f"<!-- Written by ehrlib.findings from this build's results ({p.name} profile). -->",
                      *[f"- {sentence}" for sentence in parts],
                      f"\nThese figures come from {scale}.", ""])


def write_findings(root: Path, profile_name: str) -> Path:
    """Write `book/findings.md` for this build (atomically)."""
    return atomic_write_text(root / PAGE, findings_page(root, profile_name))
