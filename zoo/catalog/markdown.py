"""A small Markdown-to-HTML converter for the subset the zoo's docs use (standard library only).

Supported: ATX headings (``#`` to ``######``, each with an ``id`` for anchors), paragraphs,
bullet and numbered lists (nested by indentation), fenced code blocks (```` ``` ````, with a
language class) and code blocks indented by four spaces, block quotes, horizontal rules, pipe
tables (with ``:`` alignment), and inline code, ``**bold**``, ``*italic*``, ``[links](target)``
and ``<https://autolinks>``. HTML comments are dropped; other raw HTML is escaped, never passed
through, so a page cannot inject markup into the site.

Links go through a ``resolve_link(target) -> str | None`` callback so the site can rewrite
``page.md`` into ``page.html``; ``None`` renders the link text without a link (a target that
does not exist in the site).
"""

from __future__ import annotations

import html
import re
from typing import Callable, Iterator

__all__ = ["markdown_to_html", "slugify_heading", "first_heading", "LinkResolver"]

LinkResolver = Callable[[str], "str | None"]

_FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)\s*$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_HR = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_ITEM = re.compile(r"^(\s*)([-*+]|\d+[.)])\s+(.*)$")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_INLINE = re.compile(
    r"(?P<code>`+)(?P<codetext>.+?)(?P=code)"
    r"|\[(?P<text>(?:[^\[\]]|\[[^\]]*\])+)\]\((?P<href><[^>]*>|[^\s)]*)(?:\s+\"(?P<title>[^\"]*)\")?\)"
    r"|<(?P<auto>https?://[^\s>]+)>"
    r"|\*\*(?P<bold>.+?)\*\*"
    r"|(?<![\w*])\*(?P<em>[^*\s](?:[^*]*[^*\s])?)\*(?![\w*])"
    r"|(?<![\w_])_(?P<em2>[^_\s](?:[^_]*[^_\s])?)_(?![\w_])"
)


def slugify_heading(text: str) -> str:
    """The anchor id of a heading, as GitHub makes it: lowercase, punctuation dropped, spaces to '-'."""
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-") or "section"


def first_heading(text: str) -> str | None:
    """The text of the first ``# heading`` of a Markdown document (for page titles)."""
    for line in text.splitlines():
        m = _HEADING.match(line)
        if m and len(m.group(1)) == 1:
            return _plain(m.group(2))
    return None


def _plain(text: str) -> str:
    """Inline Markdown reduced to text (for titles and anchors)."""
    return re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", text).strip()


def _inline(text: str, resolve: LinkResolver) -> str:
    out: list[str] = []
    pos = 0
    for m in _INLINE.finditer(text):
        out.append(html.escape(text[pos:m.start()], quote=False))
        pos = m.end()
        if m.group("code"):
            out.append(f"<code>{html.escape(m.group('codetext').strip(), quote=False)}</code>")
        elif m.group("text") is not None:
            label = _inline(m.group("text"), resolve)
            href = resolve(m.group("href").strip("<>"))
            if href is None:
                out.append(f'<span class="dead-link">{label}</span>')
            else:
                title = f' title="{html.escape(m.group("title"))}"' if m.group("title") else ""
                out.append(f'<a href="{html.escape(href)}"{title}>{label}</a>')
        elif m.group("auto"):
            url = m.group("auto")
            out.append(f'<a href="{html.escape(url)}">{html.escape(url, quote=False)}</a>')
        elif m.group("bold") is not None:
            out.append(f"<strong>{_inline(m.group('bold'), resolve)}</strong>")
        else:
            out.append(f"<em>{_inline(m.group('em') or m.group('em2'), resolve)}</em>")
    out.append(html.escape(text[pos:], quote=False))
    return "".join(out)


def _split_row(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    cells, cur, in_code = [], "", False
    for i, ch in enumerate(line):
        if ch == "`":
            in_code = not in_code
        if ch == "|" and not in_code and (i == 0 or line[i - 1] != "\\"):
            cells.append(cur)
            cur = ""
        else:
            cur += ch
    cells.append(cur)
    return [c.strip().replace("\\|", "|") for c in cells]


def _table(lines: list[str], resolve: LinkResolver) -> str:
    header = _split_row(lines[0])
    aligns = []
    for cell in _split_row(lines[1]):
        left, right = cell.startswith(":"), cell.endswith(":")
        aligns.append("center" if left and right else "right" if right else "left" if left else "")

    def cells(row: list[str], tag: str) -> str:
        parts = []
        for i, cell in enumerate(row):
            align = aligns[i] if i < len(aligns) else ""
            style = f' style="text-align:{align}"' if align else ""
            parts.append(f"<{tag}{style}>{_inline(cell, resolve)}</{tag}>")
        return "".join(parts)

    body = "".join(f"<tr>{cells(_split_row(r), 'td')}</tr>\n" for r in lines[2:])
    return (f'<div class="table-wrap"><table>\n<thead><tr>{cells(header, "th")}</tr></thead>\n'
            f"<tbody>\n{body}</tbody></table></div>")


def _list(lines: list[str], resolve: LinkResolver) -> str:
    """A (possibly nested) list from its lines; continuation lines join the item above."""
    items: list[tuple[int, bool, list[str]]] = []  # (indent, ordered, text lines)
    for line in lines:
        m = _ITEM.match(line)
        if m:
            items.append((len(m.group(1).expandtabs(4)), m.group(2)[0].isdigit(), [m.group(3)]))
        elif items:
            items[-1][2].append(line.strip())

    def build(start: int, indent: int) -> tuple[str, int]:
        ordered = items[start][1]
        tag = "ol" if ordered else "ul"
        parts = [f"<{tag}>"]
        i = start
        while i < len(items) and items[i][0] >= indent:
            ind, _, text = items[i]
            if ind > indent:  # a nested list belongs to the previous item
                inner, i = build(i, ind)
                parts[-1] = parts[-1].removesuffix("</li>") + "\n" + inner + "</li>"
                continue
            parts.append(f"<li>{_inline(' '.join(text), resolve)}</li>")
            i += 1
        parts.append(f"</{tag}>")
        return "\n".join(parts), i

    out, i = [], 0
    while i < len(items):
        block, i = build(i, items[i][0])
        out.append(block)
    return "\n".join(out)


def _ordered(line: str) -> bool:
    m = _ITEM.match(line)
    return bool(m and m.group(2)[0].isdigit())


def _blocks(lines: list[str]) -> Iterator[tuple[str, list[str]]]:
    """Split lines into ``(kind, lines)`` blocks."""
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        fence = _FENCE.match(line)
        if line.lstrip().startswith("<!--"):  # an HTML comment: dropped
            while i < n and "-->" not in lines[i]:
                i += 1
            i += 1
        elif line.startswith(("    ", "\t")) and not fence:  # an indented code block
            body = []
            while i < n and (lines[i].startswith(("    ", "\t")) or not lines[i].strip()):
                body.append(lines[i])
                i += 1
            while body and not body[-1].strip():
                body.pop()
            yield "code:", body
        elif fence:
            marker, body = fence.group(2), []
            i += 1
            while i < n and not lines[i].strip().startswith(marker[:3]):
                body.append(lines[i])
                i += 1
            i += 1
            yield "code:" + fence.group(3), body
        elif _HEADING.match(line):
            yield "heading", [line]
            i += 1
        elif _HR.match(line):
            yield "hr", []
            i += 1
        elif line.lstrip().startswith(">"):
            body = []
            while i < n and lines[i].lstrip().startswith(">"):
                body.append(re.sub(r"^\s*>\s?", "", lines[i]))
                i += 1
            yield "quote", body
        elif "|" in line and i + 1 < n and _TABLE_SEP.match(lines[i + 1]):
            body = [line, lines[i + 1]]
            i += 2
            while i < n and "|" in lines[i] and lines[i].strip():
                body.append(lines[i])
                i += 1
            yield "table", body
        elif _ITEM.match(line):
            ordered = _ordered(line)
            body = []
            while i < n:
                cur = lines[i]
                if _FENCE.match(cur):
                    break  # a code block ends the list (nested blocks are not supported)
                if cur.strip() and (_ITEM.match(cur) or cur.startswith((" ", "\t"))):
                    body.append(cur)
                    i += 1
                elif not cur.strip() and i + 1 < n and (
                    (_ITEM.match(lines[i + 1]) and _ordered(lines[i + 1]) == ordered)
                    or lines[i + 1].startswith(("  ", "\t"))
                ):
                    i += 1  # a blank line inside a loose list
                else:
                    break
            yield "list", body
        else:
            body = []
            while i < n and lines[i].strip() and not (
                _FENCE.match(lines[i]) or _HEADING.match(lines[i]) or _HR.match(lines[i])
                or lines[i].lstrip().startswith(">")
                or (body and _ITEM.match(lines[i]) and not lines[i].startswith(" "))
                or ("|" in lines[i] and i + 1 < n and _TABLE_SEP.match(lines[i + 1]))
            ):
                body.append(lines[i])
                i += 1
            yield "para", body


def markdown_to_html(text: str, *, resolve_link: LinkResolver | None = None) -> str:
    """Convert Markdown ``text`` to an HTML fragment.

    ``resolve_link(target)`` maps a link target to the ``href`` to emit, or ``None`` to render
    the link text alone; by default targets are kept as written.
    """
    resolve: LinkResolver = resolve_link or (lambda target: target)
    out: list[str] = []
    seen_ids: dict[str, int] = {}
    for kind, lines in _blocks(text.replace("\r\n", "\n").split("\n")):
        if kind.startswith("code:"):
            lang = kind[5:]
            cls = f' class="language-{html.escape(lang)}"' if lang else ""
            indent = min((len(x) - len(x.lstrip()) for x in lines if x.strip()), default=0)
            body = "\n".join(x[indent:] for x in lines)
            out.append(f"<pre><code{cls}>{html.escape(body, quote=False)}</code></pre>")
        elif kind == "heading":
            m = _HEADING.match(lines[0])
            assert m is not None
            level, raw = len(m.group(1)), m.group(2)
            anchor = slugify_heading(_plain(raw))
            count = seen_ids.get(anchor, 0)
            seen_ids[anchor] = count + 1
            if count:
                anchor = f"{anchor}-{count}"
            out.append(f'<h{level} id="{html.escape(anchor)}">{_inline(raw, resolve)}</h{level}>')
        elif kind == "hr":
            out.append("<hr>")
        elif kind == "quote":
            out.append(f"<blockquote>\n{markdown_to_html(chr(10).join(lines), resolve_link=resolve)}\n</blockquote>")
        elif kind == "table":
            out.append(_table(lines, resolve))
        elif kind == "list":
            out.append(_list(lines, resolve))
        else:
            out.append(f"<p>{_inline(' '.join(x.strip() for x in lines), resolve)}</p>")
    return "\n".join(out) + "\n"
