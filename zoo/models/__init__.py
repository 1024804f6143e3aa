"""Native model implementations (plain torch, no ``transformers``).

Names are imported lazily, so ``import zoo.models`` stays cheap until a model is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["BertConfig", "BertModel", "TextEncoder", "build_text_encoder"]

_WHERE = {
    "BertConfig": "zoo.models.bert",
    "BertModel": "zoo.models.bert",
    "TextEncoder": "zoo.models.text",
    "build_text_encoder": "zoo.models.text",
}

if TYPE_CHECKING:  # pragma: no cover
    from zoo.models.bert import BertConfig, BertModel
    from zoo.models.text import TextEncoder, build_text_encoder


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'zoo.models' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)


def __dir__() -> list[str]:
    return sorted(__all__)
