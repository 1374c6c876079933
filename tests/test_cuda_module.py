"""The CUDA seam without a GPU: fastloss._cuda is built wherever nvcc is (it compiles every loss
table entry as device code), registers its backend with fastloss._core at import, and answers
honestly where there is no driver or device."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import fastloss
from fastloss import _core
from fastloss._registry import REGISTRY

NVCC = shutil.which("nvcc")


@pytest.mark.skipif(NVCC is None, reason="no CUDA compiler here: the CUDA module is not built")
def test_the_cuda_module_is_built_where_nvcc_is():
    assert fastloss.cuda.is_built()
    assert fastloss.build_info()["cuda"] is True


def test_availability_follows_the_runtime():
    assert fastloss.cuda.is_available() == (fastloss.cuda.device_count() > 0)
    if not fastloss.cuda.is_built():
        assert fastloss.cuda.device_count() == 0 and _core.backends() == {}


@pytest.mark.skipif(not fastloss.cuda.is_built(), reason="built without CUDA")
def test_the_backend_is_registered_with_core():
    assert _core.backends() == {"cuda": fastloss.cuda.device_count()}


@pytest.mark.skipif(not fastloss.cuda.is_built(), reason="built without CUDA")
def test_registering_the_backend_again_is_harmless():
    _core.register_backend(fastloss.cuda._cuda.backend())
    assert list(_core.backends()) == ["cuda"]


def test_register_backend_refuses_another_capsule():
    import ctypes

    capsule = ctypes.pythonapi.PyCapsule_New
    capsule.restype, capsule.argtypes = ctypes.py_object, [ctypes.c_void_p, ctypes.c_char_p,
                                                          ctypes.c_void_p]
    buffer = ctypes.create_string_buffer(64)
    with pytest.raises(ValueError, match=r"\[fastloss.register_backend\] expected a fastloss"):
        _core.register_backend(capsule(ctypes.addressof(buffer), b"something.else", None))


@pytest.mark.skipif(not fastloss.cuda.is_built(), reason="built without CUDA")
@pytest.mark.parametrize("name", sorted(_core.kernels()))
def test_cuda_arrays_get_an_error_naming_the_kernel(name):
    from fake_device import FakeCudaArray  # host memory that says it is on cuda:0

    facts = _core.kernels()[name]
    x = FakeCudaArray(np.zeros((2, 3), np.float32))
    if facts["target"] in ("sparse", "sparse_cost", "centers"):
        y = FakeCudaArray(np.zeros(2, np.int64))
    elif facts["target"] == "label":
        y = FakeCudaArray(np.ones((2, 3), np.float32))
    elif facts["target"] == "index_list":  # each row's class indices, ended by -1
        y = FakeCudaArray(np.array([[0, -1, 0], [2, 1, -1]], np.int64))
    else:
        y = FakeCudaArray(np.zeros((2, 3), np.float32))
    stem = facts["stem"]
    fn = getattr(fastloss, stem)
    kwargs = {}
    if name.startswith("multiclass_hinge"):
        kwargs["kind"] = name[len("multiclass_hinge_"):]
    # (gaussian_nll's var; distillation's labels, one class index per row; contrastive's
    # similar and cosine_embedding's target, one label per row)
    more = [FakeCudaArray(np.ones(2, np.int64) if a in ("labels", "similar", "target")
                          else np.ones((2, 3), np.float32))
            for a in REGISTRY[stem].arrays[2:]]
    with pytest.raises(ValueError, match=rf"\[fastloss.{stem}\] .*no CUDA kernel for this loss "
                                         rf"\({name}\)"):
        fn(*(x, y, *more)[:len(REGISTRY[stem].arrays)], **kwargs)  # (the GAN generator: one)


_DRIVER_ON_WITHOUT_A_DEVICE = """
import numpy as np, fastloss
from fake_device import FakeCudaArray
x = FakeCudaArray(np.zeros(5, np.float32))
try:
    fastloss.mse(x, x)
except ValueError as e:
    print(e)
else:
    print("no error")
"""


@pytest.mark.skipif(not fastloss.cuda.is_built(), reason="built without CUDA")
@pytest.mark.skipif(fastloss.cuda.is_available(), reason="a CUDA device is here")
def test_the_driver_turned_on_without_a_device_is_a_clear_error():
    """FASTLOSS_CUDA_UNVERIFIED=1 (read once per process: a subprocess) lets a pointwise request
    reach the CUDA driver, which without a device answers with the runtime's reason as a
    ValueError naming the loss, not a crash."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = dict(os.environ, FASTLOSS_CUDA_UNVERIFIED="1",
               PYTHONPATH=os.pathsep.join([str(Path(__file__).parent),
                                           os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", _DRIVER_ON_WITHOUT_A_DEVICE], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("[fastloss.mse] CUDA: "), out.stdout
