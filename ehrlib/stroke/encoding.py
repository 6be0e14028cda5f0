"""The stroke study's input encodings (Teoh 2018, Eq. 4-6) and per-prefix labelled samples.

Two inputs are built for every cohort patient (cohort from `ehrlib.stroke.cohort.build_cohort`):

- Diagnosis input (Eq. 4): the patient's diagnoses in time order, each encoded as
  x = (g, a_d, c_d, d): gender, age at the diagnosis, the one-hot category of the days since the previous
  diagnosis (Eq. 5, 6 columns) and the 32-d ICD-10 code embedding of the autoencoder (Eq. 7);
  at most the 35 most recent diagnoses (h = max(1, i - 34)).
- Exam input (Eq. 6): exam results summarised by age (the newest value of each of the 20 metrics at each
  year of age), each row encoded as x = (g, a_e, c_e, e): gender, age, day category, 20 metrics; at most
  20 exam-years.

Every prefix of a patient's record sequence is one sample (the sequence up to and including that record),
labelled 1 when a first stroke follows within 365 days of the prefix's last record date.

Choices the paper leaves open, made here (the book's chapter 05 repeats them):

- Gender g = 1 for "M", 0 for "F".
- Age is fractional years since 1 July of the birth year (only the birth year is known, so mid-year is the
  unbiased birth date): a = days(date - birth_year-07-01) / 365.25. An exam row's age is the integer part of
  that (the age it summarises). Both ages are standardised with the training split's mean and std
  (diagnosis and exam ages separately).
- Same-day diagnoses are ordered by code (then kept in that order); exact duplicates (same patient, date
  and code) are dropped. A same-day diagnosis has day category 0 (0 <= n < 7).
- Eq. 4 writes h != i, which excludes a one-diagnosis input: diagnosis samples need at least 2 diagnoses
  (`min_diagnoses`). Eq. 6 allows j = 1, so one exam-year is enough. A patient with more than 20
  exam-years keeps the 20 most recent in each window (the paper had none).
- Sequences are pre-padded (real records at the end, padding at the front) to length 35 / 20, with a mask
  (`index >= 0`); padded steps hold zeros.
- Records used: a case's records strictly before its first stroke (its `index_date`); a control's records
  strictly before its matched case's `index_date` (`control_cut_days = 0`), i.e. the same calendar window
  as its case. This mirrors the matched design (the same history length and calendar period for cases and
  controls, so neither age nor calendar time leaks the role); `control_cut_days=None` uses the control's
  whole history instead.
- Exam summarising: within one (patient, age) the newest exam date wins for each metric; several values of
  one metric on that same date are averaged. The row's date is its newest exam date (used for the day
  category, the label and the true risk).
- Missing values (`missing_strategy`):
  `"roll_forward_gender_mean"` (the paper's final choice, default): carry the patient's last known value
  forward, then fill what is still missing with the training split's mean for the patient's gender, then
  standardise; `"roll_forward"`: carry forward, standardise, anything still missing -> 0 (the training
  mean); `"absent_indicator"`: no carrying forward, standardise, missing -> 0, plus one 0/1 column per
  metric that is 1 when the metric was absent at that age.
- Standardisation statistics and gender means are computed on the observed (not imputed) summarised
  exam values of training-split patients only (`EncodingState.fit`).
- Per-record vectors are computed once (roll-forward only looks backwards, so a record's vector is the
  same in every prefix that contains it); a sample stores the row numbers of its records, and the dense
  (n, T, D) array is materialised on demand (`SequenceBlock.dense`), which keeps ~10^5 samples small.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from ehrlib.evaluation.bootstrap import Interval, grouped_bootstrap
from ehrlib.logs import get_logger
from ehrlib.records import Record
from ehrlib.stroke.cohort import SPLITS
from ehrlib.stroke.icd10 import is_stroke_code
from ehrlib.stroke.schema import METRICS, true_one_year_risk

_log = get_logger(__name__)

N_DAY_CATEGORIES = 6
MISSING_STRATEGIES: tuple[str, ...] = ("roll_forward_gender_mean", "roll_forward", "absent_indicator")
INPUT_TYPES: tuple[str, ...] = ("diagnosis", "exam", "dual")


@dataclass(frozen=True)
class EncodingConfig:
    """Settings of the encodings; defaults are the paper's (see the module docstring for the open choices)."""

    max_diagnoses: int = 35
    max_exam_years: int = 20
    min_diagnoses: int = 2
    min_exam_years: int = 1
    horizon_days: int = 365
    control_cut_days: int | None = 0
    missing_strategy: str = "roll_forward_gender_mean"

    def __post_init__(self) -> None:
        if self.missing_strategy not in MISSING_STRATEGIES:
            raise ValueError(f"missing_strategy must be one of {MISSING_STRATEGIES}, not {self.missing_strategy!r}")
        if self.max_diagnoses < 1 or self.max_exam_years < 1 or self.min_diagnoses < 1 or self.min_exam_years < 1:
            raise ValueError("window lengths and minimum record counts must be >= 1")


# ------------------------------------------------------------------------------------------ basic pieces


def day_category(days: np.ndarray | pd.Series | float) -> np.ndarray:
    """Eq. 5: days since the previous record -> category 0-5 (NaN = unknown or first record -> 0).

    0: unknown/first or 0 <= n < 7; 1: 7 <= n < 30; 2: 30 <= n < 90; 3: 90 <= n < 180; 4: 180 <= n <= 365;
    5: n > 365. Negative gaps (records out of order) raise `ValueError`.
    """
    d = np.asarray(days, dtype=np.float64)
    if np.any(d < 0):
        raise ValueError(f"negative days since the previous record (first: {d[d < 0].ravel()[0]}); "
                         "records must be sorted by date")
    cat = np.select([np.isnan(d) | (d < 7), d < 30, d < 90, d < 180, d <= 365], [0, 1, 2, 3, 4], default=5)
    return cat.astype(np.int8)


def one_hot(categories: np.ndarray, n: int = N_DAY_CATEGORIES) -> np.ndarray:
    """One-hot rows (float32) of integer categories in [0, n)."""
    cats = np.asarray(categories, dtype=np.int64)
    out = np.zeros((len(cats), n), dtype=np.float32)
    out[np.arange(len(cats)), cats] = 1.0
    return out


def fractional_age(dates: pd.Series | np.ndarray, birth_year: pd.Series | np.ndarray) -> np.ndarray:
    """Age in years at `dates` from a birth date of 1 July of `birth_year` (days / 365.25)."""
    d = np.asarray(dates, dtype="datetime64[D]")
    by = np.asarray(birth_year, dtype=np.int64)
    birth = ((by - 1970) * 12 + 6).astype("datetime64[M]").astype("datetime64[D]")  # 1 July
    return ((d - birth).astype(np.float64) / 365.25)


def _days_since_previous(patient_id: np.ndarray, dates: np.ndarray) -> np.ndarray:
    """Days since the previous row of the same patient (NaN for a patient's first row); rows sorted."""
    d = np.asarray(dates, dtype="datetime64[D]").astype(np.int64).astype(np.float64)
    gap = np.empty_like(d)
    gap[0:1] = np.nan
    gap[1:] = d[1:] - d[:-1]
    first = np.ones(len(d), dtype=bool)
    first[1:] = patient_id[1:] != patient_id[:-1]
    gap[first] = np.nan
    return gap


def _require(df: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{name}: missing column(s) {missing}; has {list(df.columns)}")


COHORT_COLUMNS = ("patient_id", "role", "case_id", "index_date", "birth_year", "gender", "split")


def _cohort_frame(cohort: pd.DataFrame) -> pd.DataFrame:
    """Validated cohort columns with the cut date (records strictly before it are used)."""
    _require(cohort, COHORT_COLUMNS, "cohort")
    c = cohort.loc[:, list(COHORT_COLUMNS)].copy()
    if c["patient_id"].duplicated().any():
        raise ValueError(f"cohort: patient_id {c.loc[c['patient_id'].duplicated(), 'patient_id'].iloc[0]} "
                         "appears twice")
    bad_role = ~c["role"].isin(["case", "control"])
    if bad_role.any():
        raise ValueError(f"cohort: row {int(np.flatnonzero(bad_role)[0])}: role must be 'case' or 'control'")
    bad_split = ~c["split"].isin(SPLITS)
    if bad_split.any():
        raise ValueError(f"cohort: row {int(np.flatnonzero(bad_split)[0])}: split must be one of {SPLITS}")
    c["index_date"] = pd.to_datetime(c["index_date"]).astype("datetime64[ns]")
    if "event_date" in cohort.columns:  # the patient's own first stroke (NaT if none): labels by outcome
        c["event_date"] = pd.to_datetime(cohort["event_date"].to_numpy()).astype("datetime64[ns]")
    else:  # a cohort without it: the case's stroke is the only event
        c["event_date"] = c["index_date"].where(c["role"].eq("case"))
    c["gender"] = c["gender"].astype(str)
    bad_gender = ~c["gender"].isin(["F", "M"])
    if bad_gender.any():
        raise ValueError(f"cohort: row {int(np.flatnonzero(bad_gender)[0])}: gender must be 'F' or 'M'")
    return c


def _cut_dates(c: pd.DataFrame, config: EncodingConfig) -> pd.Series:
    cut = c["index_date"].copy()
    is_control = c["role"].eq("control")
    if config.control_cut_days is None:
        cut[is_control] = pd.Timestamp.max.normalize()
    else:
        cut[is_control] = cut[is_control] + pd.Timedelta(days=config.control_cut_days)
    return cut


# ------------------------------------------------------------------------------------------ record tables


def diagnosis_records(diagnoses: pd.DataFrame, cohort: pd.DataFrame,
                      config: EncodingConfig = EncodingConfig()) -> pd.DataFrame:
    """Cohort patients' usable diagnoses, one row per (patient, date, code), sorted by patient, date, code.

    Columns: patient_id, date, icd10, role, case_id, index_date, birth_year, gender, split, age (fractional
    years), days_since_prev (NaN for the first), day_cat (Eq. 5), position (0-based within patient).
    A case's records are those strictly before its first stroke; a control's those before its cut (see
    `EncodingConfig.control_cut_days`). A stroke code among the kept records raises (the cohort is wrong).
    """
    _require(diagnoses, ("patient_id", "date", "icd10"), "diagnoses")
    c = _cohort_frame(cohort)
    c["cut"] = _cut_dates(c, config)
    d = diagnoses.loc[:, ["patient_id", "date", "icd10"]].merge(c, on="patient_id", how="inner")
    d = d.loc[d["date"] < d["cut"]].drop(columns="cut")
    d["icd10"] = d["icd10"].astype(str)
    d = d.drop_duplicates(["patient_id", "date", "icd10"])
    d = d.sort_values(["patient_id", "date", "icd10"], kind="mergesort").reset_index(drop=True)
    stroke = pd.Series(is_stroke_code(d["icd10"].to_numpy()), index=d.index)
    if stroke.any():
        row = d.loc[stroke].iloc[0]
        raise ValueError(f"diagnoses: patient {row['patient_id']} has stroke code {row['icd10']} on "
                         f"{row['date'].date()} before its cut; the cohort's index dates are inconsistent")
    pid = d["patient_id"].to_numpy()
    d["age"] = fractional_age(d["date"], d["birth_year"])
    d["days_since_prev"] = _days_since_previous(pid, d["date"].to_numpy())
    d["day_cat"] = day_category(d["days_since_prev"])
    d["position"] = d.groupby("patient_id", sort=False).cumcount().astype(np.int64)
    return d


def summarise_exams(exams: pd.DataFrame, cohort: pd.DataFrame,
                    config: EncodingConfig = EncodingConfig()) -> pd.DataFrame:
    """Cohort patients' usable exams summarised by age: one row per (patient, integer age), raw values.

    For each metric the newest value at that age is kept (values of one metric on that same newest date
    are averaged); a metric never measured at that age is NaN (no imputation here: see `roll_forward`).
    Columns: patient_id, age_year, date (newest exam date at that age), role, case_id, index_date,
    birth_year, gender, split, the 20 metrics, days_since_prev, day_cat, position.
    """
    _require(exams, ("patient_id", "date", "metric", "value"), "exams")
    unknown = ~exams["metric"].isin(METRICS)
    if unknown.any():
        i = int(np.flatnonzero(unknown.to_numpy())[0])
        raise ValueError(f"exams: row {i}: unknown metric {exams['metric'].iloc[i]!r}; expected one of {METRICS}")
    c = _cohort_frame(cohort)
    c["cut"] = _cut_dates(c, config)
    e = exams.loc[:, ["patient_id", "date", "metric", "value"]].merge(
        c[["patient_id", "birth_year", "cut"]], on="patient_id", how="inner")
    e = e.loc[e["date"] < e["cut"]]
    e["age_year"] = np.floor(fractional_age(e["date"], e["birth_year"])).astype(np.int64)
    e["metric"] = e["metric"].astype(str)
    newest = e.groupby(["patient_id", "age_year", "metric"], sort=False)["date"].transform("max")
    e = e.loc[e["date"].eq(newest)]
    wide = (e.groupby(["patient_id", "age_year", "metric"], sort=True)["value"].mean()
            .unstack("metric").reindex(columns=list(METRICS)))
    wide.columns.name = None
    row_date = e.groupby(["patient_id", "age_year"], sort=True)["date"].max()
    rows = wide.reset_index()
    rows.insert(2, "date", row_date.to_numpy())
    rows = rows.merge(c.drop(columns="cut"), on="patient_id", how="left")
    rows = rows.sort_values(["patient_id", "age_year"], kind="mergesort").reset_index(drop=True)
    rows["days_since_prev"] = _days_since_previous(rows["patient_id"].to_numpy(), rows["date"].to_numpy())
    rows["day_cat"] = day_category(rows["days_since_prev"])
    rows["position"] = rows.groupby("patient_id", sort=False).cumcount().astype(np.int64)
    return rows


def roll_forward(rows: pd.DataFrame, metrics: tuple[str, ...] = METRICS) -> pd.DataFrame:
    """Carry each patient's last known value of every metric forward in time (rows sorted by patient, age)."""
    out = rows.copy()
    out[list(metrics)] = rows.groupby("patient_id", sort=False)[list(metrics)].ffill()
    return out


# ------------------------------------------------------------------------------------------ fitted state


@dataclass
class EncodingState(Record):
    """Everything fitted on the training split: age scaling, metric mean/std, gender means.

    Saved and loaded through `Record` (`to_dict`/`from_dict`/`save`/`load`), checked on load."""

    missing_strategy: str
    diagnosis_age_mean: float
    diagnosis_age_std: float
    exam_age_mean: float
    exam_age_std: float
    metric_mean: dict[str, float]
    metric_std: dict[str, float]
    gender_means: dict[str, dict[str, float]]
    n_train_patients: int

    @classmethod
    def fit(cls, diag_records: pd.DataFrame, exam_rows: pd.DataFrame,
            missing_strategy: str = "roll_forward_gender_mean") -> "EncodingState":
        """Fit on the rows whose `split` is "train" (raw, not-imputed exam rows from `summarise_exams`)."""
        dtr = diag_records.loc[diag_records["split"].eq("train")]
        etr = exam_rows.loc[exam_rows["split"].eq("train")]
        if len(dtr) < 2 or len(etr) < 2:
            raise ValueError("EncodingState.fit: fewer than 2 training diagnosis or exam rows")
        mean = etr[list(METRICS)].mean()
        std = etr[list(METRICS)].std(ddof=0)
        if mean.isna().any():
            raise ValueError(f"EncodingState.fit: metric(s) {list(mean.index[mean.isna()])} never observed in training")
        std = std.where(std > 0, 1.0)
        gmeans = etr.groupby("gender")[list(METRICS)].mean()
        gender_means = {}
        for g in ("F", "M"):
            row = gmeans.loc[g] if g in gmeans.index else mean
            gender_means[g] = {m: float(row[m]) if np.isfinite(row[m]) else float(mean[m]) for m in METRICS}
        return cls(
            missing_strategy=missing_strategy,
            diagnosis_age_mean=float(dtr["age"].mean()), diagnosis_age_std=float(dtr["age"].std(ddof=0) or 1.0),
            exam_age_mean=float(etr["age_year"].mean()), exam_age_std=float(etr["age_year"].std(ddof=0) or 1.0),
            metric_mean={m: float(mean[m]) for m in METRICS}, metric_std={m: float(std[m]) for m in METRICS},
            gender_means=gender_means,
            n_train_patients=int(pd.concat([dtr["patient_id"], etr["patient_id"]]).nunique()),
        )

    def validate(self) -> None:
        """Value checks on load: a known strategy, finite means, positive finite standard deviations,
        every metric present, both genders, at least one training patient."""
        if self.missing_strategy not in MISSING_STRATEGIES:
            raise ValueError(f"missing_strategy must be one of {MISSING_STRATEGIES}, not {self.missing_strategy!r}")
        for name in ("diagnosis_age_mean", "exam_age_mean"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} is not finite")
        for name in ("diagnosis_age_std", "exam_age_std"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise ValueError(f"{name} must be positive and finite, got {getattr(self, name)}")
        tables = {"metric_mean": self.metric_mean, "metric_std": self.metric_std,
                  **{f"gender_means.{g}": self.gender_means.get(g, {}) for g in ("F", "M")}}
        for name, table in tables.items():
            if set(table) != set(METRICS):
                raise ValueError(f"{name} must give exactly the metrics {list(METRICS)}, got {sorted(table)}")
            bad = [m for m, v in table.items() if not math.isfinite(v) or (name == "metric_std" and v <= 0)]
            if bad:
                rule = "positive and finite" if name == "metric_std" else "finite"
                raise ValueError(f"{name}[{bad[0]!r}] is {table[bad[0]]}; must be {rule}")
        if set(self.gender_means) != {"F", "M"}:
            raise ValueError(f"gender_means must have F and M, got {sorted(self.gender_means)}")
        if self.n_train_patients < 1:
            raise ValueError(f"n_train_patients must be positive, got {self.n_train_patients}")

    def to_json(self) -> dict:
        """JSON-able state (as `to_dict`)."""
        return self.to_dict()

    @classmethod
    def from_json(cls, state: Any) -> "EncodingState":
        """Inverse of `to_json`, checked (as `from_dict`)."""
        return cls.from_dict(state)

    # ---- transforms

    def diagnosis_features(self, records: pd.DataFrame, embedding) -> tuple[np.ndarray, tuple[str, ...]]:
        """Per-record diagnosis vectors (g, a_d, c_d one-hot, d) as float32, with feature names."""
        g = records["gender"].eq("M").to_numpy(np.float32)[:, None]
        age = ((records["age"].to_numpy() - self.diagnosis_age_mean) / self.diagnosis_age_std)[:, None]
        cat = one_hot(records["day_cat"].to_numpy())
        emb = embedding.lookup(records["icd10"].to_numpy()) if len(records) else np.zeros((0, embedding.dim))
        x = np.concatenate([g, age.astype(np.float32), cat, emb.astype(np.float32)], axis=1)
        names = ("gender", "age", *(f"days_cat_{k}" for k in range(N_DAY_CATEGORIES)),
                 *(f"icd10_emb_{k:02d}" for k in range(emb.shape[1])))
        return x.astype(np.float32), names

    def impute_exams(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Apply the missing-value strategy to raw summarised rows, in original units (before scaling).

        Roll-forward strategies carry values forward within patient; "roll_forward_gender_mean" then fills
        the rest with the training gender means. Remaining NaN (other strategies) stay NaN here.
        """
        out = roll_forward(rows) if self.missing_strategy != "absent_indicator" else rows.copy()
        if self.missing_strategy == "roll_forward_gender_mean":
            by_gender = pd.DataFrame(self.gender_means).T.reindex(columns=list(METRICS))
            fill = by_gender.reindex(out["gender"].to_numpy()).set_axis(out.index)
            out[list(METRICS)] = out[list(METRICS)].fillna(fill)
        return out

    def exam_features(self, rows: pd.DataFrame) -> tuple[np.ndarray, tuple[str, ...]]:
        """Per-row exam vectors (g, a_e, c_e one-hot, 20 standardised metrics [, 20 absent flags])."""
        imputed = self.impute_exams(rows)
        raw = imputed[list(METRICS)].to_numpy(np.float64)
        mean = np.array([self.metric_mean[m] for m in METRICS])
        std = np.array([self.metric_std[m] for m in METRICS])
        z = (raw - mean) / std
        absent = np.isnan(rows[list(METRICS)].to_numpy(np.float64))
        z = np.nan_to_num(z, nan=0.0)
        g = rows["gender"].eq("M").to_numpy(np.float32)[:, None]
        age = ((rows["age_year"].to_numpy() - self.exam_age_mean) / self.exam_age_std)[:, None]
        parts = [g, age.astype(np.float32), one_hot(rows["day_cat"].to_numpy()), z.astype(np.float32)]
        names = ["gender", "age", *(f"days_cat_{k}" for k in range(N_DAY_CATEGORIES)), *METRICS]
        if self.missing_strategy == "absent_indicator":
            parts.append(absent.astype(np.float32))
            names += [f"absent_{m}" for m in METRICS]
        return np.concatenate(parts, axis=1).astype(np.float32), tuple(names)


# ------------------------------------------------------------------------------------------ samples


@dataclass
class SequenceBlock:
    """Sequences stored compactly: per-record vectors plus each sample's (pre-padded) row numbers.

    `features` (R, D) float32 holds every record's vector once; `index` (n, T) int32 gives, for each sample,
    the rows of its records in time order, right-aligned, with -1 for padding. `dense()` materialises the
    (n, T, D) array the models take (zeros at padded steps); `mask` is `index >= 0`.
    """

    features: np.ndarray
    index: np.ndarray
    feature_names: tuple[str, ...]

    @property
    def mask(self) -> np.ndarray:
        """(n, T) bool: True at real records."""
        return self.index >= 0

    @property
    def lengths(self) -> np.ndarray:
        """Number of real records per sample."""
        return self.mask.sum(axis=1)

    def dense(self, rows: np.ndarray | slice | None = None) -> np.ndarray:
        """(n, T, D) float32 array for all samples or the selected `rows`."""
        idx = self.index if rows is None else self.index[rows]
        out = self.features[np.maximum(idx, 0)]
        out[idx < 0] = 0.0
        return out

    def subset(self, rows: np.ndarray) -> "SequenceBlock":
        """The selected samples, keeping only the feature rows they use (renumbered)."""
        idx = self.index[rows]
        used = np.unique(idx[idx >= 0])
        remap = np.full(len(self.features) + 1, -1, dtype=np.int32)
        remap[used] = np.arange(len(used), dtype=np.int32)
        return SequenceBlock(self.features[used], np.where(idx >= 0, remap[idx], -1).astype(np.int32),
                             self.feature_names)


@dataclass
class EncodedSamples:
    """Labelled samples of one input type and split; `blocks` holds "diagnosis" and/or "exam" sequences.

    `y` is 1 when a first stroke follows within `horizon_days` of `last_date`; `true_risk` is the generator's
    one-year risk at `last_date` (ground truth for the best achievable AUROC; never a feature; NaN when the
    tables carry no hazard).
    """

    input_type: str
    blocks: dict[str, SequenceBlock]
    y: np.ndarray
    true_risk: np.ndarray
    patient_id: np.ndarray
    case_id: np.ndarray
    role: np.ndarray
    split: np.ndarray
    last_date: np.ndarray
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.y)

    def _single(self) -> SequenceBlock:
        if len(self.blocks) != 1:
            raise AttributeError(f"{self.input_type} samples have blocks {list(self.blocks)}; use .inputs()")
        return next(iter(self.blocks.values()))

    @property
    def X(self) -> np.ndarray:
        """(n, T, D) float32 for single-input samples (materialised on each access)."""
        return self._single().dense()

    @property
    def mask(self) -> np.ndarray:
        """(n, T) bool mask for single-input samples."""
        return self._single().mask

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Feature names of a single-input sample's vector."""
        return self._single().feature_names

    def inputs(self, rows: np.ndarray | slice | None = None) -> dict[str, np.ndarray]:
        """Dense arrays per block name, e.g. {"diagnosis": (n,35,40), "exam": (n,20,28)}."""
        return {k: b.dense(rows) for k, b in self.blocks.items()}

    def subset(self, rows: np.ndarray) -> "EncodedSamples":
        """The selected samples (boolean mask or integer rows)."""
        rows = np.flatnonzero(rows) if np.asarray(rows).dtype == bool else np.asarray(rows)
        return EncodedSamples(self.input_type, {k: b.subset(rows) for k, b in self.blocks.items()},
                              self.y[rows], self.true_risk[rows], self.patient_id[rows], self.case_id[rows],
                              self.role[rows], self.split[rows], self.last_date[rows], dict(self.extra))

    @property
    def prevalence(self) -> float:
        """Share of positive samples."""
        return float(np.mean(self.y)) if len(self.y) else float("nan")


def window_index(positions: np.ndarray, ends: np.ndarray, length: int) -> np.ndarray:
    """(n, length) int32 row numbers of the windows ending at rows `ends`, pre-padded with -1.

    `positions[r]` is row r's 0-based position within its patient, so a window never crosses into the
    previous patient's rows: step t of the window ending at e holds e - (length - 1) + t when that is at
    most `positions[e]` rows back, else -1.
    """
    offsets = np.arange(length, dtype=np.int64) - (length - 1)
    idx = ends[:, None].astype(np.int64) + offsets[None, :]
    valid = -offsets[None, :] <= positions[ends][:, None]
    return np.where(valid, idx, -1).astype(np.int32)


def _labels(records: pd.DataFrame, rows: np.ndarray, horizon_days: int) -> np.ndarray:
    """1 where the patient's own first stroke (`event_date`) falls 0-`horizon_days` days after the sample's
    last record: the outcome, whatever the patient's role (a case's event is its index date)."""
    gap = (records["event_date"].to_numpy()[rows] - records["date"].to_numpy()[rows]).astype("timedelta64[D]")
    known = ~np.isnat(gap)
    days = np.where(known, gap.astype(np.int64), -1)
    return (known & (days >= 0) & (days <= horizon_days)).astype(np.int8)


def _samples(input_type: str, records: pd.DataFrame, ends: np.ndarray, blocks: dict[str, SequenceBlock],
             config: EncodingConfig, risk: np.ndarray) -> EncodedSamples:
    return EncodedSamples(
        input_type=input_type, blocks=blocks, y=_labels(records, ends, config.horizon_days),
        true_risk=risk, patient_id=records["patient_id"].to_numpy(np.int64)[ends],
        case_id=records["case_id"].to_numpy(np.int64)[ends], role=records["role"].to_numpy(object)[ends],
        split=records["split"].to_numpy(object)[ends],
        last_date=records["date"].to_numpy("datetime64[D]")[ends])


RiskFn = Callable[[pd.DataFrame, np.ndarray, np.ndarray], np.ndarray]


def _true_risk(hazard: pd.DataFrame | None, patient_id: np.ndarray, dates: np.ndarray,
               risk_fn: RiskFn | None) -> np.ndarray:
    if hazard is None or len(hazard) == 0:
        return np.full(len(patient_id), np.nan)
    return np.asarray((risk_fn or true_one_year_risk)(hazard, patient_id, dates), dtype=np.float64)


@dataclass
class PreparedRecords:
    """The cohort's diagnosis records and exam rows (raw), ready to fit and encode."""

    diagnoses: pd.DataFrame
    exams: pd.DataFrame
    seconds: float


def prepare_records(tables, cohort: pd.DataFrame, config: EncodingConfig = EncodingConfig()) -> PreparedRecords:
    """Diagnosis records and summarised exam rows of the cohort (see `diagnosis_records`, `summarise_exams`)."""
    start = time.perf_counter()
    d = diagnosis_records(tables.diagnoses, cohort, config)
    e = summarise_exams(tables.exams, cohort, config)
    return PreparedRecords(d, e, time.perf_counter() - start)


def fit_encoding_state(prepared: PreparedRecords, config: EncodingConfig = EncodingConfig()) -> EncodingState:
    """Fit the encoding state on the training split of `prepared` records."""
    return EncodingState.fit(prepared.diagnoses, prepared.exams, config.missing_strategy)


def encode_cohort(tables, cohort: pd.DataFrame, embedding, config: EncodingConfig = EncodingConfig(),
                  state: EncodingState | None = None, prepared: PreparedRecords | None = None,
                  risk_fn: RiskFn | None = None, progress: bool = False
                  ) -> dict[str, dict[str, EncodedSamples]]:
    """All samples of the cohort: {"diagnosis"|"exam"|"dual": {"train"|"val"|"test": EncodedSamples}}.

    `tables` has `.diagnoses`, `.exams` and (synthetic data) `.hazard`; `cohort` has the columns of
    `COHORT_COLUMNS`; `embedding` is an `ehrlib.stroke.icd10.CodeEmbedding`. The state is fitted on the training
    split unless given. "diagnosis" samples end at each diagnosis (from the `min_diagnoses`-th on), "exam"
    samples at each exam-year; "dual" samples are the exam samples paired with the diagnoses dated on or
    before the exam-year's date (possibly none: an all-padding diagnosis block), for the dual-input model.
    """
    t0 = time.perf_counter()
    prepared = prepared or prepare_records(tables, cohort, config)
    state = state or fit_encoding_state(prepared, config)
    d, e = prepared.diagnoses, prepared.exams
    hazard = getattr(tables, "hazard", None)

    dx, dnames = state.diagnosis_features(d, embedding)
    ex, enames = state.exam_features(e)
    d_pos = d["position"].to_numpy(np.int64)
    e_pos = e["position"].to_numpy(np.int64)
    d_ends = np.flatnonzero(d_pos >= config.min_diagnoses - 1)
    e_ends = np.flatnonzero(e_pos >= config.min_exam_years - 1)
    d_block = SequenceBlock(dx, window_index(d_pos, d_ends, config.max_diagnoses), dnames)
    e_block = SequenceBlock(ex, window_index(e_pos, e_ends, config.max_exam_years), enames)

    # Dual: for each exam row, the diagnoses of that patient dated on or before the exam-year's date.
    e_risk = _true_risk(hazard, e["patient_id"].to_numpy()[e_ends], e["date"].to_numpy()[e_ends], risk_fn)
    d_risk = _true_risk(hazard, d["patient_id"].to_numpy()[d_ends], d["date"].to_numpy()[d_ends], risk_fn)
    pid_codes = {p: i for i, p in enumerate(np.unique(np.concatenate([d["patient_id"].to_numpy(),
                                                                       e["patient_id"].to_numpy()])))}
    dkey = (d["patient_id"].map(pid_codes).to_numpy(np.int64) * 10**6
            + d["date"].to_numpy("datetime64[D]").astype(np.int64))
    ekey = (e["patient_id"].map(pid_codes).to_numpy(np.int64) * 10**6
            + e["date"].to_numpy("datetime64[D]").astype(np.int64))[e_ends]
    stop = np.searchsorted(dkey, ekey, side="right")  # one past the last diagnosis on or before the date
    last = stop - 1
    same_patient = (last >= 0) & (d["patient_id"].to_numpy()[np.maximum(last, 0)]
                                  == e["patient_id"].to_numpy()[e_ends])
    dual_d_index = np.full((len(e_ends), config.max_diagnoses), -1, dtype=np.int32)
    if same_patient.any():
        dual_d_index[same_patient] = window_index(d_pos, last[same_patient], config.max_diagnoses)
    dual_d_block = SequenceBlock(dx, dual_d_index, dnames)

    all_samples = {
        "diagnosis": _samples("diagnosis", d, d_ends, {"diagnosis": d_block}, config, d_risk),
        "exam": _samples("exam", e, e_ends, {"exam": e_block}, config, e_risk),
        "dual": _samples("dual", e, e_ends, {"diagnosis": dual_d_block, "exam": e_block}, config, e_risk),
    }
    out: dict[str, dict[str, EncodedSamples]] = {}
    for kind, samples in all_samples.items():
        out[kind] = {s: samples.subset(samples.split == s) for s in SPLITS}
        for s in SPLITS:
            out[kind][s].extra = {"state": state, "config": config}
    if progress:
        n = {k: sum(len(v) for v in out[k].values()) for k in out}
        _log.info(f"encoded {n} samples in {time.perf_counter() - t0:.1f} s")
    return out


def prevalence_table(encoded: Mapping[str, Mapping[str, EncodedSamples]]) -> pd.DataFrame:
    """Samples, positives, prevalence and "1 in k" per input type and split (plus an "all" row per type)."""
    rows = []
    for kind, by_split in encoded.items():
        ys = {**{s: v.y for s, v in by_split.items()}, "all": np.concatenate([v.y for v in by_split.values()])}
        pids = {**{s: v.patient_id for s, v in by_split.items()},
                "all": np.concatenate([v.patient_id for v in by_split.values()])}
        for s, y in ys.items():
            n, pos = len(y), int(np.sum(y))
            rows.append({"input": kind, "split": s, "patients": int(len(np.unique(pids[s]))), "samples": n,
                         "positives": pos, "prevalence": pos / n if n else float("nan"),
                         "one_in": n / pos if pos else float("nan")})
    return pd.DataFrame(rows)


def true_risk_auroc(encoded: Mapping[str, Mapping[str, EncodedSamples]]) -> dict[str, dict[str, float]]:
    """roc_auc_score(y, true_risk) per input type and split (the best achievable ranking); NaN if undefined."""
    from sklearn.metrics import roc_auc_score

    out: dict[str, dict[str, float]] = {}
    for kind, by_split in encoded.items():
        out[kind] = {}
        parts = {**by_split, "all": None}
        for s, v in parts.items():
            y = np.concatenate([b.y for b in by_split.values()]) if v is None else v.y
            r = np.concatenate([b.true_risk for b in by_split.values()]) if v is None else v.true_risk
            ok = np.isfinite(r)
            out[kind][s] = (float(roc_auc_score(y[ok], r[ok])) if ok.any() and len(np.unique(y[ok])) == 2
                            else float("nan"))
    return out



# ------------------------------------------------------------------------------------------ the chapter's views
# Tables and facts chapter 05 shows about the records and samples built above (one call per cell there).

PAPER_WINDOW_COVERAGE = 0.99  # Teoh 2018: a window of 35 diagnoses "covered 99% of patients"
PAPER_ONE_IN: dict[str, float] = {"diagnosis": 8.0, "exam": 9.0}  # Teoh 2018: 1 in 8 / 1 in 9 inputs


def history_lengths(prepared: PreparedRecords) -> pd.DataFrame:
    """Diagnoses and exam-years per cohort patient: patients, mean, SD and quartiles, one row per record kind."""
    rows = []
    for name, frame in (("diagnoses per patient", prepared.diagnoses), ("exam-years per patient", prepared.exams)):
        n = frame.groupby("patient_id").size()
        rows.append({"records": name, "patients": len(n), "mean": n.mean(), "SD": n.std(), "min": n.min(),
                     "lower quartile": n.quantile(0.25), "median": n.median(), "upper quartile": n.quantile(0.75),
                     "max": n.max()})
    return pd.DataFrame(rows).round(1)


def window_coverage(prepared: PreparedRecords, config: EncodingConfig = EncodingConfig()) -> dict[str, float]:
    """Share of the cohort's patients with records whose whole history fits one window: at most
    `max_diagnoses` diagnoses ("diagnosis") and at most `max_exam_years` exam-years ("exam")."""
    dx = prepared.diagnoses.groupby("patient_id").size()
    ex = prepared.exams.groupby("patient_id").size()
    return {"diagnosis": float((dx <= config.max_diagnoses).mean()),
            "exam": float((ex <= config.max_exam_years).mean())}


def coverage_verdict(share: float, paper: float = PAPER_WINDOW_COVERAGE) -> str:
    """How a window's coverage compares with the paper's, to the whole percentage the prose shows:
    'more than the paper's 99 %', 'fewer than ...' or 'as many as ...'."""
    ours, theirs = round(100 * share), round(100 * paper)
    if ours == theirs:
        return f"as many as the paper's {theirs} %"
    return f"{'more' if ours > theirs else 'fewer'} than the paper's {theirs} %"


def one_in_verdict(ours: float, paper: float) -> str:
    """Whether our samples hold positives more or less often than the paper's "1 in `paper`"."""
    if round(ours, 1) == round(paper, 1):
        return f"as often as the paper's 1 in {paper:g}"
    return f"{'less' if ours > paper else 'more'} often than the paper's 1 in {paper:g}"


def prevalence_view(prevalence: pd.DataFrame) -> pd.DataFrame:
    """The diagnosis and exam rows of `prevalence_table`, in words, with the paper's "1 in k" beside ours."""
    p = prevalence[prevalence["input"] != "dual"]
    return pd.DataFrame({
        "input": p["input"].to_numpy(), "split": p["split"].replace({"val": "validation"}).to_numpy(),
        "patients": p["patients"].to_numpy(), "samples": p["samples"].to_numpy(),
        "positives": p["positives"].to_numpy(), "prevalence (%)": (100 * p["prevalence"]).round(1).to_numpy(),
        "1 in k": p["one_in"].round(1).to_numpy(), "paper's 1 in k": p["input"].map(PAPER_ONE_IN).to_numpy(),
    })


def true_risk_intervals(encoded: Mapping[str, Mapping[str, EncodedSamples]], n_boot: int = 1000,
                        seed: int = 0) -> dict[str, Interval]:
    """AUROC of the generator's true one-year risk over all samples of each input type, with a 95 %
    bootstrap interval that resamples matched sets (a case with its controls: their samples are not
    independent); NaN ends where the risk is unknown."""
    out = {}
    for kind, by_split in encoded.items():
        y = np.concatenate([v.y for v in by_split.values()])
        r = np.concatenate([v.true_risk for v in by_split.values()])
        sets = np.concatenate([v.case_id for v in by_split.values()])
        ok = np.isfinite(r)
        if not ok.any() or len(np.unique(y[ok])) < 2:
            out[kind] = Interval(float("nan"), float("nan"), float("nan"))
            continue
        out[kind] = grouped_bootstrap(y[ok], r[ok], groups=sets[ok], n_boot=n_boot, seed=seed)["auroc"]
    return out


def versus_reference(iv: Interval, reference: float, name: str) -> str:
    """Where an interval lies against a reference value: 'above the paper's 0.669 (its interval excludes
    it)', 'below ...' or '... includes it'."""
    if iv.ci_low > reference:
        return f"above {name} {reference:g}: the whole interval lies above it"
    if iv.ci_high < reference:
        return f"below {name} {reference:g}: the whole interval lies below it"
    return f"compatible with {name} {reference:g}, which the interval includes"


@dataclass(frozen=True)
class ExamplePatient:
    """One cohort patient's prepared records, to show each encoding step on (`example_patient` picks one)."""

    patient_id: int
    gender: str
    index_date: pd.Timestamp
    diagnoses: pd.DataFrame
    exams: pd.DataFrame

    @property
    def gappy_metrics(self) -> list[str]:
        """Up to four metrics missing in some exam-year of this patient (the first four metrics if none is)."""
        return [m for m in METRICS if self.exams[m].isna().any()][:4] or list(METRICS[:4])

    def diagnosis_table(self) -> pd.DataFrame:
        """The patient's diagnosis records: date, code, age, days since the previous one and its Eq. 5 category."""
        cols = {"date": "date", "icd10": "ICD-10", "age": "age", "days_since_prev": "days since previous",
                "day_cat": "day category"}
        return self.diagnoses[list(cols)].round({"age": 2}).rename(columns=cols).reset_index(drop=True)

    def exam_table(self) -> pd.DataFrame:
        """The patient's exam summary (one row per year of age) for the metrics it misses somewhere, raw."""
        gappy = self.gappy_metrics
        out = self.exams[["date", "age_year", *gappy]].round(dict.fromkeys(gappy, 2))
        return out.rename(columns={"age_year": "age"}).reset_index(drop=True)

    def imputation_steps(self, state: EncodingState) -> dict[str, pd.DataFrame]:
        """The gappy metrics raw, after carrying values forward and after the training gender means."""
        gappy = self.gappy_metrics
        return {"raw": self.exams[gappy], "rolled forward": roll_forward(self.exams)[gappy],
                "imputed": state.impute_exams(self.exams)[gappy]}

    def imputation_table(self, state: EncodingState, n_metrics: int = 2) -> pd.DataFrame:
        """Per year of age, `n_metrics` gappy metrics (those the gender mean fills first) at each step."""
        steps = self.imputation_steps(state)
        by_mean = steps["rolled forward"].isna().any()
        metrics = sorted(steps["raw"].columns, key=lambda m: not by_mean[m])[:n_metrics]
        out = pd.DataFrame({"age": self.exams["age_year"].to_numpy()})
        for m in metrics:
            for step, frame in steps.items():
                out[f"{m} {step}"] = frame[m].round(2).to_numpy()
        return out

    def imputation_facts(self, state: EncodingState) -> dict[str, Any]:
        """Counts of the gappy metrics' missing cells filled by carrying forward and by the gender mean, and
        one metric the gender mean filled with that mean's value (none: an empty name), also as a note for
        the prose (" (for LDL_C, 121.30)", or " (none in this example)")."""
        steps = self.imputation_steps(state)
        missing = int(steps["raw"].isna().sum().sum())
        after_roll = steps["rolled forward"].isna()
        filled = [m for m in steps["raw"].columns if after_roll[m].any()]
        value = float(state.gender_means[self.gender][filled[0]]) if filled else float("nan")
        return {"missing": missing, "by_roll": missing - int(after_roll.sum().sum()),
                "by_mean": int(after_roll.sum().sum()), "mean_metric": filled[0] if filled else "",
                "mean_value": value, "mean_note": f" (for {filled[0]}, {value:.2f})" if filled else " (none in this example)"}

    def _last_diagnosis(self, encoded: Mapping[str, Mapping[str, EncodedSamples]], split: str
                        ) -> tuple[EncodedSamples, int, pd.Series]:
        """The patient's diagnosis samples of `split`, the row of its last sample and that sample's last vector."""
        sample = encoded["diagnosis"][split]
        rows = np.flatnonzero(sample.patient_id == self.patient_id)
        if not len(rows):
            raise ValueError(f"patient {self.patient_id} has no diagnosis sample in the {split} split")
        row = int(rows[-1])
        return sample, row, pd.Series(sample.blocks["diagnosis"].dense([row])[0, -1], index=sample.feature_names)

    def last_diagnosis_vector(self, encoded: Mapping[str, Mapping[str, EncodedSamples]], split: str = "train",
                              n_features: int = 12) -> pd.DataFrame:
        """The first `n_features` numbers of the patient's last diagnosis vector, named."""
        vec = self._last_diagnosis(encoded, split)[2]
        return pd.DataFrame({"feature": vec.index[:n_features],
                             "value": vec.to_numpy(np.float64)[:n_features].round(3)})

    def last_vector_facts(self, encoded: Mapping[str, Mapping[str, EncodedSamples]], split: str = "train"
                          ) -> dict[str, Any]:
        """Gender, standardised age and day category of the last diagnosis vector, and its sample's length
        (diagnoses) and label."""
        sample, row, vec = self._last_diagnosis(encoded, split)
        return {"gender": int(vec["gender"]), "age": float(vec["age"]),
                "day_cat": int(np.argmax(vec.iloc[2:2 + N_DAY_CATEGORIES])),
                "length": int(sample.mask[row].sum()), "label": int(sample.y[row])}


def example_patient(prepared: PreparedRecords, cohort: pd.DataFrame) -> ExamplePatient:
    """A training case with a short, gappy history: the lowest patient id among training cases with 6-15
    diagnoses, at least 3 exam-years and a missing metric in some exam-year (else the lowest training case)."""
    train = cohort.loc[(cohort["role"] == "case") & (cohort["split"] == "train"), "patient_id"].to_numpy(np.int64)
    dx = prepared.diagnoses.groupby("patient_id").size().reindex(train, fill_value=0).to_numpy()
    ex = prepared.exams.groupby("patient_id").size().reindex(train, fill_value=0).to_numpy()
    gap = (prepared.exams[list(METRICS)].isna().any(axis=1).groupby(prepared.exams["patient_id"]).any()
           .reindex(train, fill_value=False).to_numpy(bool))
    ok = (dx >= 6) & (dx <= 15) & (ex >= 3) & gap
    pid = int(train[ok].min()) if ok.any() else int(train.min())
    row = cohort.set_index("patient_id").loc[pid]
    return ExamplePatient(pid, str(row["gender"]), pd.Timestamp(row["index_date"]),
                          prepared.diagnoses[prepared.diagnoses["patient_id"] == pid],
                          prepared.exams[prepared.exams["patient_id"] == pid])

__all__ = [
    "EncodedSamples", "EncodingConfig", "EncodingState", "INPUT_TYPES", "MISSING_STRATEGIES", "PreparedRecords",
    "SequenceBlock", "day_category", "diagnosis_records", "encode_cohort", "fit_encoding_state",
    "fractional_age", "one_hot", "prepare_records", "prevalence_table", "roll_forward", "summarise_exams",
    "true_risk_auroc", "window_index", "history_lengths", "window_coverage", "coverage_verdict", "one_in_verdict",
    "prevalence_view", "true_risk_intervals", "versus_reference", "ExamplePatient", "example_patient",
]
