"""The headroom table of chapter 01: what the synthetic ICU data permit before any model is trained.

It sits in `mortality` (not `icu.describe`, where its latent-feature helpers live) because one of its
rows is the benchmark's regression, a mortality baseline: imports run only downwards.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from ehrlib.icu.describe import gbt_auroc, last_values, latent_features, lr_auroc, window_means
from ehrlib.icu.synth import IcuCohort
from ehrlib.mortality.baselines import LogisticBaseline

def headroom(cohort: IcuCohort, train, test) -> pd.DataFrame:
    """The headroom table: test AUROC of the true risk (the ceiling), of gradient-boosted trees on
    the exact latent trajectory and on the latent state at hour 48 (their difference is the
    temporal signal), of the MIMIC-III benchmark's regression on 7 sub-windows x 6 statistics
    (`ehrlib.mortality.baselines.LogisticBaseline`), and of logistic regressions on the last
    values, on 48-hour means and on observation counts only (missingness). Every model is fitted
    on `train` and scored on `test` (objects with `values`, `mask`, `y`, `variables`, `stays`,
    `true_risk`: an `EpisodeSet` read from disk or `cohort_split`); `cohort` supplies the latent
    state of the same stays (the in-memory simulation of the same config)."""
    ytr, yte = np.asarray(train.y).astype(int), np.asarray(test.y).astype(int)
    rows = [("true risk (the ceiling)", "the generator's latent risk", float(roc_auc_score(yte, test.true_risk)))]
    for traj, name in ((True, "latent trajectory (every 2 h)"), (False, "latent state at hour 48")):
        x = [latent_features(cohort, s.stays, traj) for s in (train, test)]
        rows.append((f"gradient boosting on the {name}", "age, admission, severity and organ factors",
                     gbt_auroc(x[0], ytr, x[1], yte)))
    bench = LogisticBaseline().fit(train)
    rows.append(("benchmark regression, 7 sub-windows x 6 statistics", "charted values",
                 float(roc_auc_score(yte, bench.predict_proba(test)))))
    for name, f in (("regression on last values", lambda s: last_values(s.values, s.mask)),
                    ("regression on 48-h means", lambda s: window_means(s.values)),
                    ("regression on observation counts (missingness only)", lambda s: s.mask.sum(axis=1).astype(float))):
        rows.append((name, "charted values" if "count" not in name else "what was charted, not its value",
                     lr_auroc(f(train), ytr, f(test), yte)))
    return pd.DataFrame(rows, columns=["model", "inputs", "test AUROC"]).set_index("model")

