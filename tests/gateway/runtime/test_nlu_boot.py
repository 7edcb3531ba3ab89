"""How many Rasa servers `hotline run` starts (HOTLINE_NLU_PROCESSES)."""

from __future__ import annotations

import os

import pytest

from gateway.runtime.nlu_boot import PROCESSES_ENV, ProcessesSettingError, nlu_processes


def test_the_default_is_one_server_per_two_cores(monkeypatch):
    monkeypatch.delenv(PROCESSES_ENV, raising=False)
    assert nlu_processes() == max(1, min(4, (os.cpu_count() or 2) // 2))
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert nlu_processes() == 4


@pytest.mark.parametrize("value", ["0", "17", "two", "1.5"])
def test_a_bad_value_names_the_variable(monkeypatch, value):
    monkeypatch.setenv(PROCESSES_ENV, value)
    with pytest.raises(ProcessesSettingError, match=PROCESSES_ENV):
        nlu_processes()


def test_an_explicit_count(monkeypatch):
    monkeypatch.setenv(PROCESSES_ENV, "3")
    assert nlu_processes() == 3
