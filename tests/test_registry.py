"""Every registered loss has every layer (adding a loss touches few places, and a test fails
when one is missing), its loss facts are well formed, and the docstrings run.

Layers: the public function (exported in ``fastloss.__all__``), the float64 reference and its
``_grad``, the math header ``cpp/include/fastloss/losses/<name>.h``, a documented public docstring
with a runnable example, and a benchmark row.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import re
from pathlib import Path

import numpy as np
import pytest

import fastloss
from fastloss import (_adversarial, _autodiff, _build, _classification, _likelihood,
                      _multilabel, _properties, _regression, reference)
from fastloss._gradient_buffers import KERNELS
from fastloss._registry import MEAN_COUNTS, REGISTRY, TOLERANCE, LossSpec, make_inputs

REPO_ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted(REGISTRY.values(), key=lambda s: s.name)
NAMES = [s.name for s in SPECS]


def _is_loss(obj) -> bool:
    """A public loss: a function taking the common `reduction` and `sample_weight` keywords, or
    the GAN discriminator (`reduction` over its real and fake outputs, no sample_weight)."""
    if not inspect.isfunction(obj):
        return False
    params = inspect.signature(obj).parameters
    pair = list(params)[:2] == ["real", "fake"]
    return "reduction" in params and ("sample_weight" in params or pair)


def test_repo_root_is_found():
    assert (REPO_ROOT / "python" / "fastloss" / "_registry.py").is_file(), REPO_ROOT
    assert (REPO_ROOT / "cpp" / "include" / "fastloss").is_dir(), REPO_ROOT


def test_registry_is_not_empty_and_keys_are_names():
    assert len(REGISTRY) >= 14
    for key, spec in REGISTRY.items():
        assert isinstance(spec, LossSpec)
        assert key == spec.name


def test_all_exported_losses_are_registered_and_vice_versa():
    exported_losses = {name for name in fastloss.__all__ if _is_loss(getattr(fastloss, name))}
    assert exported_losses == set(REGISTRY), (
        f"exported but not registered: {sorted(exported_losses - set(REGISTRY))}; "
        f"registered but not exported: {sorted(set(REGISTRY) - exported_losses)}")


def test_all_names_exist():
    missing = [name for name in fastloss.__all__ if not hasattr(fastloss, name)]
    assert not missing
    assert len(set(fastloss.__all__)) == len(fastloss.__all__)


@pytest.mark.parametrize("spec", SPECS, ids=NAMES)
def test_spec_fields(spec):
    assert getattr(fastloss, spec.name) is spec.fn
    assert spec.fn.__name__ == spec.name
    assert spec.family in ("regression", "classification", "likelihood", "divergence", "ranking",
                           "metric", "adversarial")
    assert spec.kind in ("pointwise", "row", "pair", "embedding")
    assert (spec.kind == "pair") <= (spec.family == "adversarial")
    assert (spec.kind == "embedding") <= (spec.family == "metric")
    assert isinstance(spec.variants, tuple) and spec.variants
    for dtype in (np.float32, np.float64):
        tol = spec.tol(dtype)
        assert set(tol) >= {"rtol", "atol"}
        # per-loss overrides may loosen, but never past float32 noise
        assert 0 < tol["rtol"] < 1e-2 and 0 <= tol["atol"] < 1e-2
        assert tol["rtol"] >= TOLERANCE[np.dtype(dtype)]["rtol"]


@pytest.mark.parametrize("spec", SPECS, ids=NAMES)
def test_loss_facts_are_well_formed(spec):
    assert spec.arrays == tuple(inspect.signature(spec.reference).parameters)[:len(spec.arrays)]
    # regression losses are functions of pred - target (margin_ranking of x1 - x2); the
    # divergences differentiate both logits arrays; the embedding losses every embedding array
    # (not a row label); the classification losses (and hinge_embedding) differentiate the first
    # input; the likelihoods the first and, where PyTorch does, the others
    from fastloss._dispatch import KERNELS
    if spec.kind == "embedding" and KERNELS[spec.name]["target"] == "centers":
        # (features, labels, centers): the labels between the two differentiable arrays
        assert spec.differentiable == (spec.arrays[0], spec.arrays[2])
        assert not spec.target_differentiable
    elif spec.kind == "embedding":
        assert spec.differentiable == spec.arrays[:KERNELS[spec.name]["inputs"]]
        assert spec.target_differentiable
    elif spec.family == "likelihood":
        assert spec.differentiable[:1] == spec.arrays[:1]
        assert set(spec.differentiable) <= set(spec.arrays)
    elif spec.family == "adversarial":  # every array is a discriminator output
        assert spec.differentiable == spec.arrays
        assert not spec.target_differentiable  # no target: a second output has its own pass
    else:
        # (the pairwise ranking hinge differentiates both scores; a listwise loss its scores)
        both = spec.family in ("regression", "divergence") or spec.name == "margin_ranking"
        expected = (("pred", "target") if spec.family == "regression"
                    else spec.arrays[:2] if both else spec.arrays[:1])
        assert spec.differentiable == expected
        assert spec.target_differentiable == both
    assert set(spec.domain) <= set(spec.arrays)
    assert all(lo < hi for lo, hi in spec.domain.values())
    assert spec.mean_count in MEAN_COUNTS
    assert spec.mean_count == "elements" or spec.kind == "row"
    assert spec.growth in ("linear", "quadratic")
    assert spec.kinks is None or callable(spec.kinks)
    assert spec.constant_minimiser is None or spec.family == "regression"


@pytest.mark.parametrize("spec", SPECS, ids=NAMES)
def test_samplers_respect_the_facts(spec):
    """Every variant's inputs lie in the domain, and the per-element facts have the loss shape."""
    rng = np.random.default_rng(1)
    for variant in spec.variants:
        args, kwargs = make_inputs(spec, variant, rng, (3, 4), np.float64)
        for argument, (lo, hi) in spec.domain.items():
            a = args[spec.arrays.index(argument)]
            assert np.all((a >= lo) & (a <= hi)), (argument, variant)
        if spec.kind == "pair":  # "none" is the pair of terms, each of its array's shape
            terms = spec.reference(*args, reduction="none", **kwargs)
            assert tuple(t.shape for t in terms) == tuple(np.shape(a) for a in args)
            assert spec.kinks is None and spec.mean_count == "elements"
            continue
        shape = spec.reference(*args, reduction="none", **kwargs).shape
        assert spec.loss_shape(args, kwargs) == shape
        assert spec.kink_distance(args, kwargs).shape == shape
        assert np.all(spec.kink_distance(args, kwargs) >= 0)
        n = spec.mean_normaliser(args, kwargs)
        assert n.shape == shape and np.all(n >= 0)


@pytest.mark.parametrize("spec", SPECS, ids=NAMES)
def test_reference_and_grad_exist(spec):
    assert callable(getattr(reference, spec.name, None)), f"reference.{spec.name} is missing"
    assert callable(getattr(reference, spec.name + "_grad", None)), \
        f"reference.{spec.name}_grad is missing"
    assert spec.reference is getattr(reference, spec.name)
    assert spec.reference_grad is getattr(reference, spec.name + "_grad")
    grad_params = inspect.signature(spec.reference_grad).parameters
    assert "grad_output" in grad_params
    assert grad_params["grad_output"].default is None
    assert grad_params["argnums"].default == 0


@pytest.mark.parametrize("spec", SPECS, ids=NAMES)
def test_reference_signature_matches_public(spec):
    """Same hyper-parameters, with the same defaults, in the reference and the public function."""
    public = inspect.signature(spec.fn).parameters
    ref = inspect.signature(spec.reference).parameters
    assert list(public) == list(ref)
    for name, p in public.items():
        assert ref[name].default == p.default, name
        assert ref[name].kind == p.kind, name


@pytest.mark.parametrize("spec", SPECS, ids=NAMES)
def test_math_header_exists(spec):
    if KERNELS.get(spec.name, {}).get("family") == "batch":  # an in-batch loss's math is its own driver
        driver = REPO_ROOT / "cpp" / "src" / "cpu" / f"{spec.name}.cc"
        assert driver.is_file(), f"{driver} does not exist"
        return
    header = REPO_ROOT / spec.header
    if not header.is_file() and spec.kind == "row":
        stems = [p for p in (REPO_ROOT / "cpp" / "include").rglob("*.h") if p.stem == spec.name]
        assert stems, f"no header with stem {spec.name!r} under cpp/include"
        header = stems[0]
    assert header.is_file(), f"{spec.header} does not exist under {REPO_ROOT}"
    text = header.read_text()
    assert "FL_HOST_DEVICE" in text, f"{header} has no FL_HOST_DEVICE code"


@pytest.mark.parametrize("spec", SPECS, ids=NAMES)
def test_public_docstring(spec):
    doc = inspect.getdoc(spec.fn)
    assert doc, f"fastloss.{spec.name} has no docstring"
    assert ">>>" in doc, f"fastloss.{spec.name}'s docstring has no runnable example"
    assert "Args" in doc or ".. math::" in doc, \
        f"fastloss.{spec.name}'s docstring has neither an Args section nor a math block"
    summary = doc.splitlines()[0]
    assert summary.strip() and len(summary) <= 100


@pytest.mark.parametrize("spec", SPECS, ids=NAMES)
def test_docstring_accuracy_comes_from_the_table(spec):
    """One accuracy paragraph, with the numbers of spec.tol (and the ulp promise, if any)."""
    doc = " ".join(inspect.getdoc(spec.fn).split())
    assert doc.count("Accuracy:") == 1, doc
    for dtype in (np.float32, np.float64):
        t = spec.tol(dtype)
        assert (f"{np.dtype(dtype).name} within {t['rtol']:g} relative (plus {t['atol']:g} of "
                f"the largest value)") in doc
    assert ("ulp" in doc) == (spec.elementwise_ulps is not None)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.elementwise_ulps is not None],
                         ids=lambda s: s.name)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_documented_ulp_promise_holds(spec, dtype):
    for variant in spec.variants:
        args, kwargs = make_inputs(spec, variant, np.random.default_rng(3), (64, 33), dtype)
        got = spec.fn(*args, reduction="none", **kwargs)
        ref64 = [np.asarray(a, np.float64) if np.asarray(a).dtype.kind == "f" else a
                 for a in args]
        want = spec.reference(*ref64, reduction="none", **kwargs)
        ulp = np.spacing(np.abs(want).astype(dtype)).astype(np.float64)
        err = np.abs(got.astype(np.float64) - want)
        promised = spec.elementwise_ulps[np.dtype(dtype).name]
        assert np.all(err <= promised * ulp), float(np.max(err / ulp))


_DEFAULT_RE = re.compile(r"^\s*(\w+):.*?\(default ([^;,)]+)")


@pytest.mark.parametrize("spec", SPECS, ids=NAMES)
def test_docstring_defaults_agree_with_signature(spec):
    """A '(default X)' in an argument's description matches the signature's default."""
    params = inspect.signature(spec.fn).parameters
    for line in inspect.getdoc(spec.fn).splitlines():
        m = _DEFAULT_RE.match(line)
        if not m:
            continue
        name, text = m.group(1), m.group(2).strip().rstrip(".")
        assert name in params, f"docstring documents {name!r}, not in the signature"
        default = params[name].default
        try:
            documented = type(default)(text) if default is not None else text
        except ValueError:
            documented = text
        assert documented == default, f"{name}: docstring says {text}, signature says {default!r}"


@pytest.mark.parametrize("spec", SPECS, ids=NAMES)
def test_every_variant_samples_and_runs(spec):
    rng = np.random.default_rng(0)
    shape = (3, 4)
    for variant in spec.variants:
        args, kwargs = make_inputs(spec, variant, rng, shape, np.float64)
        loss = spec.fn(*args, **kwargs)
        assert loss.shape == () and loss.dtype == np.float64
        assert np.isfinite(loss)
        expected = spec.reference(*args, **kwargs)
        assert abs(float(loss) - float(expected)) <= 1e-10 * max(1.0, abs(float(expected)))


def _bench_sources():
    """The benchmark's source files, or None when the benchmark is not written yet."""
    package = REPO_ROOT / "python" / "fastloss"
    candidates = [package / "bench", package / "bench.py"]
    files = []
    for c in candidates:
        if c.is_dir():
            files += sorted(p for p in c.rglob("*")
                            if p.suffix in (".py", ".toml", ".json", ".yaml", ".csv"))
        elif c.is_file():
            files.append(c)
    return files or None


def _bench_rows():
    """Row names of the installed benchmark (fastloss.bench.cases.all_cases), or None when the
    installed package has no benchmark (an older install of a checkout that has one)."""
    try:
        cases = importlib.import_module("fastloss.bench.cases")
    except ImportError:
        return None
    return {c.row for c in cases.all_cases(quick=True)}


@pytest.mark.parametrize("spec", SPECS, ids=NAMES)
def test_bench_row(spec):
    files = _bench_sources()
    if files is None:
        pytest.skip("python/fastloss/bench does not exist yet (being written): "
                    "no bench rows to check")
    rows = _bench_rows()
    if rows is not None:
        assert spec.name in rows, f"no bench row named {spec.name!r} (rows: {sorted(rows)})"
        return
    # Not installed yet: read the sources. A row is the loss's stem as a string, or a loop over
    # the registry that makes one row per loss; the quotes keep `mse` from matching elsewhere.
    text = "\n".join(p.read_text() for p in files)
    pattern = re.compile(r"[\"']" + re.escape(spec.name) + r"[\"']")
    registry_loop = re.search(r"for\s+\w+\s+in\s+[^\n]*REGISTRY", text)
    assert pattern.search(text) or registry_loop, f"no bench row for {spec.name!r}"


@pytest.mark.parametrize("module", [_regression, _classification, _likelihood, _multilabel,
                                    _adversarial, _autodiff, _build, _properties],
                         ids=lambda m: m.__name__)
def test_doctests(module):
    # Failures are printed to stdout, which pytest shows with the failing test.
    result = doctest.testmod(module, verbose=False, report=False,
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{module.__name__} has no doctest examples"
    assert result.failed == 0, (f"{result.failed} of {result.attempted} doctest examples failed in "
                                f"{module.__name__} (see the captured stdout)")


def test_every_registered_loss_has_framework_adapters():
    # New losses join fastloss.torch and fastloss.jax through the registry, not by hand.
    torch_adapter = pytest.importorskip("fastloss.torch")
    for name, spec in REGISTRY.items():
        assert name in torch_adapter.FOR_REGISTRY, f"fastloss.torch has no adapter for {name}"
        assert callable(getattr(torch_adapter, torch_adapter.FOR_REGISTRY[name]))
    jax_adapter = pytest.importorskip("fastloss.jax")
    for name in REGISTRY:
        assert callable(getattr(jax_adapter, name, None)), f"fastloss.jax has no {name}"


def test_named_tolerances_are_well_formed():
    named = {key: t for key, t in TOLERANCE.items() if isinstance(key, str)}
    assert named, "TOLERANCE has no named entries"
    for key, t in named.items():
        if "ulps" in t:
            assert set(t) == {"ulps"} and isinstance(t["ulps"], int) and t["ulps"] > 0, key
        else:
            assert set(t) == {"rtol", "atol"}, key
            assert 0 <= t["rtol"] < 1e-1 and 0 <= t["atol"] < 1e-1, key
            assert t["rtol"] > 0 or t["atol"] > 0, f"{key}: an exact check wants assert_bitwise"


# A tolerance written as a number at the call site: rtol= or atol= followed by a literal (also
# the start of "4 * np.finfo(dtype).eps" or "1e-15 * C"); a name or a table lookup passes.
_TOLERANCE_LITERAL = re.compile(r"\b[ra]tol\s*=\s*[-+]?\.?\d")
# Test files that still write such literals, with how many: another engineer is moving them to
# TOLERANCE. Each count is a ceiling, to be lowered as they go; delete an entry (the test says
# so) once its file has none left.
_TOLERANCE_LITERALS_ALLOWED: dict = {}


def test_tests_take_their_tolerances_from_the_table():
    """Numbers live in one tolerance table (fastloss._registry.TOLERANCE); a test names an entry
    (tests/helpers.py's tol or tolerance) instead of writing one."""
    tests_dir = REPO_ROOT / "tests"
    found = {}
    for path in sorted(tests_dir.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = [text.count("\n", 0, m.start()) + 1 for m in _TOLERANCE_LITERAL.finditer(text)]
        if lines:
            found[path.name] = lines
    over = {name: lines for name, lines in found.items()
            if len(lines) > _TOLERANCE_LITERALS_ALLOWED.get(name, 0)}
    assert not over, ("tolerance literals (use a TOLERANCE entry, adding a named one with a "
                      f"comment if none fits), by file and line: {over}")
    stale = sorted(set(_TOLERANCE_LITERALS_ALLOWED) - set(found))
    assert not stale, f"no tolerance literals left in {stale}: remove them from the allow-list"
