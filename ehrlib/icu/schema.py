"""The synthetic ICU data's variable schema: names, units, plausible bounds and charting precision.
The source document's 15 variables (`VARIABLES`, the default), the real MIMIC-III benchmark's 17
(`BENCHMARK_VARIABLES`, with `EXTRA_SPECS` for the ten the source lacks and the Glasgow coma scale's
categorical text `GCS_TEXT`), and the bounds every generated value is clipped to (`LOWER`, `UPPER`) and
the decimals it is charted with (`DECIMALS`), in `VARIABLES` order. The generator (`ehrlib.icu.synth`)
simulates in this schema and the writer (`ehrlib.icu.writer`) formats with it; the data card
(`book/cards/icu-data.md`) describes them.
"""

from __future__ import annotations

import numpy as np

VARIABLES: tuple[str, ...] = (
    "Heart Rate", "Systolic blood pressure", "Diastolic blood pressure", "Respiratory rate",
    "Temperature", "Oxygen saturation", "Lactate", "Creatinine", "White blood cells", "Hemoglobin",
    "Glucose", "Potassium", "Sodium", "Bicarbonate", "Blood urea nitrogen",
)
VITALS: tuple[str, ...] = VARIABLES[:6]
LABS: tuple[str, ...] = VARIABLES[6:]
UNITS: dict[str, str] = {
    "Heart Rate": "bpm", "Systolic blood pressure": "mmHg", "Diastolic blood pressure": "mmHg",
    "Respiratory rate": "breaths/min", "Temperature": "°C", "Oxygen saturation": "%",
    "Lactate": "mmol/L", "Creatinine": "mg/dL", "White blood cells": "10^9/L", "Hemoglobin": "g/dL",
    "Glucose": "mg/dL", "Potassium": "mmol/L", "Sodium": "mmol/L", "Bicarbonate": "mmol/L",
    "Blood urea nitrogen": "mg/dL",
}
ADMISSION_TYPES: tuple[str, ...] = ("EMERGENCY", "URGENT", "ELECTIVE")
SHIFTS: tuple[str, ...] = ("day", "evening", "night")
ORGANS: tuple[str, ...] = ("cardiovascular", "respiratory", "renal", "inflammatory")
N_SLOTS = 49  # hourly slots 0..48 (slot 48 only at minute 0, so that Hours <= 48)

#: Clipping range (natural scale) and charting precision (decimals) of each of `VARIABLES`.
LOWER = np.array([20, 40, 15, 4, 32.0, 50, 0.3, 0.2, 0.5, 4.0, 30, 2.0, 115, 5, 2])
UPPER = np.array([250, 260, 160, 60, 42.0, 100, 25.0, 15.0, 80.0, 19.0, 900, 8.5, 165, 45, 200])
DECIMALS = np.array([0, 0, 0, 0, 1, 0, 1, 1, 1, 1, 0, 1, 0, 0, 0])

# The real MIMIC-III benchmark's 17 variables, in its order and spelling (`--variables benchmark`).
BENCHMARK_VARIABLES: tuple[str, ...] = (
    "Capillary refill rate", "Diastolic blood pressure", "Fraction inspired oxygen",
    "Glascow coma scale eye opening", "Glascow coma scale motor response", "Glascow coma scale total",
    "Glascow coma scale verbal response", "Glucose", "Heart Rate", "Height", "Mean blood pressure",
    "Oxygen saturation", "Respiratory rate", "Systolic blood pressure", "Temperature", "Weight", "pH",
)
#: Variables simulated only for the benchmark set, with (unit, low, high, decimals).
EXTRA_SPECS: dict[str, tuple[str, float, float, int]] = {
    "Capillary refill rate": ("0 normal / 1 slow", 0.0, 1.0, 1),
    "Fraction inspired oxygen": ("fraction", 0.21, 1.0, 2),
    "Glascow coma scale eye opening": ("score", 1, 4, 0),
    "Glascow coma scale motor response": ("score", 1, 6, 0),
    "Glascow coma scale total": ("score", 3, 15, 0),
    "Glascow coma scale verbal response": ("score (0: intubated)", 0, 5, 0),
    "Height": ("cm", 140, 205, 0),
    "Mean blood pressure": ("mmHg", 25, 200, 0),
    "Weight": ("kg", 35, 200, 1),
    "pH": ("", 6.8, 7.7, 2),
}
#: The benchmark's categorical text for the Glasgow coma scale components, by score (verbal 0 is
#: the intubated patient's "1.0 ET/Trach", which scores 1).
GCS_TEXT: dict[str, dict[int, str]] = {
    "Glascow coma scale eye opening": {1: "1 No Response", 2: "2 To pain", 3: "3 To speech", 4: "4 Spontaneously"},
    "Glascow coma scale motor response": {1: "1 No Response", 2: "2 Abnorm extensn", 3: "3 Abnorm flexion",
                                          4: "4 Flex-withdraws", 5: "5 Localizes Pain", 6: "6 Obeys Commands"},
    "Glascow coma scale verbal response": {0: "1.0 ET/Trach", 1: "1 No Response", 2: "2 Incomp sounds",
                                           3: "3 Inapprop words", 4: "4 Confused", 5: "5 Oriented"},
}
ALL_VARIABLES: tuple[str, ...] = VARIABLES + tuple(EXTRA_SPECS)
VARIABLE_SETS: dict[str, tuple[str, ...]] = {"source": VARIABLES, "benchmark": BENCHMARK_VARIABLES}
