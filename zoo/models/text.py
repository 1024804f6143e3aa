"""Sentence embeddings from a BERT snapshot: tokenizer + :class:`BertModel` + pooling.

:func:`build_text_encoder` reads a Hugging Face / sentence-transformers snapshot directory
(``config.json``, ``tokenizer.json``, ``model.safetensors`` and, when present,
``modules.json``, ``sentence_bert_config.json`` and the pooling module's ``config.json``) and
returns a :class:`TextEncoder` whose ``encode`` matches ``SentenceTransformer.encode``.
Explicit arguments win over what the snapshot's files declare.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.contracts import LayerGroup
from zoo._paths import repo_name_problem
from zoo.errors import ArchitectureError
from zoo.models.bert import BertConfig, BertModel, Packing, _attention_mask, hf_key_map, parameter_shapes
from zoo.weights import LoadReport, load_into

__all__ = ["POOLING_MODES", "TextEncoder", "build_text_encoder", "read_snapshot_settings"]

#: Pooling modes, and the sentence-transformers ``1_Pooling/config.json`` flag of each.
POOLING_MODES = {"mean": "pooling_mode_mean_tokens", "cls": "pooling_mode_cls_token", "max": "pooling_mode_max_tokens"}


# --- pooling ------------------------------------------------------------------------------


def _pool(features: Tensor, attention_mask: Tensor, mode: str) -> Tensor:
    """(B, T, H) token features -> (B, H), ignoring positions where ``attention_mask`` is 0."""
    if mode == "cls":
        return features[:, 0]
    mask = attention_mask.unsqueeze(-1).to(features.dtype)
    if mode == "mean":
        return (features * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    if mode == "max":
        return features.masked_fill(mask == 0, -1e9).amax(1)
    raise ArchitectureError(f"unknown pooling {mode!r}; use one of {sorted(POOLING_MODES)}.")


def _pool_packed(features: Tensor, packing: Packing, mode: str) -> Tensor:
    """Packed ``(N, H)`` token features -> ``(sequences, H)``; each run of equal lengths at once."""
    pooled = []
    for seg in packing.segments(features):  # (count, length, H): no padding inside
        if mode == "cls":
            pooled.append(seg[:, 0])
        elif mode == "mean":
            pooled.append(seg.mean(1))
        elif mode == "max":
            pooled.append(seg.amax(1))
        else:
            raise ArchitectureError(f"unknown pooling {mode!r}; use one of {sorted(POOLING_MODES)}.")
    return pooled[0] if len(pooled) == 1 else torch.cat(pooled)


# --- the encoder --------------------------------------------------------------------------

_TOKENIZE_CHUNK = 4096  # texts tokenized per call when encoding (bounds the tokenizer's transient memory)


class TextEncoder(nn.Module):
    """Texts -> fixed-size embeddings: tokenizer, BERT encoder, pooling, optional L2 norm.

    Implements :class:`zoo.contracts.Backbone` (``modality = "text"``). Build it with
    :func:`build_text_encoder`. ``load_report`` holds the :class:`~zoo.weights.LoadReport` of the
    weights it was built from (None otherwise).
    """

    modality = "text"

    def __init__(
        self,
        tokenizer: Any,
        model: BertModel,
        *,
        pooling: str = "mean",
        normalize: bool = False,
        max_seq_length: int = 256,
        do_lower_case: bool = False,
        text_prefix: str = "",
    ):
        super().__init__()
        if pooling not in POOLING_MODES:
            raise ArchitectureError(f"unknown pooling {pooling!r}; use one of {sorted(POOLING_MODES)}.")
        if not 1 < max_seq_length <= model.config.max_position_embeddings:
            raise ArchitectureError(
                f"max_seq_length {max_seq_length} must be between 2 and the model's max_position_embeddings "
                f"{model.config.max_position_embeddings}."
            )
        self.tokenizer = tokenizer
        self.model = model
        self._pooling, self._normalize = pooling, bool(normalize)
        self._max_seq_length, self._do_lower_case = int(max_seq_length), bool(do_lower_case)
        self.text_prefix = text_prefix  # e.g. E5's "query: ", prepended to every input text
        self.load_report: LoadReport | None = None
        self.packed = True  # encode() packs each batch's tokens without padding (False: padded batches)
        _configure_tokenizer(tokenizer, self._max_seq_length, model.config.pad_token_id)

    # properties ---------------------------------------------------------------------------

    @property
    def embedding_dim(self) -> int:
        return self.model.config.hidden_size

    @property
    def max_seq_length(self) -> int:
        return self._max_seq_length

    @property
    def pooling(self) -> str:
        return self._pooling

    @property
    def normalize(self) -> bool:
        return self._normalize

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    # steps --------------------------------------------------------------------------------

    def tokenize(self, texts: Sequence[str]) -> dict[str, Tensor]:
        """Token ids, attention mask and token type ids, padded to the longest text (int64)."""
        encodings = self.tokenizer.encode_batch(self._prepare(texts))
        return {
            "input_ids": torch.tensor([e.ids for e in encodings], dtype=torch.long),
            "attention_mask": torch.tensor([e.attention_mask for e in encodings], dtype=torch.long),
            "token_type_ids": torch.tensor([e.type_ids for e in encodings], dtype=torch.long),
        }

    def token_features(
        self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None = None
    ) -> Tensor:
        """Token features ``(B, T, H)`` (the encoder's last hidden states)."""
        return self.model(input_ids, attention_mask, token_type_ids)

    # the Backbone contract ------------------------------------------------------------------

    def preprocess(self, inputs: Sequence[str]) -> dict[str, Tensor]:
        """Texts -> one tokenized batch on this encoder's device."""
        return {k: v.to(self.device) for k, v in self.tokenize(list(inputs)).items()}

    def forward_features(self, batch: dict[str, Tensor]) -> Tensor:
        """Pooled embeddings ``(B, H)`` of a batch from :meth:`preprocess`."""
        return self(**batch)

    def preprocessing(self) -> dict[str, Any]:
        """What turns a text into features besides the weights (feature-cache key, run record)."""
        return {"max_seq_length": self._max_seq_length, "pooling": self._pooling, "normalize": self._normalize,
                "do_lower_case": self._do_lower_case, "text_prefix": str(self.text_prefix or ""), "dtype": "float32"}

    def group_matcher(self) -> list[LayerGroup]:
        """The embeddings, then each encoder layer, in order (parameter names as in ``named_parameters``)."""
        return [LayerGroup(g.name, tuple(f"model.{n}" for n in g.params)) for g in self.model.group_matcher()]

    def set_max_seq_length(self, max_seq_length: int) -> None:
        """Truncate inputs to ``max_seq_length`` tokens (at most the model's position embeddings)."""
        limit = self.model.config.max_position_embeddings
        if not 1 < max_seq_length <= limit:
            raise ArchitectureError(f"max_seq_length {max_seq_length} must be between 2 and {limit}.")
        _configure_tokenizer(self.tokenizer, max_seq_length, self.model.config.pad_token_id)
        self._max_seq_length = int(max_seq_length)

    # a frozen prefix computed once (used by fine-tuning when the first layers are frozen) ---------

    def prefix_states(self, inputs: Sequence[str], k: int, *, batch_size: int = 64) -> list[Tensor]:
        """Each text's hidden states after the embeddings and the first ``k`` layers, ``(T_i, H)``.

        Computed in eval mode (no dropout: the layers are frozen) and without padding positions.
        """
        texts = list(inputs)
        out: list[Tensor | None] = [None] * len(texts)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                for start in range(0, len(texts), batch_size):
                    idx = order[start:start + batch_size]
                    tok = self.preprocess([texts[i] for i in idx])
                    mask = _attention_mask(tok["attention_mask"])
                    h = self.model.embeddings(tok["input_ids"], tok["token_type_ids"])
                    for layer in self.model.encoder.layer[:k]:
                        h = layer(h, mask)
                    lengths = tok["attention_mask"].sum(1).tolist()
                    for row, i in enumerate(idx):
                        out[i] = h[row, : lengths[row]].detach().clone()
        finally:
            self.train(was_training)
        return out  # type: ignore[return-value]

    def features_from_prefix(self, states: list[Tensor], k: int) -> Tensor:
        """Pooled features from :meth:`prefix_states`: the remaining layers, pooling, normalization."""
        from torch.nn.utils.rnn import pad_sequence

        h = pad_sequence(states, batch_first=True)
        lengths = torch.tensor([len(s) for s in states], device=h.device)
        attention = (torch.arange(h.shape[1], device=h.device)[None, :] < lengths[:, None]).long()
        mask = _attention_mask(attention)
        for layer in self.model.encoder.layer[k:]:
            h = layer(h, mask)
        pooled = self.pool(h, attention)
        return F.normalize(pooled, p=2, dim=1) if self._normalize else pooled

    def pool(self, features: Tensor, attention_mask: Tensor) -> Tensor:
        """``(B, T, H)`` -> ``(B, H)`` with this encoder's pooling; padding is ignored."""
        return _pool(features, attention_mask, self._pooling)

    def forward(self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None = None) -> Tensor:
        """Pooled embeddings ``(B, H)``, L2-normalized when the encoder declares it."""
        pooled = self.pool(self.token_features(input_ids, attention_mask, token_type_ids), attention_mask)
        return F.normalize(pooled, p=2, dim=1) if self._normalize else pooled

    def encode(
        self,
        texts: str | Sequence[str],
        *,
        batch_size: int = 32,
        normalize: bool | None = None,
        device: str | torch.device | None = None,
        show_progress: bool = False,
        convert_to_numpy: bool = True,
    ) -> np.ndarray | Tensor:
        """Embed ``texts`` in inference mode; float32 ``(N, H)``, or ``(H,)`` for a single string.

        Texts are batched by token count, longest first, and returned in input order; each batch
        runs packed, without padding tokens (:meth:`BertModel.packed_hidden`), unless
        ``self.packed`` is False or the model is not the plain BERT encoder.
        ``normalize=None`` follows the encoder's own setting. ``device`` moves the encoder
        there first. With ``convert_to_numpy=False`` a CPU tensor is returned.
        """
        single = isinstance(texts, str)
        items = [texts] if single else list(texts)
        _check_texts(items, batch_size)
        if device is not None:
            self.to(device)
        normalize = self._normalize if normalize is None else normalize
        out = self._encode_sorted(items, batch_size, normalize, show_progress)
        if single:
            out = out[0]
        return out.numpy() if convert_to_numpy else out

    # internals ----------------------------------------------------------------------------

    def _prepare(self, texts: Sequence[str]) -> list[str]:
        texts = [self.text_prefix + t for t in texts] if self.text_prefix else list(texts)
        return [t.lower() for t in texts] if self._do_lower_case else texts

    def _packable(self) -> bool:
        """Whether ``encode`` may run packed batches: the plain BERT path, not an overridden one."""
        return (self.packed and isinstance(self.model, BertModel) and type(self).token_features is TextEncoder.token_features
                and all(hasattr(layer.attention.self, "packed") for layer in self.model.encoder.layer))

    def _token_ids(self, items: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every text's token ids and type ids without padding, end to end, and each text's length."""
        if getattr(self, "_unpadded", None) is None:
            from tokenizers import Tokenizer

            self._unpadded = Tokenizer.from_str(self.tokenizer.to_str())  # same vocabulary and truncation
            self._unpadded.no_padding()
        ids: list[np.ndarray] = []
        types: list[np.ndarray] = []
        lengths = np.empty(len(items), dtype=np.int64)
        for start in range(0, len(items), _TOKENIZE_CHUNK):
            encodings = self._unpadded.encode_batch(self._prepare(items[start : start + _TOKENIZE_CHUNK]))
            for i, e in enumerate(encodings, start):
                ids.append(np.asarray(e.ids, dtype=np.int64))
                types.append(np.asarray(e.type_ids, dtype=np.int64))
                lengths[i] = len(e.ids)
        return np.concatenate(ids), np.concatenate(types), lengths

    def _encode_sorted(self, items: list[str], batch_size: int, normalize: bool, progress: bool) -> Tensor:
        result = torch.empty(len(items), self.embedding_dim, dtype=torch.float32)
        packed = self._packable() and bool(items)
        if packed:  # sort by token count: a batch's sequences then have (nearly) one length
            ids, types, lengths = self._token_ids(items)
            offsets = np.concatenate([[0], np.cumsum(lengths)])
            order = np.argsort(-lengths, kind="stable")
        else:
            order = np.argsort([-len(t) for t in items], kind="stable")
        was_training = self.training
        self.eval()
        try:
            with torch.inference_mode():
                for start in _progress(range(0, len(items), batch_size), progress):
                    idx = order[start : start + batch_size]
                    if packed:
                        take = np.concatenate([np.arange(offsets[i], offsets[i + 1]) for i in idx])
                        out = self._embed_packed(ids[take], types[take], lengths[idx], normalize)
                    else:
                        out = self._embed_batch([items[i] for i in idx], normalize)
                    result[torch.from_numpy(idx)] = out
        finally:
            self.train(was_training)
        return result

    def _embed_packed(self, ids: np.ndarray, types: np.ndarray, lengths: np.ndarray, normalize: bool) -> Tensor:
        device = self.device
        packing = Packing.of(lengths.tolist(), device)
        features = self.model.packed_hidden(torch.from_numpy(ids).to(device), packing,
                                            torch.from_numpy(types).to(device))
        pooled = _pool_packed(features, packing, self._pooling)
        if normalize:
            pooled = F.normalize(pooled, p=2, dim=1)
        return pooled.float().cpu()

    def _embed_batch(self, texts: list[str], normalize: bool) -> Tensor:
        batch = self.preprocess(texts)
        features = self.token_features(**batch)
        pooled = self.pool(features, batch["attention_mask"])
        if normalize:
            pooled = F.normalize(pooled, p=2, dim=1)
        return pooled.float().cpu()


def _check_texts(items: list[Any], batch_size: int) -> None:
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    bad = next((i for i, t in enumerate(items) if not isinstance(t, str)), None)
    if bad is not None:
        raise TypeError(f"encode takes strings; item {bad} is {type(items[bad]).__name__}.")


def _progress(batches: range, enabled: bool) -> Any:
    """``show_progress=True`` forces a bar; otherwise the command's setting decides (see zoo._progress)."""
    from .._progress import progress

    return progress(batches, desc="encode", unit="batch", enabled=True if enabled else None)


def _configure_tokenizer(tokenizer: Any, max_seq_length: int, pad_token_id: int) -> None:
    """Drop fixed-length settings baked into tokenizer.json; truncate to max_seq_length, pad to longest."""
    padding = tokenizer.padding or {}
    pad_id = padding.get("pad_id", pad_token_id)
    pad_token = padding.get("pad_token") or tokenizer.id_to_token(pad_id) or "[PAD]"
    tokenizer.no_padding()
    tokenizer.no_truncation()
    tokenizer.enable_truncation(max_length=max_seq_length)
    tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token, pad_type_id=padding.get("pad_type_id", 0))


# --- reading a snapshot -------------------------------------------------------------------
#
# A snapshot's files are read through ``files``: with a registry entry, only the files it lists
# (and so hashes) are visible; a file the entry does not list is treated as absent even when
# something put it into the cache folder. Without ``files`` (a directory given by hand), every
# file under ``snapshot_dir`` is.

_INT_KEYS = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
             "max_position_embeddings", "type_vocab_size", "pad_token_id")
_FLOAT_KEYS = ("layer_norm_eps", "hidden_dropout_prob", "attention_probs_dropout_prob", "initializer_range")


def _snapshot_file(snapshot_dir: Path, name: str, files: Mapping[str, Path] | None) -> Path | None:
    """``name`` in the snapshot, or None when it is absent (or, with ``files``, not listed)."""
    if files is not None:
        return files.get(name)
    path = snapshot_dir / name
    return path if path.is_file() else None


def _read_json(path: Path, expected: type | None = None) -> Any:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArchitectureError(f"{path} is not valid JSON: {exc}") from None
    if expected is not None and not isinstance(data, expected):
        what = {dict: "a JSON object", list: "a JSON array"}[expected]
        raise ArchitectureError(f"{path} holds {type(data).__name__} {str(data)[:60]!r}, not {what}; use the file "
                                f"that belongs to the model's repo.")
    return data


def _require(snapshot_dir: Path, name: str, files: Mapping[str, Path] | None = None) -> Path:
    path = _snapshot_file(snapshot_dir, name, files)
    if path is None and files is not None:
        raise ArchitectureError(f"the registry entry does not list {name}, which a BERT text backbone needs "
                                f"(with config.json, tokenizer.json and the weights). Add it to the entry's "
                                f"`files` with its sha256.")
    if path is None:
        raise FileNotFoundError(f"snapshot {snapshot_dir} has no {name}; is it a BERT model snapshot?")
    return path


def _pooling_from_config(path: Path) -> str:
    cfg = _read_json(path, dict)
    declared = [mode for mode, flag in POOLING_MODES.items() if cfg.get(flag)]
    others = [k for k, v in cfg.items() if k.startswith("pooling_mode") and v and k not in POOLING_MODES.values()]
    if len(declared) != 1 or others:
        raise ArchitectureError(
            f"{path} declares pooling {declared + others}; zoo supports exactly one of {sorted(POOLING_MODES)}."
        )
    return declared[0]


def _module_config_name(modules_path: Path, module: Any) -> str:
    """The repo file name of a modules.json entry's ``config.json``."""
    folder = module.get("path", "") if isinstance(module, dict) else None
    name = f"{folder.strip('/')}/config.json" if isinstance(folder, str) and folder.strip("/") else "config.json"
    problem = repo_name_problem(name) if isinstance(folder, str) else "is not a string"
    if problem is not None:
        raise ArchitectureError(f"{modules_path}: module path {folder!r} {problem}; a module lives in a folder of "
                                f"the repo.")
    return name


def read_snapshot_settings(snapshot_dir: Path, *, files: Mapping[str, Path] | None = None) -> dict[str, Any]:
    """What the snapshot's sentence-transformers files declare.

    Returns ``pooling`` (default ``"mean"``), ``normalize`` (a Normalize module is listed),
    ``max_seq_length`` (None when undeclared) and ``do_lower_case``. With ``files`` (repo file
    name -> path, e.g. the verified files of a registry entry) only those files are read.

    Raises:
        ArchitectureError: a file is not valid JSON of the expected shape, or names a module
            outside the snapshot or a pooling zoo does not support.
    """
    snapshot_dir = Path(snapshot_dir)
    settings: dict[str, Any] = {"pooling": "mean", "normalize": False, "max_seq_length": None, "do_lower_case": False}
    modules_path = _snapshot_file(snapshot_dir, "modules.json", files)
    modules = _read_json(modules_path, list) if modules_path is not None else []
    for module in modules:
        if not isinstance(module, dict):
            raise ArchitectureError(f"{modules_path}: every module is a JSON object, got {module!r}.")
        kind = str(module.get("type", ""))
        if kind.endswith(".Pooling"):
            name = _module_config_name(modules_path, module)
            path = _snapshot_file(snapshot_dir, name, files)
            if path is None:
                raise ArchitectureError(f"{modules_path} names a Pooling module whose {name} is "
                                        f"{'not listed in the registry entry' if files is not None else 'missing'}; "
                                        f"add it (with its sha256) or drop modules.json from the entry.")
            settings["pooling"] = _pooling_from_config(path)
        elif kind.endswith(".Normalize"):
            settings["normalize"] = True
    sbert_path = _snapshot_file(snapshot_dir, "sentence_bert_config.json", files)
    if sbert_path is not None:
        sbert = _read_json(sbert_path, dict)
        settings["max_seq_length"] = sbert.get("max_seq_length")
        settings["do_lower_case"] = bool(sbert.get("do_lower_case", False))
        if settings["max_seq_length"] is not None and not _positive_int(settings["max_seq_length"]):
            raise ArchitectureError(f"{sbert_path}: max_seq_length {settings['max_seq_length']!r} is not a "
                                    f"positive integer.")
    return settings


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _default_max_seq_length(snapshot_dir: Path, config: BertConfig, files: Mapping[str, Path] | None = None) -> int:
    path = _snapshot_file(snapshot_dir, "tokenizer_config.json", files)
    declared = _read_json(path, dict).get("model_max_length") if path is not None else None
    limit = config.max_position_embeddings
    return min(int(declared), limit) if isinstance(declared, (int, float)) and 0 < declared < limit else limit


def _read_config(path: Path) -> BertConfig:
    """``config.json`` as a :class:`BertConfig`, every value checked before anything is built."""
    raw = _read_json(path, dict)
    for key in _INT_KEYS:
        value = raw.get(key)
        if value is not None and not (isinstance(value, int) and not isinstance(value, bool)
                                      and (value > 0 or (key == "pad_token_id" and value >= 0))):
            raise ArchitectureError(f"{path}: {key} = {value!r} is not a positive integer; use the config.json "
                                    f"that belongs to the weights.")
    for key in _FLOAT_KEYS:
        value = raw.get(key)
        if value is not None and not (isinstance(value, (int, float)) and not isinstance(value, bool)
                                      and math.isfinite(value) and value >= 0):
            raise ArchitectureError(f"{path}: {key} = {value!r} is not a non-negative number.")
    if not isinstance(raw.get("hidden_act", "gelu"), str):
        raise ArchitectureError(f"{path}: hidden_act = {raw['hidden_act']!r} is not a string.")
    heads, hidden = raw.get("num_attention_heads"), raw.get("hidden_size")
    if heads is not None and hidden is not None and hidden % heads:
        raise ArchitectureError(f"{path}: hidden_size {hidden} is not a multiple of num_attention_heads {heads}.")
    try:
        return BertConfig.from_hf_config(raw)
    except ArchitectureError as exc:
        raise ArchitectureError(f"{path}: {exc}") from None


def _check_config_fits_weights(config: BertConfig, config_path: Path, weights: Path) -> None:
    """Compare the shapes ``config`` implies with the weights file's header, allocating nothing."""
    from zoo.weights import read_safetensors_header

    header = read_safetensors_header(weights)
    expected = parameter_shapes(config)
    bad = []
    for key, (_, shape) in header.items():
        name = hf_key_map(key)
        if name in expected and expected[name] != shape:
            bad.append(f"{name}: config.json implies {expected[name]}, the weights hold {shape}")
    if bad:
        settings = ", ".join(f"{k}={getattr(config, k)}" for k in ("vocab_size", "hidden_size", "intermediate_size",
                                                                     "max_position_embeddings"))
        raise ArchitectureError(f"{config_path} ({settings}) does not fit {weights}: {'; '.join(bad[:3])}. Use the "
                                f"config.json that belongs to these weights.")


def _read_tokenizer(path: Path, config: BertConfig) -> Any:
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # the tokenizers library raises bare Exceptions
        raise ArchitectureError(f"{path} is not a tokenizer.json the tokenizers library can read ({exc}); use the "
                                f"file that belongs to the model's repo.") from None
    if tokenizer.get_vocab_size() > config.vocab_size:
        raise ArchitectureError(f"{path} has {tokenizer.get_vocab_size()} tokens but config.json's vocab_size is "
                                f"{config.vocab_size}; the tokenizer does not belong to this model.")
    return tokenizer


def _load_encoder_weights(model: BertModel, weights: Path) -> LoadReport:
    """Load weights; every encoder tensor must match (pooler tensors may be missing/unexpected)."""
    report = load_into(model, weights, key_map=hf_key_map)
    bad = [k for k in report.missing + report.unexpected if not k.startswith("pooler.")]
    if bad:
        raise ArchitectureError(
            f"{weights} does not fit the BERT encoder of its config.json: "
            f"missing {[k for k in report.missing if k in bad]}, unexpected {[k for k in report.unexpected if k in bad]}."
        )
    return report


def _first_set(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def build_text_encoder(
    snapshot_dir: Path,
    *,
    weights_file: str = "model.safetensors",
    pooling: str | None = None,
    normalize: bool | None = None,
    max_seq_length: int | None = None,
    text_prefix: str = "",
    device: str | torch.device = "cpu",
    files: Mapping[str, Path] | None = None,
) -> TextEncoder:
    """Build a :class:`TextEncoder` in eval mode from a snapshot directory.

    ``pooling``, ``normalize`` and ``max_seq_length`` override what the snapshot declares;
    ``text_prefix`` is prepended to every text (models such as E5 expect ``"query: "``).
    ``files`` (repo file name -> path, e.g. a registry entry's verified files) restricts what
    is read to those files: anything else in the folder is ignored.

    Raises:
        FileNotFoundError: ``config.json``, ``tokenizer.json`` or the weights file is absent.
        ArchitectureError: the config is not a supported BERT or has impossible values, the
            tokenizer or the weights do not fit it, a needed file is not in ``files``, or the
            declared pooling is not supported.
        WeightsFormatError: the weights file is not safetensors.
    """
    snapshot_dir = Path(snapshot_dir)
    config_path = _require(snapshot_dir, "config.json", files)
    config = _read_config(config_path)
    weights = _require(snapshot_dir, weights_file, files)
    _check_config_fits_weights(config, config_path, weights)
    tokenizer = _read_tokenizer(_require(snapshot_dir, "tokenizer.json", files), config)
    declared = read_snapshot_settings(snapshot_dir, files=files)
    seq_len = (_first_set(max_seq_length, declared["max_seq_length"])
               or _default_max_seq_length(snapshot_dir, config, files))

    model = BertModel(config)
    report = _load_encoder_weights(model, weights)
    encoder = TextEncoder(
        tokenizer,
        model,
        pooling=_first_set(pooling, declared["pooling"]),
        normalize=_first_set(normalize, declared["normalize"]),
        max_seq_length=seq_len,
        do_lower_case=declared["do_lower_case"],
        text_prefix=text_prefix,
    )
    encoder.load_report = report
    return encoder.to(device).eval()
