"""Built-in plugin: the ``bert`` architecture (native torch BERT-family text encoders).

Covers BERT, MiniLM, BGE, E5 and GTE checkpoints: anything whose ``config.json``
is a ``BertModel`` with absolute position embeddings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zoo.hookspecs import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    from zoo.hub import ResolvedBackbone
    from zoo.registry import BackboneEntry

__all__ = ["build_bert_text", "register_architectures"]


def build_bert_text(entry: "BackboneEntry", resolved: "ResolvedBackbone", *, device: str = "cpu") -> Any:
    """Build a :class:`zoo.models.text.TextEncoder` from the entry's verified files (and no other file)."""
    from zoo.errors import ArchitectureError
    from zoo.models.text import build_text_encoder

    encoder = build_text_encoder(
        resolved.snapshot_dir,
        weights_file=entry.weights_files[0].filename,
        pooling=entry.pooling,
        normalize=entry.normalize,
        max_seq_length=entry.input.max_seq_length,
        text_prefix=entry.input.text_prefix,
        device=device,
        files=resolved.files,  # only the files the entry lists, all verified; nothing else in the folder
    )
    if encoder.embedding_dim != entry.embedding_dim:
        raise ArchitectureError(
            f"{entry.source}, entry {entry.name!r}, key 'embedding_dim': {entry.embedding_dim} disagrees with the "
            f"model, whose config.json has hidden_size {encoder.embedding_dim}. Fix embedding_dim in {entry.source}."
        )
    return encoder


build_bert_text.modality = "text"  # type: ignore[attr-defined]
build_bert_text.capabilities = frozenset({"attention-heads", "transformer-ffn", "transformer-layers"})  # type: ignore[attr-defined]
"""What compression passes may rely on (``PassSpec.capabilities``): heads to prune, FFN blocks,
a stack of transformer layers to distill."""


@hookimpl
def register_architectures(register) -> None:
    register("bert", build_bert_text,
             summary="BERT-family text encoder in plain torch (BERT, MiniLM, BGE, E5, GTE).")
