"""``python -m fastloss plot``: the command writes a PNG, the curves it draws are the kernels'
values and derivatives along the residual or the margin, and bad arguments are clear errors."""

from __future__ import annotations

import dataclasses
import re
import struct
import subprocess
import sys

import numpy as np
import pytest

from fastloss import _plot, reference
from fastloss.__main__ import main
from helpers import REGISTRY, tolerance

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The losses plot draws (a prediction and a target); test_a_loss_without_a_curve_is_a_clear_error
# covers the others.
DRAWN = sorted(n for n, s in REGISTRY.items()
               if s.family in ("regression", "classification") and len(s.arrays) == 2)


def _png_size(path):
    """(width, height) from a PNG's IHDR chunk, after checking the signature."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24]), len(data)


def test_the_command_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "curves.png"
    run = subprocess.run([sys.executable, "-m", "fastloss", "plot", "huber", "log_cosh", "mae",
                          "--out", str(out), "--param", "huber.delta=0.5", "--range", "-3", "3"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    (width, height), size = _png_size(out)
    assert (width, height) == (1440, 576)  # 12 x 4.8 inches at 120 dpi
    # two panels of five curves, axes, legend and text: tens of kilobytes, not a blank image
    assert 20_000 < size < 2_000_000, size


def test_every_kind_of_classification_loss_draws(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "classification.png"
    assert main(["plot", "hinge", "binary_cross_entropy", "cross_entropy",
                 "multiclass_hinge:squared=True", "softmax_focal:gamma=1",
                 "sigmoid_focal:gamma=0,alpha=None", "--out", str(out)]) == 0
    assert _png_size(out)[1] > 20_000


@pytest.mark.parametrize("name", DRAWN)
def test_curves_are_the_kernels_along_the_axis(name):
    """Every drawable registered loss gives finite curves: the loss at (residual, target 0) or
    at margin m for the positive label, and its derivative along that axis."""
    x = np.linspace(-3.0, 3.0, 61)
    loss, grad = _plot.evaluate(name, {}, x)
    assert loss.shape == grad.shape == x.shape
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    # the derivative is the slope of the drawn loss: compare with central differences
    h = 1e-6
    up, _ = _plot.evaluate(name, {}, x + h)
    down, _ = _plot.evaluate(name, {}, x - h)
    smooth = np.abs(x - np.round(x)) > 1e-3  # the kinks of these losses sit at integers
    np.testing.assert_allclose(grad[smooth], ((up - down) / (2 * h))[smooth],
                               **tolerance("finite_difference"))


def test_curves_match_the_reference():
    x = np.linspace(-3.0, 3.0, 61)
    loss, grad = _plot.evaluate("huber", {"delta": 0.5}, x)
    np.testing.assert_allclose(loss, reference.huber(x, 0 * x, delta=0.5, reduction="none"),
                               **tolerance("float64_rounding"))
    # margins: two-class cross-entropy, BCE on logits and BCE on sigmoid probabilities agree
    ce, ce_grad = _plot.evaluate("cross_entropy", {}, x)
    bce, bce_grad = _plot.evaluate("binary_cross_entropy_with_logits", {}, x)
    prob, prob_grad = _plot.evaluate("binary_cross_entropy", {}, x)
    np.testing.assert_allclose(ce, bce, **tolerance("float64_identity"))
    np.testing.assert_allclose(ce_grad, bce_grad, **tolerance("float64_gradient_identity"))
    np.testing.assert_allclose(prob, bce, **tolerance("float64_cancellation"))
    np.testing.assert_allclose(prob_grad, bce_grad, **tolerance("float64_cancellation"))


@pytest.mark.parametrize("argv,message", [
    (["plot", "nope"], r"\[fastloss.plot\] unknown loss 'nope'"),
    (["plot", "huber", "--param", "delta=0.5"], r"--param must be loss.key=value"),
    (["plot", "huber", "--param", "mae.delta=1"], r"--param names 'mae', which is not plotted"),
    (["plot", "huber:beta=1"], r"huber takes no hyper-parameter 'beta'"),
    (["plot", "huber:delta"], r"huber's settings must be key=value"),
    (["plot", "huber", "--param", "huber.delta=-1"], r"\[fastloss.huber\] delta must be > 0"),
    (["plot", "huber", "hinge"], r"plot them separately"),
    (["plot", "huber", "--range", "3", "-3"], r"--range must be two finite numbers lo < hi"),
])
def test_bad_arguments_are_clear_errors(argv, message, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(argv + ["--out", str(tmp_path / "x.png")]) == 2
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "x.png").exists()


def test_a_loss_without_a_curve_is_a_clear_error(monkeypatch, capsys):
    """A loss of another family, or of more arrays than a prediction and a target, is refused
    by name (none is registered yet: a stand-in of mse marked as a divergence)."""
    monkeypatch.setitem(REGISTRY, "stand_in", dataclasses.replace(REGISTRY["mse"],
                                                                   family="divergence"))
    assert main(["plot", "stand_in"]) == 2
    assert "stand_in (divergence, arrays pred, target) has no curve" in capsys.readouterr().err


def test_missing_matplotlib_is_a_clear_error(monkeypatch, tmp_path, capsys):
    for module in ("matplotlib", "matplotlib.figure"):
        monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    assert main(["plot", "mae", "--out", str(tmp_path / "x.png")]) == 2
    assert "fastloss plot needs matplotlib (pip install 'fastloss[plot]')" in capsys.readouterr().err
