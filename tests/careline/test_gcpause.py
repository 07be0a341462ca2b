"""The cyclic collector is held off for a bulk step and always handed back as it was found."""
from __future__ import annotations

import gc

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
