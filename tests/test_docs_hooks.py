"""docs/hooks.md is generated from the hookspecs and component schemas, complete and current."""

from __future__ import annotations

import inspect
import pathlib
import re

import pytest

from zoo.catalog.docgen import hook_specs, hooks_markdown, main
from zoo.plugins import describe_options, list_components, make_manager

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "hooks.md"


@pytest.fixture(scope="module")
def pm():
    return make_manager(entry_points=False)


def test_docs_hooks_md_is_current(pm):
    assert DOC.read_text(encoding="utf-8") == hooks_markdown(pm), (
        "docs/hooks.md is stale: run `python -m zoo.catalog.docgen` and commit the result"
    )


@pytest.mark.parametrize("name, fn", [(n, f) for n, f, _ in hook_specs()])
def test_every_hook_is_documented(name, fn):
    doc = inspect.getdoc(fn) or ""
    assert doc.strip(), f"hook {name} has no docstring"
    for param in inspect.signature(fn).parameters:
        assert f"``{param}``" in doc or f"{param}(" in doc, f"hook {name}: parameter {param!r} is not documented"
    assert f"### `{name}`" in DOC.read_text(encoding="utf-8")


def test_every_builtin_option_is_documented(pm):
    text = DOC.read_text(encoding="utf-8")
    comps = list_components(manager=pm)
    assert comps
    for comp in comps:
        assert f"#### `{comp.name}`" in text, f"{comp.kind} {comp.name} missing from docs/hooks.md"
        for opt in describe_options(comp.options):
            assert opt.help.strip(), f"{comp.kind} {comp.name}: option {opt.name} has no help"
            assert f"| `{opt.name}` |" in text and opt.help.replace("|", "\\|") in text


def test_check_mode_detects_a_stale_file(tmp_path, capsys):
    assert main(["--docs", str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} == {"components.md", "hooks.md"}
    assert main(["--check", "--docs", str(tmp_path)]) == 0
    out = tmp_path / "hooks.md"
    out.write_text(out.read_text() + "\nhand edit\n")
    assert main(["--check", "--docs", str(tmp_path)]) == 1
    assert "hooks.md is stale" in capsys.readouterr().err


def test_hook_reference_has_no_rest_markup_left():
    """The generated Markdown shows no reST table rules or roles (they render as garbage)."""
    text = re.sub(r"^```.*$", "", DOC.read_text(encoding="utf-8"), flags=re.M)  # code fences are fine
    assert "=====" not in text and ":class:`" not in text and ":func:`" not in text and "``" not in text
    assert "- `head`: a `HeadBuilder`" in text


def test_plugins_info_prints_docstrings_without_rest_roles(capsys):
    from zoo._text import rst_to_plain
    from zoo.cli.main import build_parser
    from zoo.config import settings
    from zoo.plugins import make_manager

    assert rst_to_plain("use :meth:`DatasetBundle.folds`, :class:`~zoo.contracts.FreezeReport` and ``C``::\n") == \
        "use DatasetBundle.folds, FreezeReport and C:\n"
    parser = build_parser(make_manager(entry_points=False, settings=settings({})))
    for name in ("logistic-probe", "zoo.default_plugins.datasets", "mteb-classification"):
        args = parser.parse_args(["plugins", "info", name])
        assert args._run(args) == 0
        out = capsys.readouterr().out
        assert "``" not in out and not re.search(r":(class|func|meth|mod|attr):`", out), out
