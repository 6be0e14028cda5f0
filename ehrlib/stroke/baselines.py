"""Simple baselines for the stroke samples: what a network must beat on the same samples.

Every baseline scores the same samples as the networks (every history prefix) and is then evaluated in
the same three views (`ehrlib.stroke.evaluation`). Fitted on the training split only (`fit_baselines`
refuses other splits); scikit-learn models with fixed seeds.

- `length`: the number of records in the sample's input window (35 diagnoses / 20 exam-years at most),
  through a logistic regression (to orient and calibrate it).
- `demographics`: age + gender + the Eq. 5 day category of the last record + the length (logistic).
- `last_record`: logistic regression on the last record's whole input vector.
- `lr_engineered` and `gbt_engineered`: logistic regression and gradient-boosted trees
  (`HistGradientBoostingClassifier`) on engineered features at the sample's last date: counts of all
  earlier diagnoses per ICD-10 chapter and of known stroke risk-factor codes (hypertension I10-I15,
  diabetes E10-E14, dyslipidaemia E78, atrial fibrillation I48, ischaemic heart disease I20-I25, heart
  failure I50, chronic kidney disease N18, smoking F17/Z72, obesity E66, alcohol F10/K70, TIA G45/Z867),
  the latest exam-year's standardised, imputed values (the encoding state's), age, gender and the numbers
  of diagnoses and exam-years so far. All diagnoses dated on or before the last date count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from ehrlib.stroke.icd10 import CHAPTER_ORDER, icd10_chapter
from ehrlib.stroke.schema import METRICS

BASELINES: tuple[str, ...] = ("length", "demographics", "last_record", "lr_engineered", "gbt_engineered")
RISK_FACTORS: dict[str, tuple[str, ...]] = {
    "hypertension": ("I10", "I11", "I12", "I13", "I15"), "diabetes": ("E10", "E11", "E12", "E13", "E14"),
    "dyslipidaemia": ("E78",), "atrial_fibrillation": ("I48",), "ischaemic_heart": ("I20", "I21", "I22", "I23",
                                                                                     "I24", "I25"),
    "heart_failure": ("I50",), "ckd": ("N18",), "smoking": ("F17", "Z72"), "obesity": ("E66",),
    "alcohol": ("F10", "K70"), "tia": ("G45", "Z867"),
}


def _sample_block(samples):
    return samples.blocks["exam" if "exam" in samples.blocks else "diagnosis"]


def simple_features(samples, name: str) -> np.ndarray:
    """Features of the `length`, `demographics` or `last_record` baseline for each sample."""
    block = _sample_block(samples)
    length = block.lengths.astype(np.float64)[:, None]
    if name == "length":
        return length
    last = block.dense(slice(None))[:, -1, :]
    if name == "last_record":
        return last.astype(np.float64)
    cols = [i for i, n in enumerate(block.feature_names) if n in ("gender", "age") or n.startswith("days_cat_")]
    return np.concatenate([last[:, cols].astype(np.float64), length], axis=1)


def _cumulative_counts(diagnoses: pd.DataFrame) -> pd.DataFrame:
    """Per diagnosis record: the patient's running counts per chapter and risk factor (records sorted)."""
    codes = diagnoses["icd10"].astype(str).to_numpy()
    chapter = icd10_chapter(codes)
    onehot = {f"chapter_{c}": (chapter == c).astype(np.float64) for c in CHAPTER_ORDER}
    cat3 = np.array([c[:3] for c in codes], dtype=object)
    for name, prefixes in RISK_FACTORS.items():
        onehot[f"rf_{name}"] = (np.isin(cat3, prefixes) | np.isin(codes, prefixes)).astype(np.float64)
    onehot["n_diagnoses"] = np.ones(len(codes))
    frame = pd.DataFrame(onehot)
    counts = frame.groupby(diagnoses["patient_id"].to_numpy()).cumsum()
    counts.insert(0, "patient_id", diagnoses["patient_id"].to_numpy())
    counts.insert(1, "date", pd.to_datetime(diagnoses["date"]).to_numpy())
    return counts.groupby(["patient_id", "date"], sort=False).tail(1)


def _asof(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    """For each (patient_id, date) of `left`, the latest row of `right` at or before that date."""
    lf = left.reset_index().sort_values("date", kind="mergesort")
    rt = right.sort_values("date", kind="mergesort")
    out = pd.merge_asof(lf, rt, on="date", by="patient_id", direction="backward")
    return out.sort_values("index").drop(columns=["index"]).reset_index(drop=True)


def engineered_features(samples, prepared, state, counts: pd.DataFrame | None = None
                        ) -> tuple[np.ndarray, tuple[str, ...]]:
    """The engineered features (module docstring) at each sample's last date; no label is used.

    `counts` (from `_cumulative_counts(prepared.diagnoses)`) may be passed to reuse it across splits.
    """
    left = pd.DataFrame({"patient_id": samples.patient_id.astype(np.int64),
                         "date": pd.to_datetime(samples.last_date).astype("datetime64[ns]")})
    dx = _asof(left, _cumulative_counts(prepared.diagnoses) if counts is None else counts)
    ex_vec, names = state.exam_features(prepared.exams)
    keep = [i for i, n in enumerate(names) if n in METRICS]
    exams = pd.DataFrame(ex_vec[:, keep], columns=[names[i] for i in keep])
    exams.insert(0, "patient_id", prepared.exams["patient_id"].to_numpy(np.int64))
    exams.insert(1, "date", pd.to_datetime(prepared.exams["date"]).astype("datetime64[ns]").to_numpy())
    exams["n_exam_years"] = prepared.exams["position"].to_numpy() + 1.0
    ex = _asof(left, exams)
    patients = prepared.exams.groupby("patient_id")[["birth_year", "gender"]].first()
    patients = pd.concat([patients, prepared.diagnoses.groupby("patient_id")[["birth_year", "gender"]].first()])
    patients = patients[~patients.index.duplicated()]
    info = patients.reindex(left["patient_id"])
    age = left["date"].dt.year.to_numpy() - info["birth_year"].to_numpy()
    parts = [dx.drop(columns=["patient_id", "date"]).fillna(0.0), ex.drop(columns=["patient_id", "date"]).fillna(0.0)]
    X = pd.concat(parts, axis=1)
    X["age"], X["male"] = age.astype(np.float64), (info["gender"].to_numpy() == "M").astype(np.float64)
    return X.to_numpy(np.float64), tuple(X.columns)


def _estimator(name: str, seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if name == "gbt_engineered":
        return HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_leaf_nodes=15,
                                              early_stopping=False, random_state=seed)
    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))


@dataclass
class FittedBaselines:
    """The fitted baselines of one sample type and the feature builder they need."""

    models: dict[str, object]
    prepared: object
    state: object
    _counts: pd.DataFrame | None = None
    _cache: tuple[object, np.ndarray] | None = None

    def features(self, samples, name: str) -> np.ndarray:
        """The features of baseline `name` for `samples` (any split; engineered ones cached per samples)."""
        if not name.endswith("_engineered"):
            return simple_features(samples, name)
        if self._cache is None or self._cache[0] is not samples:
            if self._counts is None:
                self._counts = _cumulative_counts(self.prepared.diagnoses)
            self._cache = (samples, engineered_features(samples, self.prepared, self.state, self._counts)[0])
        return self._cache[1]

    def score(self, samples) -> dict[str, np.ndarray]:
        """Each baseline's stroke probability for every sample (OpenMP on one thread, see `fit_baselines`)."""
        with threadpool_limits(1, user_api="openmp"):
            return {n: m.predict_proba(self.features(samples, n))[:, 1] for n, m in self.models.items()}


def fit_baselines(train, prepared, state, names: tuple[str, ...] = BASELINES, seed: int = 0) -> FittedBaselines:
    """Fit every baseline on `train` samples, which must all belong to the training split (leak guard).

    The gradient-boosted trees run their OpenMP loops on one thread: beside TensorFlow's thread pools on a
    busy 2-core machine, OpenMP's spinning threads made the fit about 15 times slower (measured: 30.5 s
    against 1.9 s), with the same result either way."""
    splits = set(np.unique(train.split).tolist())
    if splits != {"train"}:
        raise ValueError(f"baselines are fitted on the training split only; got samples of {sorted(splits)}")
    fitted = FittedBaselines({}, prepared, state)
    with threadpool_limits(1, user_api="openmp"):
        for name in names:
            fitted.models[name] = _estimator(name, seed).fit(fitted.features(train, name), train.y)
    return fitted


__all__ = ["BASELINES", "FittedBaselines", "RISK_FACTORS", "engineered_features", "fit_baselines", "simple_features"]
