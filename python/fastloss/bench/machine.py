"""What the numbers were measured on: the CPU (model name and family/model numbers, since a VM
may report only "AMD EPYC"), the usable cores and the active fastloss kernel variant; and the one
label every table header and plot title carries, so that no number leaves without its machine."""

from __future__ import annotations

import os
import platform


def _cpuinfo() -> dict:
    """The first processor's fields of /proc/cpuinfo (empty where there is none)."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break  # end of the first processor's block
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def machine() -> dict:
    info = _cpuinfo()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {"cpu": info.get("model name") or platform.processor() or platform.machine(),
            "cpu_vendor": info.get("vendor_id"), "cpu_family": info.get("cpu family"),
            "cpu_model": info.get("model"), "cpu_stepping": info.get("stepping"),
            "cores": os.cpu_count(), "usable_cores": usable, "platform": platform.platform(),
            "python": platform.python_version()}


def cpu_label(m: dict) -> str:
    """'AMD EPYC (family 25, model 17)': the model name alone does not tell CPU generations apart
    on a VM that hides it."""
    numbers = [f"{k} {m[f'cpu_{k}']}" for k in ("family", "model") if m.get(f"cpu_{k}")]
    return m["cpu"] + (f" ({', '.join(numbers)})" if numbers else "")


def label(result: dict) -> str:
    """The machine and run line of every table header and plot title:
    'AMD EPYC (family 25, model 17) · fastloss avx512 · 2 threads' (+ ' · quick')."""
    text = (f"{cpu_label(result['machine'])} · fastloss {result['build_info']['isa']} · "
            f"{result['threads']} threads")
    return text + (" · quick (tiny sizes, numbers mean nothing)" if result["quick"] else "")
