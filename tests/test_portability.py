"""The stored notebook outputs come out the same on other numeric paths.

Readers run the notebooks on other CPUs (AVX2 or AVX-512, ARM), with other BLAS
kernels and thread counts, which change the last bits of floating-point results.
Every notebook is re-executed under each path below and compared with its stored
outputs exactly, as strict nbval does on the default path:

- an older CPU: numpy's SIMD dispatch switched off down to its baseline
  (``NPY_DISABLE_CPU_FEATURES`` naming every dispatch target this CPU has), as on a
  CPU without AVX2/AVX-512, together with another OpenBLAS kernel
  (``OPENBLAS_CORETYPE``): Haswell, the AVX2 kernel of most laptops, or SandyBridge
  where Haswell is already the default;
- one BLAS thread (``OPENBLAS_NUM_THREADS=1``), which changes how sums are split.

Before the runs, a check in a fresh interpreter confirms that each setting took
effect, so the test cannot pass by testing the default path again. The two paths
run side by side (one per core), which halves the wall time of this test.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow

PROBE = """
import json, threadpoolctl
from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
blas = [i for i in threadpoolctl.threadpool_info() if i["internal_api"] == "openblas"]
print(json.dumps({
    "simd": [f for f in __cpu_dispatch__ if __cpu_features__.get(f)],
    "blas_arch": blas[0].get("architecture") if blas else None,
    "blas_threads": blas[0]["num_threads"] if blas else None,
}))
"""


def probe(env: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env={**os.environ, **env}, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


DEFAULT = probe({})


def other_kernel() -> str:
    if platform.machine() in ("x86_64", "AMD64"):
        return "SandyBridge" if (DEFAULT["blas_arch"] or "").lower() == "haswell" else "Haswell"
    return "ARMV8"


PATHS = {
    "older-cpu": {
        "NPY_DISABLE_CPU_FEATURES": " ".join(DEFAULT["simd"]),
        "OPENBLAS_CORETYPE": other_kernel(),
    },
    "one-blas-thread": {"OPENBLAS_NUM_THREADS": "1"},
}


def took_effect(env: dict[str, str]) -> None:
    seen = probe(env)
    if "NPY_DISABLE_CPU_FEATURES" in env:
        assert DEFAULT["simd"], "numpy found no SIMD extension to switch off on this CPU"
        assert seen["simd"] == [], f"numpy still dispatches to {seen['simd']}"
    if "OPENBLAS_CORETYPE" in env:
        assert (seen["blas_arch"] or "").lower() == env["OPENBLAS_CORETYPE"].lower() != (
            DEFAULT["blas_arch"] or ""
        ).lower(), f"OpenBLAS kernel {seen['blas_arch']}, default {DEFAULT['blas_arch']}"
    if "OPENBLAS_NUM_THREADS" in env:
        assert seen["blas_threads"] == 1 != DEFAULT["blas_threads"], seen


def test_every_setting_is_checked():
    assert {key for env in PATHS.values() for key in env} == {
        "NPY_DISABLE_CPU_FEATURES", "OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS"}


def test_stored_outputs_survive_other_numeric_paths():
    for env in PATHS.values():
        took_effect(env)
    command = [sys.executable, "-m", "pytest", "intro.ipynb", "chapters", "-q",
               "-p", "no:cacheprovider", "-o", "console_output_style=classic"]
    runs = {
        name: subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for name, env in PATHS.items()
    }
    failures = []
    for name, run in runs.items():
        out, _ = run.communicate(timeout=1800)
        if run.returncode != 0:
            report = "\n".join(out.splitlines()[-80:])
            failures.append(f"strict nbval on the path {name} ({PATHS[name]}):\n{report}")
    assert not failures, "\n\n".join(failures)
