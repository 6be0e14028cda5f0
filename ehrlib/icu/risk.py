"""The synthetic ICU data's mortality model: the weights (`RISK_WEIGHTS`, the one definition), the
terms they multiply, the linear predictor, its formula as text, and the intercept that sets the
prevalence. The data card (`book/cards/icu-data.md`) shows the formula `risk_model_text` generates from
the weights (a test checks it) and explains each term.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ehrlib.icu.schema import VARIABLES

if TYPE_CHECKING:  # the generator's state types; the generator imports this module
    from ehrlib.icu.synth import RealismFlags, _Care, _Course, _Subjects

_TEMPERATURE, _GLUCOSE, _SODIUM = (VARIABLES.index(v) for v in ("Temperature", "Glucose", "Sodium"))

#: Mortality model weights: the one definition. The data card's formula is generated from
#: them by `risk_model_text` (a test checks that the card shows exactly that text).
#: Most weight lies on what only the course shows (the first day's circulatory load, an acute event's
#: clearance), so that a model of the exact latent trajectory beats one of the latent state at hour 48
#: by at least 0.02 AUROC (chapter 01's headroom table measures it on test). Every term is roughly
#: symmetric except the event and limitation terms, so the linear predictor is close to normal and the
#: true risk has no needlessly extreme tail.
RISK_WEIGHTS: dict[str, float] = {
    "C(48)": 0.05, "R(48)": 0.05, "K(48)": 0.3, "I(48)": 0.05, "age_z": 0.6, "emergency": 0.2,
    "age_z*S(48)": 0.05, "C(0-24)": 1.1, "event_unresolved": 3.0,
    "u_temperature": 0.1, "u_glucose": 0.15, "u_sodium": 0.2, "limitation": 0.6,
}
W_UNIVARIATE = 1.0  # the risk model with multivariate_mortality off: b0 + W_UNIVARIATE * S(48)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function."""
    return 1.0 / (1.0 + np.exp(-x))


def calibrate_intercept(lin: np.ndarray, target: float) -> float:
    """Solve mean(sigmoid(b0 + lin)) = target for b0 by bisection (deterministic, 200 steps max)."""
    lo, hi = -30.0, 30.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if sigmoid(mid + lin).mean() < target:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return 0.5 * (lo + hi)


def risk_terms(sub: "_Subjects", course: "_Course", care: "_Care", truth: np.ndarray, fl: "RealismFlags") -> dict[str, np.ndarray]:
    """The terms of the mortality model, named as in `RISK_WEIGHTS`: organ factors, severity and
    age at 48 h, admission category, the mean cardiovascular factor of hours 0-24, the unresolved
    share of an acute event (time since it and the response matter, not its size), U-shaped terms of
    the last 12 hours' noiseless temperature, glucose and sodium, and a decision to limit treatment."""
    c_end, s_end = course.organ[:, -1, :], course.sev[:, -1]
    last = truth[:, -12:, :].mean(axis=1)
    u = float(fl.u_shaped_risk)
    return {
        "C(48)": c_end[:, 0], "R(48)": c_end[:, 1], "K(48)": c_end[:, 2], "I(48)": c_end[:, 3],
        "age_z": sub.age_z, "emergency": (sub.adm == 0).astype(float), "age_z*S(48)": sub.age_z * s_end,
        "C(0-24)": care.cardio_burden, "event_unresolved": care.unresolved,
        "u_temperature": u * np.minimum(((last[:, _TEMPERATURE] - 37.0) / 1.0) ** 2, 4.0),
        "u_glucose": u * np.minimum(((last[:, _GLUCOSE] - 140.0) / 70.0) ** 2, 4.0),
        "u_sodium": u * np.minimum(((last[:, _SODIUM] - 140.0) / 6.0) ** 2, 4.0),
        "limitation": care.withdrawn[:, -1].astype(float),
    }


def risk_score(sub: "_Subjects", course: "_Course", care: "_Care", truth: np.ndarray, fl: "RealismFlags") -> np.ndarray:
    """The linear predictor of the mortality model without its intercept (see `risk_model_text`)."""
    if not fl.multivariate_mortality:
        return W_UNIVARIATE * course.sev[:, -1]
    terms = risk_terms(sub, course, care, truth, fl)
    return sum(w * terms[name] for name, w in RISK_WEIGHTS.items())


def risk_model_text() -> str:
    """The mortality model as a formula, generated from `RISK_WEIGHTS` (shown in the docs)."""
    return "logit p = b0 + " + " + ".join(f"{w:g} {name}" for name, w in RISK_WEIGHTS.items())
