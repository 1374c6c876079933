"""Benchmark cases: one row per registered loss (plus named extra shapes), their inputs, and the
bytes each kernel must move.

Row names are registry names (DESIGN.md principle 6: the bench row of ``huber`` is ``huber``);
an extra shape of a loss is ``<name>_<rows>x<classes>``. Inputs come from the registry's own
sampler with the loss's default hyper-parameters (``make_inputs(spec, {}, ...)``), so the bench
times the inputs the tests check.

Byte counts (the floor: every input read once, every output written once, nothing else):

* forward, ``reduction="mean"``: the nbytes of every input array (pred/logits and target).
  Pointwise float32: ``n * (4 + itemsize(target))`` = 8n for float targets, 12n for the int64
  {-1, +1} labels of hinge/squared_hinge. Rows: ``N*C*4 + N*8`` (logits + int64 labels).
* fused forward+backward (``value_and_grad``): the forward's bytes plus the gradient written,
  ``x.nbytes`` (4n, or ``N*C*4``).

The scalar loss, per-block partial sums, broadcast scalars (tau, pos_weight) and the
hyper-parameters are O(1) or O(n / 32768) and are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._registry import REGISTRY, LossSpec, make_inputs

POINTWISE_N = 1 << 24
POINTWISE_N_QUICK = 1 << 16

# Row shapes (rows, classes) per loss: default and --quick. cross_entropy gets a second, LLM-style
# row (few rows, a 128256-token vocabulary) that exercises wide rows that do not fit in L2.
# softmax_focal and multiclass_hinge use 16384 x 1000 (about 2^24 logits, like the pointwise
# arrays) rather than 4096 x 1000, so their arrays are as far out of cache as the others.
ROW_SHAPES = {
    "cross_entropy": ((4096, 32000), (64, 1000)),
    "softmax_focal": ((16384, 1000), (64, 1000)),
    "multiclass_hinge": ((16384, 1000), (64, 1000)),
    # A row costs (1 + 1) * K * C terms for K listed classes (the sampler lists C / 2 on
    # average): 64 classes, as multi-label tasks have tens of labels, not thousands.
    "multilabel_margin": ((4096, 64), (64, 64)),
    # a language model's vocabulary, at a quarter of the 4096 rows (each array still
    # 131 MB, far out of cache): the full shape's peers alone (the float64 NumPy reference, the
    # composed PyTorch divergences) would take this run past 10 minutes
    "kl_divergence": ((1024, 32000), (64, 1000)),
    "js_divergence": ((1024, 32000), (64, 1000)),
    "distillation": ((1024, 32000), (64, 1000)),
    # embeddings: rows of D features (a quarter of the 2^20 x 128 float32: 134 MB per
    # array, far out of cache)
    "contrastive": ((1 << 18, 128), (512, 128)),
    "cosine_embedding": ((1 << 18, 128), (512, 128)),
    "triplet": ((1 << 18, 128), (512, 128)),
    # in-batch: the N = 4096 pairs of D = 256 (4 N^2 D flops for the loss and both
    # gradients; the roofline column is memory traffic only, so the GEMM rate is the measure)
    "info_nce": ((4096, 256), (256, 64)),
    # center: a face-recognition batch (Wen et al.: 512-d features), 5 classes per the sampler;
    # 65536 rows so the features (134 MB) are far out of cache
    "center": ((1 << 16, 512), (512, 64)),
    # listwise ranking: the 4096 lists of 256 items
    "listnet": ((4096, 256), (64, 256)),
    "listmle": ((4096, 256), (64, 256)),
    # structured: the 4096 samples of 256 candidates (0/1 costs; a cost table below)
    "structured_hinge": ((4096, 256), (64, 256)),
}
DEFAULT_ROW_SHAPE = ((16384, 1000), (64, 1000))

# Extra rows: (row name, registry name, default shape, quick shape, variant). The quick shape
# keeps the 128256 classes (wide rows) with only 4 rows; the row name stays the same so that
# results of --quick and full runs line up. The structured hinge's second row has a (K, K) task
# loss table (256 KB, read in place, not counted in the traffic).
EXTRA_ROWS = (
    ("cross_entropy_256x128256", "cross_entropy", (256, 128256), (4, 128256), {}),
    ("structured_hinge_cost_table", "structured_hinge", (4096, 256), (64, 256),
     {"cost": "table", "cost_per_sample": False}),
)


@dataclass
class Case:
    row: str                 # bench row name (== registry name, or name_RxC for extra shapes)
    loss: str                # registry name
    spec: LossSpec
    shape: tuple
    dtype: np.dtype = field(default_factory=lambda: np.dtype(np.float32))
    variant: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.spec.kind

    def inputs(self, seed: int = 0, dtype=None):
        """(args, kwargs) from the registry sampler, C-contiguous, default hyper-parameters."""
        rng = np.random.default_rng([seed, *map(ord, self.row)])
        args, kwargs = make_inputs(self.spec, self.variant, rng, self.shape,
                                   np.dtype(dtype or self.dtype))
        args = tuple(np.ascontiguousarray(a) if isinstance(a, np.ndarray) else a for a in args)
        return args, kwargs

    def shape_str(self) -> str:
        return "x".join(str(s) for s in self.shape)


def all_cases(quick: bool) -> list[Case]:
    """Every registry loss (row name == registry name), then the extra shapes."""
    k = 1 if quick else 0
    cases = []
    for name in sorted(REGISTRY, key=lambda n: (REGISTRY[n].kind != "pointwise", n)):
        spec = REGISTRY[name]
        if spec.kind in ("pointwise", "pair"):  # pair: real of n, fake of n + 1 (its sampler)
            shape = ((POINTWISE_N_QUICK if quick else POINTWISE_N),)
        else:
            shape = ROW_SHAPES.get(name, DEFAULT_ROW_SHAPE)[k]
        cases.append(Case(name, name, spec, tuple(shape)))
    for row, loss, default_shape, quick_shape, variant in EXTRA_ROWS:
        if loss in REGISTRY:
            cases.append(Case(row, loss, REGISTRY[loss], quick_shape if quick else default_shape,
                              variant=variant))
    return cases


def array_args(args) -> list[np.ndarray]:
    return [a for a in args if isinstance(a, np.ndarray)]


def traffic(args, grads: tuple = (0,)) -> dict:
    """The explicit byte count of a case (see the module docstring); `grads`: the positions of
    the arrays that get a gradient (the GAN discriminator's real and fake: (0, 1)).

    Returns {"reads": [(what, nbytes)], "forward": bytes, "fused": bytes}."""
    arrays = array_args(args)
    names = ["x", "target"] + [f"arg{i}" for i in range(2, len(arrays))]
    if len(arrays) == 1:
        names = ["x"]  # no target (the GAN generator)
    reads = [(f"{n} {a.dtype} {'x'.join(map(str, a.shape))}", int(a.nbytes))
             for n, a in zip(names, arrays)]
    forward = sum(b for _, b in reads)
    written = sum(int(arrays[i].nbytes) for i in grads)
    return {"reads": reads, "grad_write": written, "forward": forward,
            "fused": forward + written}


def stream_reads(args) -> tuple[list[np.ndarray], int]:
    """float32 arrays for the roofline stream with the case's read traffic.

    The stream takes float32 arrays of one length n (the element count of x). float32 inputs of
    n elements are passed as they are (the same memory). An input of another dtype whose size is
    a multiple of 4n bytes (the int64 hinge labels: 8n bytes) is stood in for by that many bytes
    of float32 ones in fresh arrays: the same traffic, without reinterpreting integer bits as
    floats (denormals and NaNs could slow the stream's adds). Inputs too small for that (the N
    int64 labels of a row loss, 0.03% of the logits' bytes at C = 32000) are left out; the count
    of left-out bytes is returned.
    """
    arrays = array_args(args)
    n = arrays[0].size
    reads, left_out = [], 0
    for a in arrays:
        if a.dtype == np.float32 and a.size == n and a.flags.c_contiguous:
            reads.append(a)
        elif n and a.nbytes % (4 * n) == 0:
            reads += [np.ones(n, np.float32) for _ in range(a.nbytes // (4 * n))]
        else:
            left_out += int(a.nbytes)
    return reads, left_out
