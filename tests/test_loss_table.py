"""The C++ loss table (cpp/include/fastloss/losses.def, as _core.kernels() exposes it) and the
Python registry name the same losses, both ways, and agree on their facts; the layers the table
feeds keep to their seams."""

from __future__ import annotations

import re
from pathlib import Path

import fastloss
from fastloss import _core
from fastloss._registry import REGISTRY

REPO_ROOT = Path(__file__).resolve().parents[1]
KERNELS = _core.kernels()
# The registry's kinds and the table's families.
# (kind "pair", the GAN discriminator, runs one pointwise kernel over each of its arrays)
FAMILY = {"pointwise": "pointwise", "row": "row", "pair": "pointwise", "embedding": "embedding"}


def test_every_kernel_belongs_to_a_registered_loss():
    orphans = {name for name, facts in KERNELS.items() if facts["stem"] not in REGISTRY}
    assert not orphans, f"kernels without a registry entry: {sorted(orphans)}"


def test_every_registered_loss_has_a_kernel_of_its_kind():
    for name, spec in REGISTRY.items():
        families = {facts["family"] for facts in KERNELS.values() if facts["stem"] == name}
        # an in-batch loss (FL_BATCH) is called like an embedding loss, with a driver of its own
        allowed = ({"embedding"}, {"batch"}) if spec.kind == "embedding" else ({FAMILY[spec.kind]},)
        assert families in allowed, f"{name}: kernels of families {families}"


def test_the_table_and_the_registry_agree_on_the_target_gradient():
    for name, facts in KERNELS.items():
        spec = REGISTRY[facts["stem"]]
        assert facts["target_differentiable"] == spec.target_differentiable, name


def test_kernel_ids_are_the_table_order():
    assert sorted(facts["id"] for facts in KERNELS.values()) == list(range(len(KERNELS)))
    table = (REPO_ROOT / "cpp/include/fastloss/losses.def").read_text()
    listed = re.findall(r"^FL_(?:POINTWISE|ROW|EMBEDDING|BATCH)\((\w+),", table, flags=re.M)
    assert listed == sorted(KERNELS, key=lambda k: KERNELS[k]["id"])


def test_every_kernel_has_its_math_header():
    for facts in KERNELS.values():
        if facts["family"] == "batch":  # its math is its driver, cpp/src/cpu/<name>.cc
            assert (REPO_ROOT / f"cpp/src/cpu/{facts['stem']}.cc").is_file(), facts
            continue
        assert (REPO_ROOT / f"cpp/include/fastloss/losses/{facts['stem']}.h").is_file(), facts


def test_the_public_names_come_from_the_family_modules():
    losses = {name for name in fastloss.__all__ if name in REGISTRY}
    assert losses == set(REGISTRY)
    for name in REGISTRY:
        assert {name, name + "_grad"} <= set(fastloss.reference.__all__), name


def test_nothing_outside_the_cpu_backend_includes_a_cpu_header():
    offenders = []
    for folder in ("cpp", "bindings", "cuda", "bench"):
        for path in (REPO_ROOT / folder).rglob("*"):
            if path.suffix not in {".h", ".cc", ".cpp", ".cu", ".cuh"}:
                continue
            if path.is_relative_to(REPO_ROOT / "cpp/src/cpu"):
                continue
            if re.search(r'#include "cpu/', path.read_text()):
                offenders.append(str(path.relative_to(REPO_ROOT)))
    assert not offenders, offenders


def test_no_layer_outside_the_table_lists_the_kernels_by_hand():
    # Drivers, bindings, the device check and the CPU tables expand losses.def; a loss's name in
    # them would be a second list that the next loss could miss.
    seams = ["cpp/src/ops.cc", "cpp/src/cpu/elementwise.cc", "cpp/src/cpu/rowwise.cc",
             "cpp/src/cpu/embedding.cc", "cpp/src/cpu/elementwise_kernels.cc",
             "cpp/src/cpu/rowwise_kernels.cc", "cpp/src/cpu/embedding_kernels.cc",
             "bindings/module.cpp", "bindings/small_call.cc", "cuda/device_check.cu",
             "cuda/backend.cc"]
    for seam in seams:
        text = re.sub(r"//.*", "", (REPO_ROOT / seam).read_text())  # comments may give examples
        named = [k for k in KERNELS if re.search(rf"\b{k}\b", text)]
        assert not named, f"{seam} names {named}"


def test_python_files_stay_small():
    # One job per file: a file past this size is a family or role that wants its own module.
    limit = 400
    big = {str(p.relative_to(REPO_ROOT)): n for p in (REPO_ROOT / "python").rglob("*.py")
           if (n := len(p.read_text().splitlines())) > limit}
    assert not big, f"files over {limit} lines: {big}"
