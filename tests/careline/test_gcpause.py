"""The cyclic collector is held off for a bulk step and always handed back as it was found."""
from __future__ import annotations

import gc
from pathlib import Path

import pytest

from careline.gcpause import gc_paused


def test_the_collector_is_off_inside_and_back_on_after_even_when_the_step_fails() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused(collect_after=1):
        raise RuntimeError("a failed batch")
    assert gc.isenabled()


def test_a_collector_someone_else_turned_off_stays_off() -> None:
    gc.disable()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the test (or embedding process) that turned it off turns it on
    finally:
        gc.enable()


def test_the_first_engine_freezes_what_the_process_built_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from careline import db, gcpause

    monkeypatch.setattr(gcpause, "_frozen", False)
    monkeypatch.setattr(db, "_engines", {})
    before = gc.get_freeze_count()
    try:
        db.get_engine(f"sqlite:///{tmp_path / 'a.db'}")
        frozen = gc.get_freeze_count()
        assert frozen > before  # the start-up objects are out of the collector's passes
        db.get_engine(f"sqlite:///{tmp_path / 'b.db'}")
        assert gc.get_freeze_count() == frozen  # once per process, not per engine
        gcpause.freeze_start_up(again=True)  # the dashboard's warm-up, after its libraries
        assert gc.get_freeze_count() >= frozen
    finally:
        for engine in db._engines.values():
            engine.dispose()
        gc.unfreeze()
