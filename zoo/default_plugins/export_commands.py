"""Built-in plugin: models that leave the zoo, ``export``, ``push`` and ``predict``.

Nothing here imports torch, onnx or huggingface_hub at module level: the CLI's start-up stays fast.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from zoo._text import examples
from zoo.hookspecs import hookimpl

__all__ = ["register_commands"]


# --- zoo export ---------------------------------------------------------------------------


def _configure_export(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", nargs="?", help="a finished run directory (omit with --backbone)")
    p.add_argument("output", nargs="?", help="onnx: the .onnx file (default RUN_DIR/model.onnx or NAME.onnx); "
                                             "hub: the directory to write (required)")
    p.add_argument("--format", required=True, choices=["onnx", "hub"], help="deployment target")
    p.add_argument("--backbone", metavar="NAME", help="export a registered backbone without a head (onnx only)")
    p.add_argument("--max-seq-length", type=int, help="with --backbone: truncate inputs to this many tokens")
    p.add_argument("--check-texts", metavar="FILE", help="onnx: check against torch on these texts (one per line; "
                                                        "default: 500 test sentences of the run)")
    p.add_argument("--tolerance", type=float, default=1e-4, help="onnx: largest allowed |torch - ONNX Runtime|")
    p.add_argument("--name", help="hub: registry entry name (default: the recipe's name)")
    p.add_argument("--license", help="hub: licence of the exported weights (default: the backbone's)")
    p.add_argument("--overwrite", action="store_true", help="hub: write into a directory that holds files")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.epilog = examples("zoo export runs/RUN_ID --format onnx",
                        "zoo export --backbone all-minilm-l6-v2 --format onnx minilm.onnx",
                        "zoo export runs/RUN_ID exported/banking-head --format hub --name banking-minilm")


def _run_export(args: argparse.Namespace) -> int:
    from zoo.errors import ExportError

    if args.format == "onnx":
        from zoo.export.targets import export_backbone_onnx, export_run_onnx, read_texts

        texts = read_texts(args.check_texts) if args.check_texts else None
        if args.backbone:
            if args.run_dir and args.output:
                raise ExportError("give --backbone NAME or a run directory, not both.")
            result = export_backbone_onnx(args.backbone, args.output or args.run_dir, check_texts=texts,
                                          max_seq_length=args.max_seq_length, tolerance=args.tolerance)
        else:
            if not args.run_dir:
                raise ExportError("name a run directory, or a backbone with --backbone NAME.")
            result = export_run_onnx(args.run_dir, args.output, check_texts=texts, tolerance=args.tolerance)
        if args.json:
            print(json.dumps(result.to_dict(), indent=2))
            return 0
        p = result.parity
        print(f"wrote {result.path} ({result.size_bytes / 1e6:.1f} MB)")
        logits = f", logits {p.logits:.2e}" if p.logits is not None else ""
        print(f"  checked against torch on {p.n} {result.texts_from}: max |difference| embeddings "
              f"{p.embeddings:.2e}{logits} (tolerance {args.tolerance:g})")
        print(f"  run it: zoo embed {result.path} \"some text\"" + (f"; zoo predict {result.path} \"some text\""
                                                                    if p.logits is not None else ""))
        return 0
    if args.backbone:
        raise ExportError("--format hub exports a run directory (a backbone with a trained head).")
    if not args.run_dir or not args.output:
        raise ExportError("--format hub needs RUN_DIR and the output DIR: zoo export RUN_DIR DIR --format hub")
    from zoo.export.hub import export_hub

    hub = export_hub(args.run_dir, args.output, name=args.name, license=args.license, overwrite=args.overwrite)
    if args.json:
        print(json.dumps(hub.to_dict(), indent=2))
        return 0
    print(f"wrote {len(hub.files)} file(s) of {hub.name!r} to {hub.path}")
    for filename, sha in hub.files.items():
        print(f"  {filename:<28} {sha}")
    print(f"  registry entry (with lineage): {hub.entry_file}")
    print(f"  upload it: zoo push {hub.path} --repo ORG/NAME")
    return 0


# --- zoo push -----------------------------------------------------------------------------


def _configure_push(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", help="a directory written by `zoo export --format hub`")
    p.add_argument("--repo", required=True, help="Hub repo id, e.g. my-org/banking77-minilm")
    p.add_argument("--registry", metavar="FILE", help="also write the completed registry entry to FILE")
    p.add_argument("--private", action="store_true", help="create the repo as private")
    p.add_argument("--message", help="commit message")
    p.epilog = examples("zoo push exported/banking-head --repo my-org/banking-minilm --registry my-registry.toml")
    p.add_argument("--json", action="store_true", help="print JSON")


def _run_push(args: argparse.Namespace) -> int:
    from zoo.export.hub import push

    result = push(args.dir, args.repo, private=args.private, registry=args.registry, message=args.message)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    print(f"pushed {len(result.files)} file(s) to {result.endpoint}/{result.repo_id} at commit {result.revision}")
    print(f"  registry entry {result.name!r}: {result.entry_file}")
    print(f"  use it: export ZOO_REGISTRY={result.entry_file}; zoo predict {result.name} \"some text\"")
    return 0


# --- zoo predict --------------------------------------------------------------------------


def _configure_predict(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="an exported .onnx file, a run directory, or the registry name of a pushed export")
    p.add_argument("texts", nargs="+", help="texts to classify")
    p.add_argument("--threads", type=int, help="ONNX Runtime intra-op threads (default: its own choice)")
    p.epilog = examples('zoo predict runs/RUN_ID/model.onnx "I lost my card"', 'zoo predict runs/RUN_ID "I lost my card"',
                        'zoo predict banking-minilm "I lost my card" --json')
    p.add_argument("--json", action="store_true", help="print JSON")


def _run_predict(args: argparse.Namespace) -> int:
    import numpy as np

    model = args.model
    if model.endswith(".onnx") or Path(model).is_file():
        from zoo.onnxgraph import OnnxModel

        onnx_model = OnnxModel(model, threads=args.threads)
        if not onnx_model.has_head:
            from zoo.errors import ExportError

            raise ExportError("this graph has no head (a bare backbone export); use `zoo embed` on it.", path=model)
        logits, labels = onnx_model.logits(args.texts), onnx_model.label_names
    elif Path(model).is_dir():
        from zoo.export.hub import Classifier
        from zoo.export.source import load_run_model, read_run

        src = read_run(model)
        clf = Classifier(load_run_model(src), src.label_names)
        logits, labels = clf.logits(args.texts), clf.label_names
    else:
        from zoo.export.hub import load_classifier

        clf = load_classifier(model)
        logits, labels = clf.logits(args.texts), clf.label_names
    z = np.asarray(logits, dtype=np.float64)
    prob = np.exp(z - z.max(1, keepdims=True))
    prob /= prob.sum(1, keepdims=True)
    rows = [{"text": t, "label": labels[int(k)], "probability": float(prob[i, k])}
            for i, (t, k) in enumerate(zip(args.texts, prob.argmax(1)))]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        print(f"{row['label']:<32} {row['probability']:.3f}  {row['text']!r}")
    return 0


@hookimpl
def register_commands(register) -> None:
    register("export", configure=_configure_export, run=_run_export,
             summary="Export a run (or a backbone) to an ONNX file or a Hub repository directory with lineage.")
    register("push", configure=_configure_push, run=_run_push,
             summary="Upload a `zoo export --format hub` directory to the Hub and complete its registry entry.")
    register("predict", configure=_configure_predict, run=_run_predict,
             summary="Classify texts with an exported ONNX file, a run directory or a pushed export.")
