"""The layering the platform promises, checked on the source: the library never imports the server,
the CLI, client and service never import a codec package or branch on a codec's name, and the
container, registry and codecs form no import cycle (function-level imports count too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from codec.ids import CODEC_IDS

ROOT = Path(__file__).resolve().parents[1]
CODEC_PACKAGES = ("codec.video",)  # where codecs live (later: codec.image, codec.embed, codec.latents)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(package: str) -> dict[str, Path]:
    return {module_name(p): p for p in sorted((ROOT / package.replace(".", "/")).rglob("*.py"))}


_SOURCES = {
    str(p.relative_to(ROOT).with_suffix("")).removesuffix("/__init__")
    for top in ("codec", "service")
    for p in (ROOT / top).rglob("*.py")
}


def imports(path: Path) -> set[str]:
    """Every module an `import` or `from ... import` anywhere in the file names (relative ones resolved)."""
    tree = ast.parse(path.read_text(), str(path))
    here = module_name(path).split(".")
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(here[: len(here) - node.level + (path.name == "__init__.py")] + [base]).strip(
                    "."
                )
            for a in node.names:  # `from codec.container import fields` imports the submodule only
                sub = f"{base}.{a.name}"
                found.add(sub if sub.replace(".", "/") in _SOURCES else base)
    return found


ALL = {**modules("codec"), **modules("service")}
GRAPH = {m: {i for i in imports(p) if i in ALL and i != m} for m, p in ALL.items()}


def test_the_library_imports_nothing_from_the_server():
    offenders = {
        m: sorted(i for i in imports(p) if i.split(".")[0] == "service") for m, p in modules("codec").items()
    }
    assert {m: i for m, i in offenders.items() if i} == {}


@pytest.mark.parametrize("package", ["codec.cli", "codec.client", "service"])
def test_cli_client_and_service_import_no_codec_package(package):
    offenders = {
        m: sorted(i for i in imports(p) if i.startswith(CODEC_PACKAGES)) for m, p in modules(package).items()
    }
    assert {m: i for m, i in offenders.items() if i} == {}


@pytest.mark.parametrize("package", ["codec.cli", "codec.client", "service"])
def test_no_branch_on_a_codec_name(package):
    names = set(CODEC_IDS)
    hits = []
    for m, p in modules(package).items():
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Compare):
                for side in [node.left, *node.comparators]:
                    if isinstance(side, ast.Constant) and side.value in names:
                        hits.append(f"{m}:{node.lineno}")
    assert hits == []


def _cycle_through(start: str) -> list[str] | None:
    """A path start -> ... -> start in the import graph, if there is one."""
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for nxt in GRAPH.get(node, ()):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def test_container_registry_and_codecs_form_no_import_cycle():
    core = [
        m for m in ALL if m.startswith(("codec.container", "codec.registry", "codec.ids", "codec.interface"))
    ]
    core += [m for m in ALL if m.startswith(CODEC_PACKAGES)]
    cycles = {m: c for m in core if (c := _cycle_through(m))}
    assert cycles == {}


def test_the_graph_is_real():
    """The checks above read real imports (a broken scan would pass them all vacuously)."""
    assert "codec.container" in GRAPH["codec.video.hnerv.bitstream"]
    assert "codec.registry" in GRAPH["codec.video.hnerv.codec"]
    assert "codec.ids" in GRAPH["codec.container.format"]
