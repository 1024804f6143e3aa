"""Built-in plugin: the registry and Hub commands (`list`, `info`, `pull`, `verify`, `hub`, `embed`).

Nothing here imports torch at module level: `zoo --help` and `zoo list` stay fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from zoo._text import examples, text_table
from zoo.hookspecs import hookimpl

__all__ = ["register_commands"]


def _human(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.0f}K"


# --- zoo list -----------------------------------------------------------------------------


def _configure_list(p: argparse.ArgumentParser) -> None:
    p.epilog = examples("zoo list", "zoo list '*minilm*' --verified", "zoo list --modality text --json")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style name pattern, e.g. '*minilm*'")
    p.add_argument("--modality", choices=["text", "image"])
    p.add_argument("--license")
    p.add_argument("--architecture")
    p.add_argument("--tag")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--verified", action="store_true", default=None, help="only entries with verified hashes")
    g.add_argument("--tofu", action="store_true", help="only trust-on-first-use entries")
    p.add_argument("--json", action="store_true", help="print JSON (indented on a terminal)")


def _run_list(args: argparse.Namespace) -> int:
    from zoo.config import settings
    from zoo.registry import get_registry, list_backbones

    verified = True if args.verified else (False if args.tofu else None)
    names = list_backbones(args.pattern, modality=args.modality, license=args.license,
                           architecture=args.architecture, tag=args.tag, verified=verified)
    registry = get_registry()  # one look-up, not one per name
    entries = [registry.entries[n] for n in names]
    hf_cache = settings().hf_cache  # read once: a registry may hold 50,000 entries
    try:
        repos = set(os.listdir(hf_cache))  # one directory read, not a stat per entry
    except OSError:
        repos = set()
    cached = {e.name: _cached(e, hf_cache, repos) for e in entries}
    if args.json:
        rows = [{**e.to_dict(), "cached": cached[e.name]} for e in entries]
        # indented for a person; compact when piped (json's indenting encoder is pure Python)
        print(json.dumps(rows, indent=2 if sys.stdout.isatty() else None))
        return 0
    rows = [[e.name, e.modality, e.architecture, _human(e.num_params), str(e.embedding_dim), e.license,
             e.integrity, cached[e.name], e.repo_id] for e in entries]
    print(text_table(["name", "modality", "arch", "params", "dim", "license", "integrity", "cached", "repo"], rows))
    return 0


def _cached(entry, hf_cache, repos: set[str]) -> str:
    """``yes``, ``partial`` or ``no``: whether the entry's files are in the Hub cache (not re-hashed:
    `zoo verify`). ``repos``: the names in the cache folder."""
    from zoo.hub.importer import repo_folder_name

    repo = repo_folder_name(entry.repo_id)
    if repo not in repos:  # never pulled: most of a large registry
        return "no"
    snapshot = os.path.join(hf_cache, repo, "snapshots", entry.revision)
    if not os.path.isdir(snapshot):
        return "no"
    present = sum(os.path.isfile(os.path.join(snapshot, f.filename)) for f in entry.files)
    return "yes" if present == len(entry.files) else ("partial" if present else "no")


# --- zoo info -----------------------------------------------------------------------------


def _configure_info(p: argparse.ArgumentParser) -> None:
    p.epilog = examples("zoo info all-minilm-l6-v2", "zoo info bge-small-en-v1.5 --json")
    p.add_argument("name", help="backbone name (see `zoo list`)")
    p.add_argument("--json", action="store_true", help="print JSON")


def _run_info(args: argparse.Namespace) -> int:
    from zoo.registry import backbone_info

    e = backbone_info(args.name)
    if args.json:
        print(json.dumps(e.to_dict(), indent=2))
        return 0
    print(f"{e.name}  ({e.modality}, {e.architecture}, {_human(e.num_params)} params, {e.embedding_dim}-d, {e.license})")
    if e.description:
        print(f"  {e.description}")
    print(f"  repo:      {e.repo_id}")
    print(f"  revision:  {e.revision}")
    print(f"  integrity: {e.integrity}" + ("  (hashes recorded in the lock file on first download)"
                                          if e.integrity == "tofu" else ""))
    print(f"  pooling:   {e.pooling}{', normalized' if e.normalize else ''}")
    inp = {k: v for k, v in e.to_dict()["input"].items()}
    print(f"  input:     {inp}")
    print(f"  source:    {e.source}")
    print("  files:")
    for f in e.files:
        print(f"    {f.filename:<28} {f.sha256 or 'tofu'}")
    if e.references:
        print("  published results:")
        for r in e.references:
            print(f"    {r.task}: {r.metric} {r.value}  [{r.protocol}]\n      source: {r.source}")
    return 0


# --- zoo pull / verify --------------------------------------------------------------------


def _configure_pull(p: argparse.ArgumentParser) -> None:
    p.epilog = examples("zoo pull all-minilm-l6-v2", "zoo pull --all --json")
    p.add_argument("names", nargs="*", help="backbone names")
    p.add_argument("--all", action="store_true", help="every registered backbone")
    p.add_argument("--json", action="store_true", help="print what was downloaded and verified as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bars or lines")


def _entries(args: argparse.Namespace):
    from zoo.registry import backbone_info, get_registry

    if getattr(args, "all", False) or not args.names:
        return list(get_registry())
    return [backbone_info(n) for n in args.names]


def _run_pull(args: argparse.Namespace) -> int:
    from zoo.hub import resolve

    if not args.names and not args.all:
        print("zoo pull: error: name at least one backbone, or --all", file=sys.stderr)
        return 2
    from zoo._progress import progress

    if args.quiet:  # the Hub's own download bars too
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    report = []
    for e in progress(_entries(args), desc="pull", unit="backbone"):
        r = resolve(e)
        report.append({"name": e.name, "repo_id": e.repo_id, "revision": e.revision, "snapshot_dir": str(r.snapshot_dir),
                       "downloaded": list(r.downloaded), "sha256": dict(r.sha256), "recorded": list(r.recorded)})
        if args.json:
            continue
        what = f"downloaded {len(r.downloaded)} file(s)" if r.downloaded else "already cached"
        print(f"{e.name}: {e.repo_id}@{e.revision} {what}, {len(r.sha256)} file(s) verified")
        for name in r.recorded:
            print(f"  recorded {name} sha256 {r.sha256[name]} in the lock file (trust on first use)")
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


def _configure_verify(p: argparse.ArgumentParser) -> None:
    p.epilog = examples("zoo verify", "zoo verify all-minilm-l6-v2 --json")
    p.add_argument("names", nargs="*", help="backbone names (default: every registered backbone)")
    p.add_argument("--json", action="store_true", help="print JSON")


def _run_verify(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from zoo.config import settings
    from zoo.hub import LockFile, verify_cached

    s = settings()
    checks = verify_cached(_entries(args), cache_dir=s.hf_cache, lock=LockFile(s.lockfile))
    if args.json:
        print(json.dumps([asdict(c) for c in checks], indent=2))
    else:
        for c in checks:
            line = f"{c.status.upper():<9} {c.backbone}: {c.filename}"
            if c.status == "mismatch":
                line += f"\n          expected {c.expected}\n          actual   {c.actual}\n          at {c.path}"
            print(line)
    bad = [c for c in checks if c.status == "mismatch"]
    if bad:
        print(f"zoo verify: error: {len(bad)} file(s) do not match their pinned sha256; run `zoo pull` again.",
              file=sys.stderr)
    return 1 if bad else 0


# --- zoo hub import -----------------------------------------------------------------------


def _configure_hub(p: argparse.ArgumentParser) -> None:
    p.epilog = examples("zoo hub import ./all-MiniLM-L6-v2 all-minilm-l6-v2",
                        "zoo hub import ./files --repo ORG/NAME --revision COMMIT40HEX --json")
    sub = p.add_subparsers(dest="hub_command", metavar="ACTION", required=True)
    imp = sub.add_parser("import", help="place a local directory of repo files into the Hub cache",
                         formatter_class=argparse.RawDescriptionHelpFormatter,
                         description="Copy DIR into the standard Hub cache as REPO@REVISION, checked "
                                     "against the registry's hashes (air-gapped set-up). Name a registry "
                                     "entry to take its repo and revision, or give --repo and --revision.",
                         epilog=examples("zoo hub import ./all-MiniLM-L6-v2 all-minilm-l6-v2",
                                         "zoo hub import ./files --repo ORG/NAME --revision COMMIT40HEX"))
    imp.add_argument("dir", help="directory holding the repo's files")
    imp.add_argument("name", nargs="?", help="registry entry whose repo and revision the files are (see `zoo list`)")
    imp.add_argument("--repo", help="Hub repo id, e.g. sentence-transformers/all-MiniLM-L6-v2 (default: NAME's)")
    imp.add_argument("--revision", help="the full 40-hex commit the files come from (default: NAME's)")
    imp.add_argument("--files", nargs="*", help="only these files (default: the registry entry's files)")
    imp.add_argument("--json", action="store_true", help="print what was imported as JSON")


def _run_hub(args: argparse.Namespace) -> int:
    from zoo.config import settings
    from zoo.hub import LockFile, import_directory
    from zoo.registry import backbone_info, get_registry

    s = settings()
    if args.name:
        entry = backbone_info(args.name)
        for option, given, own in (("--repo", args.repo, entry.repo_id), ("--revision", args.revision, entry.revision)):
            if given is not None and given != own:
                print(f"zoo hub import: error: {option} {given} differs from entry {entry.name!r}'s {own}; "
                      "give the entry's name alone, or --repo and --revision without a name.", file=sys.stderr)
                return 2
        repo, revision = entry.repo_id, entry.revision
    elif args.repo and args.revision:
        repo, revision = args.repo, args.revision
        entry = next((e for e in get_registry() if e.repo_id == repo and e.revision == revision), None)
    else:
        print("zoo hub import: error: name a registry entry (`zoo hub import DIR NAME`) or give both --repo and "
              "--revision.", file=sys.stderr)
        return 2
    report = import_directory(args.dir, repo_id=repo, revision=revision, cache_dir=s.hf_cache,
                              lock=LockFile(s.lockfile), entry=entry, files=args.files)
    if args.json:
        print(json.dumps({"repo_id": report.repo_id, "revision": report.revision,
                          "snapshot_dir": str(report.snapshot_dir), "sha256": dict(report.sha256),
                          "checked_against": report.checked_against}, indent=2))
        return 0
    print(f"imported {len(report.sha256)} file(s) of {report.repo_id}@{report.revision} into {report.snapshot_dir}")
    print(f"checked against: {report.checked_against}")
    return 0


# --- zoo embed ----------------------------------------------------------------------------


def _configure_embed(p: argparse.ArgumentParser) -> None:
    p.epilog = examples('zoo embed all-minilm-l6-v2 "I lost my card" "How do I top up?"',
                        'zoo embed all-minilm-l6-v2 "hello" --json',
                        'zoo embed runs/RUN_ID/model.onnx "I lost my card"')
    p.add_argument("name", help="backbone name, or an ONNX file written by `zoo export --format onnx`")
    p.add_argument("texts", nargs="+", help="sentences to embed")
    p.add_argument("--device", default="cpu", help="'auto', 'cpu', 'cuda', 'cuda:N' or 'mps' (default: cpu)")
    p.add_argument("--dims", type=int, default=6, help="how many leading dimensions to print")
    p.add_argument("--json", action="store_true", help="print the full vectors and the verified files as JSON")


def _run_embed(args: argparse.Namespace) -> int:
    import zoo

    if args.dims < 0:
        print(f"zoo embed: error: --dims {args.dims}: give 0 or more dimensions to print.", file=sys.stderr)
        return 2
    if args.name.endswith(".onnx"):
        from zoo.onnxgraph import OnnxModel

        onnx_model = OnnxModel(args.name)
        source = json.loads(onnx_model.metadata.get("zoo.source", "{}"))
        emb = onnx_model.encode(list(args.texts))
        described = {"onnx": args.name, "backbone": source.get("backbone"), "revision": source.get("revision"),
                     "run_id": source.get("run_id")}
        header = [f"ONNX file {args.name}: {source.get('backbone', '?')} @ {source.get('revision', '?')} "
                  f"(ONNX Runtime, CPU)"]
    else:
        model = zoo.load_backbone(args.name, device=args.device)
        r = model.resolved
        emb = model.encode(list(args.texts))
        described = {"backbone": r.entry.name, "repo_id": r.repo_id, "revision": r.revision,
                     "sha256": {f.filename: r.sha256[f.filename] for f in r.entry.weights_files}}
        header = [f"backbone {r.entry.name}: {r.repo_id} @ {r.revision}"]
        header += [f"  {f.filename} sha256 {r.sha256[f.filename]} (verified)" for f in r.entry.weights_files]
    if args.json:
        print(json.dumps({**described, "embeddings": [{"text": t, "vector": [float(x) for x in vec]}
                                                      for t, vec in zip(args.texts, emb)]}, indent=2))
        return 0
    print("\n".join(header))
    for text, vec in zip(args.texts, emb):
        head = ", ".join(f"{x:+.4f}" for x in vec[: args.dims])
        print(f"  [{head}, ...] ({len(vec)}-d, norm {float((vec ** 2).sum() ** 0.5):.3f})  {text!r}")
    return 0


@hookimpl
def register_commands(register) -> None:
    register("list", configure=_configure_list, run=_run_list, summary="List registered backbones.")
    register("info", configure=_configure_info, run=_run_info, summary="Show one backbone's registry entry.")
    register("pull", configure=_configure_pull, run=_run_pull, summary="Download and verify backbones.")
    register("verify", configure=_configure_verify, run=_run_verify,
             summary="Re-hash cached files against the registry and lock file.")
    register("hub", configure=_configure_hub, run=_run_hub, summary="Hub cache tools: `zoo hub import DIR`.")
    register("embed", configure=_configure_embed, run=_run_embed,
             summary="Embed sentences with a backbone and print the vectors.")
