"""The package's modules import each other in one direction: no circles, lower layers never import higher ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.import_graph import circles, import_graph

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "oddsight"

# every module in one layer, lowest first; a module imports only from its own layer or lower ones (ARCHITECTURE.md)
LAYERS = (
    (
        "base",
        (
            "oddsight.errors",
            "oddsight.validate",
            "oddsight.paths",
            "oddsight.redact",
            "oddsight.atomic",
            "oddsight.extras",
            "oddsight.version",
            "oddsight.threads",
            "oddsight.memory",
        ),
    ),
    (
        "parts",
        (
            "oddsight.video",
            "oddsight.models",
            "oddsight.features",
            "oddsight.detectors",
            "oddsight.temporal",
            "oddsight.llm",
            "oddsight.methods",
            "oddsight.option_fields",
            "oddsight.methods.params",
            "oddsight.methods.registry",
            "oddsight.methods.normal",
        ),
    ),
    (
        "config",
        (
            "oddsight.config",
            "oddsight.options",
            "oddsight.result",
            "oddsight.methods.scorers",
            "oddsight.report",
            "oddsight.language",
            "oddsight.language.captions",
            "oddsight.language.methods",
            "oddsight.language.captioners",
        ),
    ),
    (
        "engine",
        (
            "oddsight.engine",
            "oddsight.pipeline",
            "oddsight.language.session",
            "oddsight.live",
            "oddsight.live.language",
            "oddsight.live.alerts",
            "oddsight.live.dispatch",
            "oddsight.live.clips",
            "oddsight.live.feedback",
            "oddsight.live.stream",
        ),
    ),
    (
        "tasks",
        (
            "oddsight.live.engine",
            "oddsight.live.monitor",
            "oddsight.live.run",
            "oddsight.detection",
            "oddsight.evaluate",
            "oddsight.cluster",
        ),
    ),
    ("front ends", ("oddsight.server", "oddsight.cli", "oddsight")),
)
# the old two-level rule, kept: the lowest layers never reach up into what is built on them
LOW = ("oddsight.video", "oddsight.models", "oddsight.features", "oddsight.detectors", "oddsight.temporal")
HIGH = (
    "oddsight.pipeline",
    "oddsight.detection",
    "oddsight.language.session",
    "oddsight.evaluate",
    "oddsight.report",
    "oddsight.cli",
    "oddsight.server",
    "oddsight.live",
    "oddsight.cluster",
)


def layer_of(module: str) -> int | None:
    """The layer of ``module``: the longest prefix any layer names (``oddsight`` alone: the package's front)."""
    best: tuple[int, int] | None = None
    for level, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            named = module == p or (p != "oddsight" and module.startswith(p + "."))
            if named and (best is None or len(p) > best[1]):
                best = (level, len(p))
    return None if best is None else best[0]


def test_every_module_has_a_layer():
    graph = import_graph(PACKAGE)
    assert [m for m in graph if layer_of(m) is None] == []


def test_no_module_imports_a_higher_layer():
    graph = import_graph(PACKAGE)
    wrong = [
        (m, LAYERS[layer_of(m)][0], t, LAYERS[layer_of(t)][0])
        for m, targets in graph.items()
        for t in targets
        if layer_of(t) is not None and layer_of(t) > layer_of(m)
    ]
    assert wrong == []


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_package_has_no_import_circles():
    graph = import_graph(PACKAGE)
    assert len(graph) > 40  # the walk really read the package
    assert circles(graph) == []


def test_low_layers_never_import_high_ones():
    graph = import_graph(PACKAGE)
    wrong = [(m, t) for m, targets in graph.items() if _under(m, LOW) for t in targets if _under(t, HIGH)]
    assert wrong == []


def test_nothing_imports_the_cli():
    graph = import_graph(PACKAGE)
    assert [m for m, targets in graph.items() if "oddsight.cli" in targets] == []


def test_only_the_cli_imports_the_server():
    graph = import_graph(PACKAGE)
    users = {m for m, targets in graph.items() for t in targets if _under(t, ("oddsight.server",))}
    assert users and {m for m in users if not _under(m, ("oddsight.server", "oddsight.cli"))} == set()


def _package(root: Path, files: dict[str, str]) -> Path:
    pkg = root / "pkg"
    for name, text in {"__init__.py": "", **files}.items():
        path = pkg / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for folder in {p.parent for p in pkg.rglob("*.py")}:
        (folder / "__init__.py").touch()
    return pkg


# the three circles the package once had, in miniature: each must be found
OLD_CIRCLES = {
    "registry inside the base module": {
        "detectors/base.py": "class Detector: ...\n\ndef make():\n    from pkg.detectors.novelty import Novelty\n",
        "detectors/novelty.py": "from pkg.detectors.base import Detector\n\nclass Novelty(Detector): ...\n",
    },
    "pipeline and language session": {
        "pipeline.py": "def language():\n    from pkg.language.session import Session\n",
        "language/session.py": (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.pipeline import Config\n"
        ),
    },
    "registry, loader and gguf": {
        "models/registry.py": "def pull():\n    from pkg.models.loader import prepare\n",
        "models/loader.py": "from pkg.models.registry import spec\n\ndef gguf():\n    from pkg.llm import gguf\n",
        "llm/gguf.py": "from ..models.registry import spec\n",
    },
}


@pytest.mark.parametrize("name", list(OLD_CIRCLES))
def test_circle_finder_sees_each_old_circle(tmp_path, name):
    found = circles(import_graph(_package(tmp_path, OLD_CIRCLES[name])))
    assert len(found) == 1 and len(found[0]) >= 2


def test_circle_finder_passes_a_one_way_package(tmp_path):
    pkg = _package(
        tmp_path,
        {
            "low.py": "X = 1\n",
            "mid.py": "from pkg.low import X\n",
            "top.py": "from pkg import mid\nfrom . import low\n",
        },
    )
    graph = import_graph(pkg)
    assert graph["pkg.top"] == {"pkg.mid", "pkg.low"}
    assert circles(graph) == []
