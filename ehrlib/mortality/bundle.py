"""The LSTM's saved bundle: the model with the preprocessor, calibrator and threshold fitted with it, as one
folder (`lstm_bundle/`) with a manifest of every file's SHA-256, written whole or not at all and checked on
load (`save_artifacts`, `update_artifacts`, `load_bundle`)."""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ehrlib.evaluation.calibration import Calibrator, load_calibrator
from ehrlib.evaluation.thresholds import ThresholdChoice
from ehrlib.files import atomic_directory
from ehrlib.records import Record
from ehrlib.training import load_keras_model
from ehrlib.mortality.preprocessing import MortalityPreprocessor

#: Folder (inside the results folder) holding the model bundle, and its files.
BUNDLE_DIR = "lstm_bundle"
BUNDLE_FILES = {"model": "lstm.keras", "preprocessor": "preprocessor.json",
                "calibrator": "calibrator.json", "threshold": "threshold.json"}
MANIFEST = "manifest.json"


@dataclass
class BundleManifest(Record):
    """The bundle's table of contents: each file's SHA-256, checked when the bundle is loaded."""

    files: dict[str, str]
    format: Literal["ehrlib.mortality.lstm bundle v1"] = "ehrlib.mortality.lstm bundle v1"

    def validate(self) -> None:
        known = set(BUNDLE_FILES.values())
        for name, digest in self.files.items():
            if name not in known:
                raise ValueError(f"unknown bundle file {name!r} (known: {sorted(known)})")
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ValueError(f"{name}: {digest!r} is not a SHA-256 hex digest")
        for part in ("model", "preprocessor"):
            if BUNDLE_FILES[part] not in self.files:
                raise ValueError(f"the bundle lacks its {part} ({BUNDLE_FILES[part]})")


@dataclass
class LstmBundle:
    """A loaded bundle: the model with the preprocessor, calibrator and threshold fitted with it."""

    model: Any
    preprocessor: MortalityPreprocessor
    calibrator: Calibrator | None = None
    threshold: ThresholdChoice | None = None


def _sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def bundle_dir(directory: str | os.PathLike) -> Path:
    """The bundle folder for a results folder (`directory/lstm_bundle`), or `directory` itself if it
    is a bundle (holds a manifest)."""
    directory = Path(directory)
    return directory if (directory / MANIFEST).is_file() else directory / BUNDLE_DIR


def save_artifacts(directory: str | os.PathLike, model, preprocessor: MortalityPreprocessor,
                   calibrator: Calibrator | None = None,
                   threshold: ThresholdChoice | None = None) -> dict[str, Path]:
    """Save the model and the state fitted with it as ONE bundle, `directory/lstm_bundle/`.

    The bundle (`lstm.keras`, `preprocessor.json`, optionally `calibrator.json` and `threshold.json`,
    and `manifest.json` with every file's SHA-256) is built in a temporary folder and swapped in
    whole (`ehrlib.files.atomic_directory`): a kill at any moment leaves the previous complete bundle
    or the new one, never a mixed pair. Returns the path of each file.
    """
    final = Path(directory) / BUNDLE_DIR
    with atomic_directory(final, overwrite=True) as tmp:
        model.save(tmp / BUNDLE_FILES["model"])
        preprocessor.save(tmp / BUNDLE_FILES["preprocessor"])
        _finish_bundle(tmp, calibrator, threshold)
    return {part: final / name for part, name in BUNDLE_FILES.items() if (final / name).exists()}


def update_artifacts(directory: str | os.PathLike, calibrator: Calibrator | None = None,
                     threshold: ThresholdChoice | None = None) -> dict[str, Path]:
    """Add (or replace) the calibrator and threshold of a saved bundle, rewriting it as one bundle
    (the model and preprocessor are checked against the manifest and carried over byte for byte)."""
    src = final = bundle_dir(directory)
    manifest = _check_bundle(src)
    with atomic_directory(final, overwrite=True) as tmp:
        for name in manifest.files:
            shutil.copyfile(src / name, tmp / name)
        _finish_bundle(tmp, calibrator, threshold)
    return {part: final / name for part, name in BUNDLE_FILES.items() if (final / name).exists()}


def _finish_bundle(tmp: Path, calibrator: Calibrator | None, threshold: ThresholdChoice | None) -> None:
    """Write the optional calibrator and threshold into a bundle being built, then its manifest."""
    if calibrator is not None:
        calibrator.save(tmp / BUNDLE_FILES["calibrator"])
    if threshold is not None:
        threshold.save(tmp / BUNDLE_FILES["threshold"])
    names = sorted(p.name for p in tmp.iterdir() if p.name in BUNDLE_FILES.values())
    BundleManifest(files={n: _sha256(tmp / n) for n in names}).save(tmp / MANIFEST)


def _check_bundle(folder: Path) -> BundleManifest:
    """Read the manifest and check every file it lists against its SHA-256 (errors name the file)."""
    if not (folder / MANIFEST).is_file():
        raise FileNotFoundError(f"{folder / MANIFEST}: no such file; {folder} is not a saved LSTM bundle "
                                f"(train the model in chapter 03 first)")
    manifest = BundleManifest.load(folder / MANIFEST)
    for name, digest in manifest.files.items():
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(f"{path}: listed in {folder / MANIFEST} but missing; the bundle is incomplete")
        if _sha256(path) != digest:
            raise ValueError(f"{path}: its SHA-256 differs from {folder / MANIFEST} (changed or damaged "
                             f"after saving, or from another training); save the bundle again")
    return manifest


def load_bundle(directory: str | os.PathLike) -> LstmBundle:
    """Load a bundle written by `save_artifacts`, after checking every file against the manifest."""
    folder = bundle_dir(directory)
    manifest = _check_bundle(folder)
    model = load_keras_model(folder / BUNDLE_FILES["model"], compile=False)
    prep = MortalityPreprocessor.load(folder / BUNDLE_FILES["preprocessor"])
    cal = (load_calibrator(folder / BUNDLE_FILES["calibrator"])
           if BUNDLE_FILES["calibrator"] in manifest.files else None)
    thr = (ThresholdChoice.load(folder / BUNDLE_FILES["threshold"])
           if BUNDLE_FILES["threshold"] in manifest.files else None)
    return LstmBundle(model=model, preprocessor=prep, calibrator=cal, threshold=thr)


def load_artifacts(directory: str | os.PathLike):
    """Load `(model, preprocessor)` of a bundle written by `save_artifacts` (checked, see `load_bundle`)."""
    bundle = load_bundle(directory)
    return bundle.model, bundle.preprocessor


__all__ = ["BUNDLE_DIR", "BUNDLE_FILES", "BundleManifest", "LstmBundle", "MANIFEST", "bundle_dir", "load_artifacts",
           "load_bundle", "save_artifacts", "update_artifacts"]
