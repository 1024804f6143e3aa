"""Built-in plugin: ``zoo convert``, a pickled checkpoint to a safetensors Hub-style repo.

Reads the checkpoint with ``torch.load(weights_only=True)`` only (see :mod:`zoo.convert`).
torch is imported when the command runs.
"""

from __future__ import annotations

import argparse
import json
import sys

from zoo._text import examples
from zoo.hookspecs import hookimpl

__all__ = ["register_commands"]


def _configure(p: argparse.ArgumentParser) -> None:
    p.epilog = examples("zoo convert resnet20-12fca82f.th out/resnet20 --preset resnet20-cifar10",
                        "zoo convert model.pth out/mine --config config.json --name my-net --repo-id me/my-net --json")
    p.add_argument("source", help="the pickled checkpoint (.pth/.th/.pt); read with torch.load(weights_only=True)")
    p.add_argument("out_dir", help="directory to write model.safetensors and config.json into")
    p.add_argument("--preset", help="a known source (sets config, key map, repo id): "
                                    "resnet20-cifar10 ... resnet56-cifar10, efficientnet-lite0, efficientnet-lite2")
    p.add_argument("--config", help="config.json to write (timm format; see zoo.models.vision), without --preset")
    p.add_argument("--key-map", default="identity", help="identity, akamaster or lukemelas (without --preset)")
    p.add_argument("--state-dict-key", help="the checkpoint's table holding the tensors (default: state_dict/model)")
    p.add_argument("--name", help="registry entry name to print (without --preset)")
    p.add_argument("--repo-id", help="repo id for the entry, e.g. me/my-resnet (without --preset)")
    p.add_argument("--license", default="unknown")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from zoo.convert import convert_checkpoint, registry_entry_toml
    from zoo.convert_presets import PRESETS
    from zoo.errors import ConfigError, did_you_mean

    if args.preset:
        if args.preset not in PRESETS:
            raise ConfigError(f"unknown preset {args.preset!r}.{did_you_mean(args.preset, list(PRESETS))} "
                              f"Known: {', '.join(PRESETS)}.")
        preset = PRESETS[args.preset]
        config, key_map, name, repo_id = preset.config(), preset.key_map, preset.name, preset.repo_id
        state_key, license, url, desc = preset.state_dict_key, preset.license, preset.source_url, preset.description
    else:
        if not (args.config and args.name and args.repo_id):
            raise ConfigError("without --preset, give --config CONFIG.json, --name and --repo-id.")
        config = json.loads(Path(args.config).read_text(encoding="utf-8"))
        key_map, name, repo_id, state_key = args.key_map, args.name, args.repo_id, args.state_dict_key
        license, url, desc = args.license, "", ""
    report = convert_checkpoint(Path(args.source), Path(args.out_dir), config=config, key_map=key_map,
                                state_dict_key=state_key)
    entry = registry_entry_toml(report, name=name, repo_id=repo_id, license=license, description=desc,
                                source_url=url, key_map=key_map)
    if args.json:
        json.dump({"out_dir": str(report.out_dir), "source": str(report.source),
                   "source_sha256": report.source_sha256, "files": report.files, "revision": report.revision,
                   "loaded": report.loaded, "filled": list(report.filled), "entry": entry}, sys.stdout, indent=2)
        print()
        return 0
    print(f"read {report.source} (sha256 {report.source_sha256}) with torch.load(weights_only=True)")
    print(f"loaded {report.loaded} tensors into {report.architecture}; "
          f"filled {len(report.filled)} BatchNorm num_batches_tracked counters with 0")
    for fname, sha in sorted(report.files.items()):
        print(f"wrote {report.out_dir / fname}  sha256 {sha}")
    print("\n# registry entry:\n" + entry)
    print(f"# place it in the Hub cache:\nzoo hub import {report.out_dir} --repo {repo_id} --revision {report.revision}")
    return 0


@hookimpl
def register_commands(register) -> None:
    register("convert", configure=_configure, run=_run,
             summary="Convert a pickled checkpoint to safetensors safely (weights_only) and print its registry entry.")
