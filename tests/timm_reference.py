"""Run inside a venv with timm (see tests/test_timm_parity.py): timm models with seeded random
weights, each written as a Hub-style repo by timm's own ``save_for_hf`` (``config.json`` +
``model.safetensors``), and their logits on a given preprocessed batch.

Usage: ``python timm_reference.py OUT_DIR INPUTS.npy ARCH[@SIZE] ...``; writes ``OUT_DIR/<arch>/``
per architecture and ``OUT_DIR/logits.npz`` (one array per architecture, float32). ``@SIZE`` sets
the input size recorded in the repo's ``pretrained_cfg`` (the model itself is timm's default).
Not a test module: it imports timm, which the project's own environment cannot.
"""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np
import timm
import torch
from timm.models._hub import save_for_hf


def randomize_norms(model: torch.nn.Module, generator: torch.Generator) -> None:
    """BatchNorm/LayerNorm affine parameters and running statistics away from their identity
    initialisation, so every tensor of the checkpoint changes the logits."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.BatchNorm2d, torch.nn.LayerNorm)):
                shape = module.weight.shape
                module.weight.copy_(torch.rand(shape, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(shape, generator=generator) * 0.1)
                if isinstance(module, torch.nn.BatchNorm2d):
                    module.running_mean.copy_(torch.randn(shape, generator=generator) * 0.1)
                    module.running_var.copy_(torch.rand(shape, generator=generator) + 0.5)


def main(out_dir: str, inputs_path: str, *archs: str) -> None:
    out = pathlib.Path(out_dir)
    inputs = torch.from_numpy(np.load(inputs_path)).float()
    logits: dict[str, np.ndarray] = {}
    for index, spec in enumerate(archs):
        arch, _, size = spec.partition("@")
        torch.manual_seed(index)
        model = timm.create_model(arch, pretrained=False).eval()
        randomize_norms(model, torch.Generator().manual_seed(1000 + index))
        data_config = timm.data.resolve_data_config({}, model=model)
        if size:
            data_config["input_size"] = (3, int(size), int(size))
        save_for_hf(model, str(out / arch), safe_serialization=True, data_config=data_config)
        with torch.no_grad():
            logits[arch] = model(inputs).numpy().astype(np.float32)
    np.savez(out / "logits.npz", **logits)
    versions = {"timm": timm.__version__, "torch": torch.__version__}
    (out / "versions.json").write_text(json.dumps(versions))


if __name__ == "__main__":
    main(*sys.argv[1:])
