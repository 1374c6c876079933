"""Test configuration: make ``tests/helpers.py`` importable and keep global kernel state
(thread count, ISA variant) unchanged across tests."""

import os
import sys

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture
def restore_threads():
    """Yields fastloss and restores the thread count afterwards."""
    import fastloss

    before = fastloss.get_num_threads()
    try:
        yield fastloss
    finally:
        if fastloss.get_num_threads() != before:  # a resize restarts the pool: only when needed
            fastloss.set_num_threads(before)


@pytest.fixture
def restore_isa():
    """Yields fastloss._core and re-selects the active ISA variant afterwards."""
    from fastloss import _core

    before = _core.active_isa()
    try:
        yield _core
    finally:
        _core.select_isa(before)
