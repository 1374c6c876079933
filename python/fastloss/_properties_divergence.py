"""``fastloss.properties`` entries of the divergences of two logits arrays (``_divergence.py``:
kl_divergence, js_divergence, distillation), in the table of ``_properties.py`` (see its module
doc). Stated as functions of the first logits array at a fixed second one.
"""

from __future__ import annotations

from ._properties import _flag, entry
from ._validate import in_unit_interval, non_negative, positive


def _pair(**facts):
    return dict(prediction="logits_pair", smooth=True, kinks=None, bounded_gradient=True,
                gradient_bound=None, lipschitz_gradient=True, lipschitz=None, robust=True,
                proper_scoring=None, nll_of=None, **facts)


@entry("kl_divergence", rows=True, temperature=(1.0, positive))
def _kl_divergence(p, classes):
    # KL(softmax(p/T) || softmax(q/T)) in p: 0 at p = q + const, but not convex in p (the
    # entropy term); its gradient is bounded (softmax differences, divided by T)
    return _pair(convex=False, minimiser=None, constant_minimiser=None,
                 notes="minimal (0) where softmax(p / T) = softmax(q / T)")


@entry("js_divergence", rows=True, beta=(0.5, in_unit_interval), temperature=(1.0, positive))
def _js_divergence(p, classes):
    return _pair(convex=False, minimiser=None, constant_minimiser=None,
                 notes="bounded by log 2 at beta = 1/2; 0 at beta 0 and 1")


@entry("distillation", rows=True, temperature=(2.0, positive), alpha=(0.5, non_negative),
       beta=(0.5, non_negative), t2_scale=(True, _flag))
def _distillation(p, classes):
    # alpha CE(labels, softmax(s)) + beta T^2 KL(softmax(t/T) || softmax(s/T)): in the
    # student's logits s the KL is a cross-entropy against the teacher's soft labels plus a
    # constant, so the sum is convex in s (as cross-entropy is)
    return _pair(convex=True, minimiser=None, constant_minimiser=None,
                 notes="convex in the student's logits, a sum of two cross-entropies; not in "
                       "the teacher's")
