"""A small dataset in the real MIMIC-III benchmark's in-hospital-mortality layout, for tests and smoke runs.

`write_real_fixture(root, n_stays)` writes what mimic3-benchmarks produces: the 17 benchmark
variables (Glasgow coma scale and capillary refill as categorical text, temperature in Celsius),
irregular charting times, `ROOT/train/` holding the train *and* val stays with
`ROOT/{train,val,test}_listfile.csv` choosing the split, `ROOT/test/` for test, and no
`ground_truth.csv` (real data has no known true risk). Each stay has a hidden severity that moves
its vitals, labs and GCS; the label is drawn from that severity, so models can learn something.
It reuses the benchmark-file writers of `tests/test_icu_reader.py`. Run as a script to write a folder:
`PYTHONPATH=tests python tests/realfixture.py /tmp/realfix 800`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from test_icu_reader import REAL_VARS, make_stays, write_split

_EYE = ("1 No Response", "To Pain", "3 To speech", "4 Spontaneously")
_MOTOR = ("1 No Response", "2 Abnorm extensn", "3 Abnorm flexion", "4 Flex-withdraws", "5 Localizes Pain",
          "Obeys Commands")
_VERBAL = ("No Response-ETT", "2 Incomp sounds", "3 Inapprop words", "4 Confused", "5 Oriented")


def _episode(rng: np.random.Generator, severity: float) -> list[tuple]:
    """Irregular benchmark-style rows `(hours, *17 cells)` for one stay of the given severity."""
    n_vars = len(REAL_VARS)
    col = {v: i for i, v in enumerate(REAL_VARS)}
    hours = np.sort(np.round(rng.uniform(-3.0, 50.0, size=int(rng.integers(20, 70))), 2))
    rows = [[None] * n_vars for _ in hours]
    noise = rng.normal(size=(len(hours), 12))
    drift = np.clip(hours, 0, 48) / 48.0 * severity  # the sick get sicker over the window
    vitals = {
        "Heart Rate": 85 + 12 * severity + 6 * drift + 8 * noise[:, 0],
        "Respiratory rate": 18 + 4 * severity + 2 * drift + 3 * noise[:, 1],
        "Oxygen saturation": np.minimum(100, 97 - 2.5 * severity - drift + 1.5 * noise[:, 2]),
        "Systolic blood pressure": 120 - 12 * severity - 5 * drift + 12 * noise[:, 3],
        "Diastolic blood pressure": 65 - 6 * severity + 8 * noise[:, 4],
        "Mean blood pressure": 83 - 8 * severity + 8 * noise[:, 5],
        "Temperature": 37.0 + 0.5 * severity + 0.4 * noise[:, 6],
        "Glucose": 130 + 25 * severity + 25 * noise[:, 7],
        "pH": 7.40 - 0.04 * severity + 0.03 * noise[:, 8],
        "Fraction inspired oxygen": np.clip(0.35 + 0.1 * severity + 0.05 * noise[:, 9], 0.21, 1.0),
    }
    every = {"Glucose": 0.15, "pH": 0.1, "Fraction inspired oxygen": 0.1, "Temperature": 0.3}
    for name, v in vitals.items():
        seen = rng.random(len(hours)) < every.get(name, 0.75)
        for r in np.flatnonzero(seen):
            rows[r][col[name]] = round(float(v[r]), 2)
    gcs_rows = np.flatnonzero(rng.random(len(hours)) < 0.25)
    eye = np.clip(np.round(4 - 0.9 * severity + 0.5 * noise[gcs_rows, 10]), 1, 4).astype(int)
    motor = np.clip(np.round(6 - 1.2 * severity + 0.5 * noise[gcs_rows, 11]), 1, 6).astype(int)
    verbal = np.clip(np.round(5 - 1.1 * severity + 0.5 * noise[gcs_rows, 10]), 1, 5).astype(int)
    for r, e, m, vb in zip(gcs_rows, eye, motor, verbal):
        rows[r][col["Glascow coma scale eye opening"]] = _EYE[e - 1]
        rows[r][col["Glascow coma scale motor response"]] = _MOTOR[m - 1]
        rows[r][col["Glascow coma scale verbal response"]] = _VERBAL[vb - 1]
        rows[r][col["Glascow coma scale total"]] = str(e + m + vb)
    if rng.random() < 0.3:
        rows[0][col["Capillary refill rate"]] = "1.0" if severity > 1 else "0.0"
    if rng.random() < 0.2:
        rows[0][col["Height"]] = round(float(rng.normal(170, 10)), 1)
    if rng.random() < 0.6:
        rows[0][col["Weight"]] = round(float(rng.normal(80, 15)), 1)
    return [(float(h), *row) for h, row in zip(hours, rows)]


def write_real_fixture(root: str | Path, n_stays: int = 800, seed: int = 0,
                       split: tuple[float, float] = (0.7, 0.15)) -> Path:
    """Write `n_stays` stays in the real benchmark layout under `root`; returns `root`.

    Patients (about 1.1 stays each) are assigned to train/val/test with the given train and val
    fractions, so no patient spans two splits. Labels are Bernoulli(sigmoid(-1.9 + 1.4 severity)),
    about 20 % deaths. Same `seed` and `n_stays` give identical files.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    subjects = np.sort(rng.choice(np.arange(10_000, 99_999), size=n_stays, replace=False))
    subjects = np.where(rng.random(n_stays) < 0.1, np.roll(subjects, 1), subjects)  # some patients return
    stays = make_stays(subjects.tolist())
    severity = rng.normal(size=n_stays)
    y = (rng.random(n_stays) < 1 / (1 + np.exp(-(-1.9 + 1.4 * severity)))).astype(int)
    episodes = [_episode(rng, float(s)) for s in severity]
    unique = np.unique(subjects)
    u = rng.random(unique.size)
    part = np.where(u < split[0], "train", np.where(u < split[0] + split[1], "val", "test"))
    of_stay = part[np.searchsorted(unique, subjects)]
    tv = np.flatnonzero(of_stay != "test")
    te = np.flatnonzero(of_stay == "test")
    write_split(root, "train", [stays[i] for i in tv], y[tv].tolist(), [episodes[i] for i in tv], REAL_VARS)
    write_split(root, "test", [stays[i] for i in te], y[te].tolist(), [episodes[i] for i in te], REAL_VARS)
    for name in ("train", "val", "test"):
        idx = np.flatnonzero(of_stay == name)
        (root / f"{name}_listfile.csv").write_text(
            "stay,y_true\n" + "".join(f"{stays[i]},{y[i]}\n" for i in idx), newline="")
    return root


if __name__ == "__main__":
    out = write_real_fixture(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 800)
    print(f"wrote {out}")
