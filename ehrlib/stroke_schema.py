"""Schema of the hospital EHR tables used by the stroke study (real or synthetic).

Three Parquet tables, one row per fact:

- `patients.parquet`: `patient_id` (int64, unique), `birth_year` (int32), `gender` (string, "F"/"M").
- `diagnoses.parquet`: `patient_id` (int64), `date` (datetime64[ns], day precision), `icd10`
  (string, a WHO ICD-10 code without the dot, truncated to at most four characters, e.g. "I639").
- `exams.parquet`: `patient_id` (int64), `date` (datetime64[ns]), `exam_type` (string, "blood" or
  "biochemical"), `metric` (string, one of `METRICS`), `value` (float64, in `METRIC_UNITS`).

The synthetic generator also writes `hazard.parquet` (`patient_id`, `year`, `annual_hazard`): the
true yearly hazard of a first stroke, from which the true one-year risk of any labelled sample is
computed. It is ground truth for the book's "best achievable" comparison, never a feature.
"""

from __future__ import annotations

BLOOD_METRICS: tuple[str, ...] = (
    "ALP", "creatinine", "Hb", "hematocrit", "MCH", "MCHC", "MCV", "platelets", "RBC", "WBC",
)
BIOCHEMICAL_METRICS: tuple[str, ...] = (
    "GGT", "GOT", "GPT", "HbA1c_JDS", "HbA1c_NGSP", "HDL_C", "LDL_C", "triglyceride", "uric_acid", "glucose",
)
METRICS: tuple[str, ...] = BLOOD_METRICS + BIOCHEMICAL_METRICS

METRIC_UNITS: dict[str, str] = {
    "ALP": "U/L", "creatinine": "mg/dL", "Hb": "g/dL", "hematocrit": "%", "MCH": "pg", "MCHC": "g/dL",
    "MCV": "fL", "platelets": "10^4/uL", "RBC": "10^6/uL", "WBC": "10^3/uL", "GGT": "U/L", "GOT": "U/L",
    "GPT": "U/L", "HbA1c_JDS": "%", "HbA1c_NGSP": "%", "HDL_C": "mg/dL", "LDL_C": "mg/dL",
    "triglyceride": "mg/dL", "uric_acid": "mg/dL", "glucose": "mg/dL",
}

EXAM_TYPES: dict[str, str] = {**{m: "blood" for m in BLOOD_METRICS}, **{m: "biochemical" for m in BIOCHEMICAL_METRICS}}

PATIENT_COLUMNS: dict[str, str] = {"patient_id": "int64", "birth_year": "int32", "gender": "string"}
DIAGNOSIS_COLUMNS: dict[str, str] = {"patient_id": "int64", "date": "datetime64[ns]", "icd10": "string"}
EXAM_COLUMNS: dict[str, str] = {
    "patient_id": "int64", "date": "datetime64[ns]", "exam_type": "string", "metric": "string", "value": "float64",
}
HAZARD_COLUMNS: dict[str, str] = {"patient_id": "int64", "year": "int32", "annual_hazard": "float64"}

STROKE_CODE_PREFIXES: tuple[str, ...] = tuple(f"I6{d}" for d in range(10))  # I60-I69
