"""Safe MyST Markdown (and the little raw HTML the catalog needs) from untrusted values.

Registry fields, plugin docstrings and run records are written by other people: every value
that reaches a generated page goes through :func:`text` (each ASCII punctuation character
backslash-escaped, so no Markdown, MyST role or raw HTML survives), :func:`code` (an inline code
span), :func:`fence` (a code block whose fence is longer than any run of backticks inside) or
:func:`esc` (HTML-escaped, for raw HTML blocks). Links go through :func:`safe_url`: only
``http(s)``, ``mailto`` and relative links are kept; anything else (``javascript:``, ``data:``,
``vbscript:``, ...) is shown as text, never as a link.
"""

from __future__ import annotations

import html
import math
import re
import string
from typing import Any, Iterable, Sequence
from urllib.parse import quote, urlsplit

__all__ = ["ALLOWED_SCHEMES", "safe_url", "text", "code", "fence", "link", "external", "table", "esc", "fmt_params",
           "fmt_metric", "fmt_default", "is_number"]

ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})
"""URL schemes a catalog link may have; a link without a scheme is relative (inside the site)."""

_PUNCT = re.compile("([" + re.escape(string.punctuation) + "])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def safe_url(url: Any) -> str | None:
    """``url`` if it is an ``http(s)``/``mailto`` or a relative link, else ``None``.

    Control characters and whitespace inside a scheme (``java\\tscript:``) are removed before the
    scheme is read, as browsers do, so they cannot hide one.
    """
    if not isinstance(url, str):
        return None
    raw = _CONTROL.sub("", url).strip()
    if not raw:
        return None
    squeezed = re.sub(r"\s+", "", raw)
    scheme = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*):", squeezed)
    if scheme:
        if scheme.group(1).lower() not in ALLOWED_SCHEMES:
            return None
        parts = urlsplit(raw)
        if parts.scheme.lower() in ("http", "https") and not parts.netloc:
            return None
    elif squeezed.startswith("//") or ":" in squeezed.split("/", 1)[0].split("#", 1)[0].split("?", 1)[0]:
        return None  # protocol-relative, or a colon that a browser could read as a scheme
    return raw


def text(value: Any) -> str:
    """``value`` as inline Markdown text: punctuation escaped, line breaks as spaces."""
    s = "" if value is None else str(value)
    s = _CONTROL.sub(" ", s).replace("\n", " ")
    return _PUNCT.sub(r"\\\1", s)


def code(value: Any) -> str:
    """``value`` as an inline code span (backticks inside are fenced by a longer run)."""
    s = _CONTROL.sub(" ", "" if value is None else str(value))
    if not s:
        return ""
    ticks = "`" * (max((len(m) for m in re.findall(r"`+", s)), default=0) + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{ticks}{pad}{s}{pad}{ticks}"


def fence(body: str, lang: str = "") -> str:
    """A fenced code block; the fence is longer than any run of backticks in ``body``."""
    ticks = "`" * max(3, max((len(m) for m in re.findall(r"`+", body)), default=0) + 1)
    lang = re.sub(r"[^A-Za-z0-9_+-]", "", lang)
    return f"{ticks}{lang}\n{body.rstrip(chr(10))}\n{ticks}\n"


def link(label: Any, url: Any) -> str:
    """A Markdown link when ``url`` is safe (see :func:`safe_url`), else the label as text."""
    href = safe_url(url)
    if href is None:
        return text(label)
    return f"[{text(label)}](<{quote(href, safe=string.punctuation.replace('<', '').replace('>', ''))}>)"


def external(label: Any, url: Any) -> str:
    """A link only when ``url`` is absolute ``http(s)``/``mailto`` (registry fields), else the label as text."""
    href = safe_url(url)
    if href is None or not re.match(r"^(https?|mailto):", href, re.I):
        return text(label)
    return link(label, href)


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A pipe table from a header (plain text) and rows of cells (already-safe inline Markdown)."""
    def cell(c: str) -> str:
        return c.replace("\n", " ").replace("|", "\\|") if c else " "

    lines = ["| " + " | ".join(text(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def esc(value: Any) -> str:
    """``value`` as text, HTML-escaped (``None`` becomes an empty string)."""
    return html.escape("" if value is None else str(value))


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def fmt_params(n: Any) -> str:
    """``22.7M``, ``110M``, ``1.3B``."""
    if not isinstance(n, (int, float)) or isinstance(n, bool):
        return ""
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= div:
            v = n / div
            return f"{v:.1f}{unit}" if v < 100 else f"{v:.0f}{unit}"
    return str(int(n))


_FRACTION_METRICS = {"accuracy", "macro_f1", "micro_f1", "weighted_f1", "f1", "balanced_accuracy",
                     "precision", "recall", "top1", "top5", "auc", "roc_auc"}


def fmt_metric(name: str, value: Any, *, scale_as: str | None = None) -> str:
    """A metric as text: fractions of accuracy-like metrics in percent (``0.8004`` -> ``80.04``).

    An interval is shown as ``[lo, hi]`` on the scale of ``scale_as``.
    """
    percent = (scale_as or name) in _FRACTION_METRICS

    def num(v: float) -> str:
        return f"{v * 100:.2f}" if percent and -1.0 <= v <= 1.0 else f"{v:.4g}"

    if is_number(value):
        return num(float(value))
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(is_number(v) for v in value):
        return f"[{num(float(value[0]))}, {num(float(value[1]))}]"
    if isinstance(value, dict):
        lo, hi = value.get("low", value.get("lo")), value.get("high", value.get("hi"))
        if is_number(lo) and is_number(hi):
            return f"[{num(float(lo))}, {num(float(hi))}]"
    return "" if value is None else str(value)


def fmt_default(value: Any) -> str:
    """An option default as it would be written in a recipe (TOML); ``None`` is ``none``."""
    if value is None:
        return "none"
    from .snippets import toml_value

    return toml_value(value)
