"""Test configuration: make ``tests/helpers.py`` importable, choose the Hypothesis profile, and
keep global kernel state (thread count, ISA variant) unchanged across tests.

Hypothesis profiles (``--hypothesis-profile=NAME``; without it, ``ci``):

* ``ci``: deterministic. ``derandomize`` draws the same examples on every machine and every run
  and no example database is read or written, so CI cannot change its verdict by itself and a
  failure reproduces from the command line alone.
* ``explore``: random examples (a new seed each run, ``--hypothesis-seed=N`` to replay one), ten
  times as many, and the local example database, so that a developer's run looks for inputs
  nobody thought of and replays the failures it found; the failing example is printed, for a
  fixed test to go into the suite.

The property tests take ``max_examples`` from the profile; the fuzz tests scale theirs by it
(``tests/test_fuzz_api.py``).
"""

import os
import sys

import pytest
from hypothesis import HealthCheck, Phase, settings

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

# Shared by both profiles: no deadline (a shared 2-core machine makes timings meaningless), and
# the health checks that only say that drawing arrays is slow are not failures.
_COMMON = dict(deadline=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.filter_too_much])
# No explain phase: it reruns a failing test under a tracer to name the lines involved, which
# costs minutes on the fused kernels and adds nothing a fixed example does not show.
_PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink)
settings.register_profile("ci", max_examples=50, derandomize=True, database=None,
                          print_blob=False, phases=_PHASES, **_COMMON)
settings.register_profile("explore", max_examples=500, derandomize=False, print_blob=True,
                          phases=_PHASES, **_COMMON)


def pytest_configure(config):
    # Hypothesis's plugin loads a profile named by --hypothesis-profile; without one, "ci".
    if not config.getoption("hypothesis_profile", default=None):
        settings.load_profile("ci")


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
