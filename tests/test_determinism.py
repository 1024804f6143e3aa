"""zoo.runner.determinism: the switches it turns on, checked in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, sys
import torch
from zoo.runner.determinism import set_determinism
settings = set_determinism(7, threads=1)
state = {"enabled": torch.are_deterministic_algorithms_enabled(),
         "warn_only": torch.is_deterministic_algorithms_warn_only_enabled(),
         "inductor_imported": "torch._inductor.config" in sys.modules,
         "threads": settings.threads, "first_draw": torch.rand(1).item()}
import torch._inductor.config as inductor_config  # what a later torch.compile would read
state["inductor_deterministic"] = inductor_config.deterministic
print(json.dumps(state))
"""


def _run(code: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "TORCHINDUCTOR_DETERMINISTIC"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_set_determinism_turns_on_torch_and_inductor_determinism_without_importing_inductor():
    state = _run(PROBE)
    assert state["enabled"] is True and state["warn_only"] is False
    assert state["inductor_imported"] is False  # the public call would import it (about 2 s)
    assert state["inductor_deterministic"] is True  # torch.compile after it stays deterministic
    assert state["threads"] == 1
    import torch

    torch.manual_seed(7)
    assert state["first_draw"] == torch.rand(1).item()


def test_set_determinism_after_inductor_was_imported_uses_the_public_switch():
    state = _run("import torch._inductor.config\n" + PROBE)
    assert state["enabled"] is True and state["inductor_deterministic"] is True
