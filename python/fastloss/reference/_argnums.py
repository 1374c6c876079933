"""Which gradients a reference ``NAME_grad`` returns: ``argnums`` as in ``jax.grad``.

``argnums`` indexes the loss's array arguments (``pred, target`` or ``logits, target``, ...): an
int returns that argument's gradient, a tuple of ints a tuple of gradients in the same order.
Only some arguments have a gradient (class labels, for one, do not); asking for another one is
an error rather than a silent zero, so that a caller never mistakes "not differentiable" for
"does not matter".
"""

from __future__ import annotations

import numpy as np

from ._checks import _fail


def _select(name, arrays, argnums, gradients):
    """The gradients ``argnums`` asks for.

    name: the loss, for error messages; arrays: its array arguments in order, e.g.
    ``("pred", "target")``; gradients: ``{argument: gradient}`` for the differentiable ones.
    """
    single = not isinstance(argnums, tuple)
    picked = []
    for index in (argnums,) if single else argnums:
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
            _fail(name, f"argnums must be an int or a tuple of ints, got {argnums!r}")
        if not 0 <= index < len(arrays):
            _fail(name, f"argnums {int(index)} is out of range for the {len(arrays)} array "
                        f"arguments ({', '.join(arrays)})")
        argument = arrays[int(index)]
        if argument not in gradients:
            _fail(name, f"{argument} (argnums {int(index)}) is not differentiable; only "
                        f"{', '.join(gradients)} {'is' if len(gradients) == 1 else 'are'}")
        picked.append(gradients[argument])
    return picked[0] if single else tuple(picked)
