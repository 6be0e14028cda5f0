"""Messages and progress bars for `ehrlib`: `logging` and `tqdm` on one stream, standard error.

`get_logger(__name__)` returns a logger below the package's `ehrlib` logger, which writes
`name: message` lines to whatever `sys.stderr` is at the time (so pytest's capture and a Jupyter
kernel's stream both see them). `progress(iterable, ...)` wraps an iterable in a tqdm bar on the same
stream. Neither may reach a page of the book: when the book runner executes notebooks
(`EHRLIB_BOOK=1`, set by `ehrlib.book`) the package logs only warnings and errors and progress bars
are off, and a bar is also off whenever standard error is not a terminal. `EHRLIB_LOG_LEVEL`
(`DEBUG`, `INFO`, `WARNING`, ...) overrides the level. Nothing is ever written to standard output.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")
ROOT_LOGGER = "ehrlib"


def in_book() -> bool:
    """True while the book runner executes notebooks (`EHRLIB_BOOK=1` in the kernel's environment)."""
    return os.environ.get("EHRLIB_BOOK") == "1"


class _CurrentStderr(logging.StreamHandler):
    """A stream handler that looks up `sys.stderr` at each record, not once at creation."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ assigns it; the property ignores it
        pass


def _level() -> int:
    """The package's level: `EHRLIB_LOG_LEVEL` if set, WARNING in the book runner, INFO otherwise."""
    name = os.environ.get("EHRLIB_LOG_LEVEL", "").strip().upper()
    if name:
        level = logging.getLevelName(name)
        if not isinstance(level, int):
            raise ValueError(f"EHRLIB_LOG_LEVEL={name!r} is not a logging level")
        return level
    return logging.WARNING if in_book() else logging.INFO


class _LevelFromEnvironment(logging.Filter):
    """Passes a record at or above the level the environment asks for now (see `_level`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= _level()


def get_logger(name: str = ROOT_LOGGER) -> logging.Logger:
    """The logger `name` (normally a module's `__name__`, below `ehrlib`), with the package's one
    stderr handler installed on first use. The handler reads the level from the environment at each
    record, so a kernel started by the book runner is quiet while an interactive session shows INFO."""
    root = logging.getLogger(ROOT_LOGGER)
    if not any(isinstance(h, _CurrentStderr) for h in root.handlers):
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        handler.addFilter(_LevelFromEnvironment())
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)  # the handler's filter decides
        root.propagate = False  # one line per message, even when an application configured the root logger
    return logging.getLogger(name)


def progress_enabled(enabled: bool = True) -> bool:
    """Whether a progress bar should draw: asked for, not in the book runner, and stderr is a terminal."""
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(enabled) and not in_book() and bool(isatty and isatty())


def progress(iterable: Iterable[T], *, desc: str | None = None, total: int | None = None, unit: str = "it",
             enabled: bool = True, **tqdm_kwargs) -> Iterator[T]:
    """`iterable` wrapped in a tqdm bar on stderr, or returned as it is when the bar would not show
    (see `progress_enabled`); the bar clears itself when done (`leave=False`) unless told otherwise."""
    if not progress_enabled(enabled):
        return iter(iterable)
    from tqdm import tqdm

    tqdm_kwargs.setdefault("leave", False)
    tqdm_kwargs.setdefault("mininterval", 0.5)
    tqdm_kwargs.setdefault("dynamic_ncols", True)
    return iter(tqdm(iterable, desc=desc, total=total, unit=unit, file=sys.stderr, **tqdm_kwargs))
