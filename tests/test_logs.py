"""ehrlib.logs: messages on stderr through logging, progress bars only in a terminal, both quiet in the book."""

from __future__ import annotations

import io
import logging

import pytest

from ehrlib.logs import get_logger, progress, progress_enabled


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch) -> None:
    monkeypatch.delenv("EHRLIB_BOOK", raising=False)
    monkeypatch.delenv("EHRLIB_LOG_LEVEL", raising=False)


def test_messages_go_to_the_current_stderr_never_stdout(capsys) -> None:
    get_logger("ehrlib.test").info("hello %d", 3)
    out = capsys.readouterr()
    assert out.out == "" and out.err == "ehrlib.test: hello 3\n"


def test_one_handler_however_often_loggers_are_made(capsys) -> None:
    for _ in range(3):
        log = get_logger("ehrlib.a")
    logging.basicConfig()  # an application's own root handler must not double the line
    log.info("once")
    assert capsys.readouterr().err.count("once") == 1
    ours = [h for h in logging.getLogger("ehrlib").handlers if isinstance(h, logging.StreamHandler)
            and type(h).__module__ == "ehrlib.logs"]
    assert len(ours) == 1


def test_book_runner_keeps_only_warnings(monkeypatch, capsys) -> None:
    log = get_logger("ehrlib.test")  # made before the variable is set: the level is read per record
    monkeypatch.setenv("EHRLIB_BOOK", "1")
    log.info("quiet")
    log.warning("loud")
    assert capsys.readouterr().err == "ehrlib.test: loud\n"
    monkeypatch.setenv("EHRLIB_LOG_LEVEL", "debug")
    log.debug("asked for")
    assert "asked for" in capsys.readouterr().err
    monkeypatch.setenv("EHRLIB_LOG_LEVEL", "chatty")
    with pytest.raises(ValueError, match="EHRLIB_LOG_LEVEL"):
        log.info("x")


def test_ehrlib_modules_log_instead_of_printing(capsys, tmp_path) -> None:
    from ehrlib.stroke.synth import generate_stroke_dataset

    generate_stroke_dataset(tmp_path / "ehr", n_patients=300, seed=1, progress=True)
    out = capsys.readouterr()
    assert out.out == "" and "ehrlib.stroke.synth: [stroke_synth] wrote" in out.err


def test_progress_draws_only_on_a_terminal_outside_the_book(monkeypatch) -> None:
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert not progress_enabled()
    assert list(progress(range(3), desc="x")) == [0, 1, 2]
    tty = _Tty()
    monkeypatch.setattr("sys.stderr", tty)
    assert progress_enabled() and not progress_enabled(enabled=False)
    assert list(progress(range(3), desc="counting", mininterval=0)) == [0, 1, 2]
    assert "counting" in tty.getvalue()
    monkeypatch.setenv("EHRLIB_BOOK", "1")
    assert not progress_enabled()
