"""Run profiles: the one place where the book's scale is set.

`full` is the published scale (the source documents' sizes); `quick` is a small, fast run for CI
and smoke tests. Notebooks receive only the profile's *name* from papermill (their `parameters`
cell holds `profile = "quick"`) and look everything else up here, so no value is duplicated.
Paths are relative to the project root (see `project_root`).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from ehrlib.icu.defaults import DEFAULT_EPISODES, DEFAULT_MORTALITY, DEFAULT_SPLIT


@dataclass(frozen=True)
class Profile:
    """Every scale-dependent setting of the book, for one profile."""

    name: str
    seed: int = 0
    # Synthetic ICU data (chapters 01-04, 07, 08).
    icu_episodes: int = DEFAULT_EPISODES
    icu_split: tuple[int, int, int] = DEFAULT_SPLIT
    icu_mortality: float = DEFAULT_MORTALITY
    # Mortality model training.
    lstm_max_epochs: int = 50
    lstm_patience: int = 5
    batch_size: int = 64
    kfold_splits: int = 5
    kfold_max_epochs: int = 50
    n_bootstrap: int = 1000
    lstm_seeds: int = 5  # LSTM trainings with seeds seed, seed + 1, ... (the first is chapter 3's)
    learning_curve_sizes: tuple[int, ...] = (500, 2_000, 8_000)  # plus the whole training split
    ablation_episodes: int = 4_000  # size of each generated dataset of the missingness ablation
    # Synthetic hospital EHR and stroke cohort (chapter 05).
    stroke_patients: int = 0  # 0: the generator's default population size
    autoencoder_epochs: int = 200
    # Stroke networks (chapter 06), trained like the paper: up to its epoch budget (500; model 3: 100) with
    # early stopping on validation F1, over several seeds; the ablations stop early the same way.
    stroke_max_epochs: int = 500
    stroke_dual_max_epochs: int = 100
    stroke_patience: int = 4
    stroke_seeds: int = 3  # trainings of each chosen network with seeds seed, seed + 1, ...
    stroke_batch_size: int = 128  # the paper's 32: 1.4-1.5x slower epochs on 2 cores (chapter 06 says)
    stroke_grid: str = "small"  # "small": the documented grid per model; "one": its first point only
    stroke_ablation_max_epochs: int = 500
    stroke_ablation_patience: int = 4
    stroke_equivalence_epochs: int = 2  # the loss-equivalence runs: a fixed number of epochs, no early stopping
    stroke_xla: bool = True  # XLA-compile the training step: faster epochs, a few seconds' compile per training
    # Real ICU stays, PhysioNet 2012 (chapter 09).
    physionet_records: int = 0  # 0: all 4,000 of each set; else the first N by RecordID (a fixed subset)
    physionet_folds: int = 5  # runs per model: the challenge's cross-fit on set A, and the pooled k-fold
    physionet_max_epochs: int = 50
    physionet_patience: int = 5
    # Also train the LSTM without the descriptors (five more trainings, about two minutes at full scale):
    # off by default to keep chapter 09 near ten minutes; on, it measured +0.012 AUROC (5 of 5 runs up).
    physionet_lstm_ablation: bool = False
    # Sequence models that use time (chapter 10; real stays by both protocols, synthetic by the split design).
    sequence_folds: int = 5  # runs per model and protocol (folds of the cross-fit and of the k-fold)
    sequence_max_epochs: int = 15  # ceiling per training, with early stopping on validation AUROC
    sequence_batch_size: int = 128  # the new models' batch (the replication's LSTM keeps `batch_size`)
    sequence_patience: int = 2  # epochs without a better validation AUROC before stopping (3 took about 5 % longer, measured)
    sequence_search: str = "full"  # "full": every stage of `sequence_search.LSTM_STAGES`; "small": its first stage's first two candidates
    sequence_every_model: bool = True  # every sequence model in the k-fold protocol and on synthetic data (else only the reference and the best new one)
    sequence_synthetic_train: int = 2_000  # training-split stays cross-fitted on the synthetic data (0: all; fewer for the time budget)
    sequence_curve_sizes: tuple[int, ...] = (700, 1_400)  # learning-curve subsets of the search-training stays
    sequence_xla: bool = False  # XLA-compile the new models' train steps: no faster on two cores at this size (benchmarks/bench_sequence.py)
    sequence_workers: int = 2  # trainings at once (threads; same predictions): one keeps about 1.3 of two cores busy

    @property
    def data_dir(self) -> Path:
        """Root folder of this profile's generated data."""
        return project_root() / "data" / self.name

    @property
    def icu_dir(self) -> Path:
        """The ICU dataset in the MIMIC-III benchmark layout: the synthetic one generated for this
        profile, or `$EHRLIB_ICU_DIR` if set (e.g. the real benchmark's `in-hospital-mortality`
        folder, for readers with MIMIC-III access)."""
        override = os.environ.get("EHRLIB_ICU_DIR")
        return Path(override).resolve() if override else self.data_dir / "icu"

    @property
    def stroke_dir(self) -> Path:
        """The synthetic hospital EHR (Parquet tables)."""
        return self.data_dir / "stroke"

    @property
    def icu_external(self) -> bool:
        """Whether `$EHRLIB_ICU_DIR` points the ICU chapters at a dataset other than the generated one."""
        return bool(os.environ.get("EHRLIB_ICU_DIR"))

    @property
    def results_dir(self) -> Path:
        """Where notebooks write metrics files and fitted artifacts for this profile:
        `data/results/<profile>`, or `data/results/<profile>-external` when `$EHRLIB_ICU_DIR` is set,
        so that a run on other data never overwrites the synthetic run's results."""
        suffix = "-external" if self.icu_external else ""
        return project_root() / "data" / "results" / f"{self.name}{suffix}"

    @property
    def stroke_results_dir(self) -> Path:
        """Where the stroke chapters write and read their results: `data/results/<profile>`, whatever
        `$EHRLIB_ICU_DIR` says (the stroke study always runs on its synthetic EHR)."""
        return project_root() / "data" / "results" / self.name

    @property
    def physionet_results_dir(self) -> Path:
        """Where the real-data chapter writes its results: `data/results/<profile>/physionet2012`,
        whatever `$EHRLIB_ICU_DIR` says (it always reads the PhysioNet 2012 sets)."""
        return project_root() / "data" / "results" / self.name / "physionet2012"

    @property
    def sequence_results_dir(self) -> Path:
        """Where chapter 10 writes its results: `data/results/<profile>/sequence` (or `<profile>-external/sequence`
        when `$EHRLIB_ICU_DIR` points the synthetic part at other data)."""
        return self.results_dir / "sequence"


PROFILES: dict[str, Profile] = {
    "full": Profile(name="full"),
    "quick": Profile(
        name="quick",
        icu_episodes=3_000,
        icu_split=(2_100, 450, 450),
        lstm_max_epochs=6,
        lstm_patience=2,
        kfold_splits=3,
        kfold_max_epochs=2,
        n_bootstrap=200,
        lstm_seeds=2,
        learning_curve_sizes=(500,),
        ablation_episodes=1_000,
        stroke_patients=12_000,
        autoencoder_epochs=40,
        stroke_max_epochs=2,
        stroke_dual_max_epochs=2,
        stroke_patience=1,
        stroke_seeds=2,
        stroke_grid="one",
        stroke_ablation_max_epochs=1,
        stroke_ablation_patience=1,
        stroke_equivalence_epochs=1,
        stroke_xla=False,
        physionet_records=500,
        physionet_folds=3,
        physionet_max_epochs=2,
        physionet_patience=1,
        sequence_folds=2,
        sequence_max_epochs=2,
        sequence_batch_size=64,
        sequence_patience=1,
        sequence_search="small",
        sequence_every_model=False,
        sequence_synthetic_train=400,
        sequence_curve_sizes=(150,),
    ),
}


def get_profile(name: str) -> Profile:
    """Return the named profile, or raise a `ValueError` listing the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}") from None


def project_root() -> Path:
    """The project root: `$EHRLIB_ROOT` if set, else the folder holding `_config.yml` above the CWD.

    Notebooks run with their own folder as working directory, so the root is found by walking up.
    """
    env = os.environ.get("EHRLIB_ROOT")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "_config.yml").exists() and (folder / "ehrlib").is_dir():
            return folder
    return Path(__file__).resolve().parent.parent


def replace(profile: Profile, **changes: object) -> Profile:
    """A copy of `profile` with some fields changed (for experiments in a notebook)."""
    return dataclasses.replace(profile, **changes)
