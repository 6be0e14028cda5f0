"""Cleaning rules for the PhysioNet 2012 records: one documented rule per kind of impossible value.

Every rule names the raw parameter it applies to, what it does and why, and is counted when the
records are read (`PhysionetSet.cleaning`). Rules of a parameter apply in the order listed. Four kinds:
`remove` (values in [low, high], e.g. exactly 0 or the -1 of "unknown", become missing), `outside`
(values outside [low, high] become missing: entry errors), `rescale` (values in [low, high] are
multiplied by `factor`: a stated correction, used only where the error is unambiguous) and `clip`
(values outside [low, high] are set to the nearer bound: the benchmark's "valid" bounds).

Decisions, from the real sets A and B (8,000 stays, 3.5 million rows):
- Variables shared with the MIMIC-III benchmark use its bounds (`ehrlib.icu.ranges.VARIABLE_RANGES`):
  outliers removed, then values clipped to the valid bounds (e.g. glucose 8 mg/dL becomes 33, mean
  pressure 5 mmHg becomes 14), so these variables are treated as the benchmark reader treats them.
- Zero heart rate, blood pressure (invasive and non-invasive), respiratory rate or weight is a
  disconnected monitor or an empty field, not a measurement: removed (the benchmark's bounds allow 0).
- Temperature below 25 °C is removed (the benchmark's outlier bound, 14.2 °C, would keep probes read
  off the patient: the data hold 0, 1-4 and -17.8 °C, which is 0 °F); then clipped to 26-45 °C.
- pH charted as 733-735 is pH x 100 (7.33-7.35): divided by 100 (values 630-840); other values
  outside the benchmark's 6.3-10 (0, 0.4, 1-3, 94-100, 187) are removed.
- FiO2 charted as a percentage (20-100) would be divided by 100; the real sets hold none (all are
  fractions 0.21-1), the rule is kept for other copies.
- Height: -1 is unknown; seven heights of 365-462 cm are a height in cm multiplied by 2.54 again (462.3
  = 182 x 2.54): divided by 2.54 (values 300-600); then heights outside 100-230 cm (1.8, 5.1, 13-18
  cm) are removed. Weight (the 00:00 descriptor and the time series): -1 unknown and 0 removed, then
  outside 20-300 kg (0.6, 3.4, 5 kg; 472 kg) removed.
- Variables the benchmark does not bound get plausible bounds, removal only: arterial oxygen
  saturation 20-100 %, PaO2 10-800 mmHg, PaCO2 5-200 mmHg, magnesium 0.5-10 mg/dL, haematocrit 5-75 %,
  platelets 1-3,000 x10^3/uL, albumin 0.5-8 g/dL, ALP 1-10,000 and ALT / AST 1-30,000 IU/L, bilirubin
  0-80 mg/dL, cholesterol 20-1,000 mg/dL, troponin I 0-500 and T 0-100 ug/L, GCS 3-15, mechanical
  ventilation 0-1, urine 0-10,000 mL per charted value (two values of 11,000 and 19,990 mL).
- Descriptors: -1 (unknown) removed for every one; age outside 15-120, a gender other than 0/1 and an
  ICU type other than 1-4 removed. Ages are top-coded at 90 in the source (90 means 90 or older).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ehrlib.icu.ranges import VARIABLE_RANGES

__all__ = ["CLEANING_RULES", "DESCRIPTOR_WEIGHT", "Rule", "rules_for"]

#: The parameter name of the 00:00 weight descriptor in the cleaning table (the time series is "Weight").
DESCRIPTOR_WEIGHT = "Weight (descriptor)"
Action = Literal["remove", "outside", "rescale", "clip"]


@dataclass(frozen=True)
class Rule:
    """One cleaning rule of one raw parameter (see the module docstring for the four actions)."""

    parameter: str
    action: Action
    low: float
    high: float
    why: str
    factor: float = 1.0

    @property
    def text(self) -> str:
        """The rule in words, for the cleaning table."""
        span = f"{self.low:g}" if self.low == self.high else f"{self.low:g} to {self.high:g}"
        what = {"remove": f"removed: {span}", "outside": f"removed: outside {span}",
                "rescale": f"corrected: {span} " + (f"divided by {1 / self.factor:g}" if self.factor < 1
                                                     else f"multiplied by {self.factor:g}"),
                "clip": f"clipped to {span}"}[self.action]
        return f"{what} ({self.why})"

    def apply(self, v: np.ndarray) -> tuple[np.ndarray, int]:
        """Apply the rule to float64 values (NaN: missing); returns the new values and how many changed."""
        inside = (v >= self.low) & (v <= self.high)
        if self.action == "remove":
            hit = inside
        elif self.action == "rescale":
            hit = inside
            return np.where(hit, v * self.factor, v), int(hit.sum())
        else:
            hit = ~inside & ~np.isnan(v)
            if self.action == "clip":
                return np.clip(v, self.low, self.high), int(hit.sum())
        return np.where(hit, np.nan, v), int(hit.sum())


_ZERO = "zero: a disconnected monitor or empty field, not a measurement"
_UNKNOWN = "-1 means unknown"
_BENCH_OUT = "the MIMIC-III benchmark's outlier bounds"
_BENCH_VALID = "the MIMIC-III benchmark's valid bounds"


def _benchmark(param: str, variable: str) -> list[Rule]:
    """The benchmark's rule for a shared variable: remove outliers, clip to the valid bounds (if narrower)."""
    r = VARIABLE_RANGES[variable]
    out = [Rule(param, "outside", r.outlier_low, r.outlier_high, _BENCH_OUT)]
    if (r.valid_low, r.valid_high) != (r.outlier_low, r.outlier_high):
        out.append(Rule(param, "clip", r.valid_low, r.valid_high, _BENCH_VALID))
    return out


def _plausible(param: str, low: float, high: float, unit: str) -> list[Rule]:
    """Removal outside documented plausible bounds (for parameters the benchmark does not bound)."""
    return [Rule(param, "outside", low, high, f"plausible bounds, {unit}")]


def _vital_rules() -> list[Rule]:
    out: list[Rule] = []
    for param, variable in (("HR", "Heart Rate"), ("SysABP", "Systolic blood pressure"),
                            ("NISysABP", "Systolic blood pressure"), ("DiasABP", "Diastolic blood pressure"),
                            ("NIDiasABP", "Diastolic blood pressure"), ("MAP", "Mean blood pressure"),
                            ("NIMAP", "Mean blood pressure"), ("RespRate", "Respiratory rate")):
        out += [Rule(param, "remove", 0, 0, _ZERO), *_benchmark(param, variable)]
    out += [Rule("Temp", "outside", 25, 47, "below 25 °C: a probe off the patient, or 0 °F = -17.8 °C"),
            Rule("Temp", "clip", 26, 45, _BENCH_VALID),
            Rule("FiO2", "rescale", 20, 100, "a percentage", factor=0.01), *_benchmark("FiO2", "Fraction inspired oxygen"),
            Rule("pH", "rescale", 630, 840, "pH x 100: 735 is 7.35", factor=0.01), *_benchmark("pH", "pH"),
            Rule("Weight", "remove", -1, -1, _UNKNOWN), Rule("Weight", "remove", 0, 0, _ZERO),
            *_plausible("Weight", 20, 300, "kg (adults)"),
            *_plausible("GCS", 3, 15, "Glasgow coma scale total"), *_plausible("MechVent", 0, 1, "a 0/1 flag"),
            *_plausible("Urine", 0, 10_000, "mL per charted value"),
            *_plausible("SaO2", 20, 100, "%"), *_plausible("PaO2", 10, 800, "mmHg"),
            *_plausible("PaCO2", 5, 200, "mmHg")]
    return out


def _lab_rules() -> list[Rule]:
    out: list[Rule] = []
    for param, variable in (("Glucose", "Glucose"), ("Lactate", "Lactate"), ("Creatinine", "Creatinine"),
                            ("K", "Potassium"), ("Na", "Sodium"), ("HCO3", "Bicarbonate"),
                            ("BUN", "Blood urea nitrogen"), ("WBC", "White blood cells")):
        out += _benchmark(param, variable)
    for param, low, high, unit in (("HCT", 5, 75, "%"), ("Platelets", 1, 3000, "x10^3/uL"),
                                   ("Mg", 0.5, 10, "mg/dL"), ("Albumin", 0.5, 8, "g/dL"),
                                   ("ALP", 1, 10_000, "IU/L"), ("ALT", 1, 30_000, "IU/L"),
                                   ("AST", 1, 30_000, "IU/L"), ("Bilirubin", 0, 80, "mg/dL"),
                                   ("Cholesterol", 20, 1000, "mg/dL"), ("TroponinI", 0, 500, "ug/L"),
                                   ("TroponinT", 0, 100, "ug/L")):
        out += _plausible(param, low, high, unit)
    return out


def _descriptor_rules() -> list[Rule]:
    return [Rule("Age", "remove", -1, -1, _UNKNOWN), *_plausible("Age", 15, 120, "years"),
            Rule("Gender", "remove", -1, -1, _UNKNOWN), *_plausible("Gender", 0, 1, "0 female, 1 male"),
            Rule("Height", "remove", -1, -1, _UNKNOWN),
            Rule("Height", "rescale", 300, 600, "cm multiplied by 2.54 twice: 462.3 is 182 x 2.54",
                 factor=1 / 2.54),
            *_plausible("Height", 100, 230, "cm (adults)"),
            Rule("ICUType", "remove", -1, -1, _UNKNOWN), *_plausible("ICUType", 1, 4, "the four ICU types"),
            Rule(DESCRIPTOR_WEIGHT, "remove", -1, -1, _UNKNOWN), Rule(DESCRIPTOR_WEIGHT, "remove", 0, 0, _ZERO),
            *_plausible(DESCRIPTOR_WEIGHT, 20, 300, "kg (adults)")]


#: Every rule, descriptors first, then the time series (vitals, then laboratory values).
CLEANING_RULES: tuple[Rule, ...] = (*_descriptor_rules(), *_vital_rules(), *_lab_rules())


def rules_for(parameter: str) -> tuple[Rule, ...]:
    """The rules of one raw parameter, in the order they apply."""
    return tuple(r for r in CLEANING_RULES if r.parameter == parameter)
