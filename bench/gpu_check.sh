#!/usr/bin/env bash
# The CUDA driver's check on a machine with an NVIDIA GPU, in one command from the repository
# root: bash bench/gpu_check.sh
#
# 1. Builds fastloss_gpu_check (CMake + nvcc, no Python needed) for the GPU found and runs it:
#    every pointwise kernel the driver runs against the CPU driver (values, gradients, first
#    invalid element, reduced value), two device runs bit for bit equal, a strided case, then
#    fused forward + backward timings at 2^26 elements against the device's copy bandwidth.
# 2. Where Python has fastloss's build requirements and a library with CUDA arrays (PyTorch with
#    CUDA, or CuPy), installs fastloss and runs tests/test_cuda_pointwise.py (the Python path:
#    DLPack in, the caller's arrays out) with the driver turned on.
# Exit status: non-zero if the build or any check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${FASTLOSS_GPU_BUILD:-/tmp/fastloss-gpu-build}"
arch="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d .)"
echo "== GPU: $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo unknown)"
echo "== CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DFASTLOSS_PYTHON=OFF -DFASTLOSS_CUDA=ON \
  -DFASTLOSS_BUILD_GPU_CHECK=ON -DCMAKE_CUDA_ARCHITECTURES="${arch:-90}" >/dev/null
cmake --build "$build" --target fastloss_gpu_check -j "$(nproc)" >/dev/null
"$build/cuda/fastloss_gpu_check"

if python3 -c 'import numpy, pytest, pybind11, scikit_build_core' 2>/dev/null && {
     python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null ||
     python3 -c 'import cupy; assert cupy.cuda.runtime.getDeviceCount() > 0' 2>/dev/null; }; then
  python3 -m pip install -q --no-build-isolation --no-deps . -C cmake.define.FASTLOSS_CUDA=ON
  FASTLOSS_CUDA_UNVERIFIED=1 python3 -m pytest -q -p no:cacheprovider tests/test_cuda_pointwise.py
else
  echo "== skipped the Python path: no numpy/pytest/pybind11/scikit-build-core, or no library"
  echo "   with CUDA arrays (PyTorch with CUDA, CuPy) in python3"
fi
