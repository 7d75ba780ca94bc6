"""The breakdowns ``cnn-diagram`` can draw by ``:name:``: name -> (docname, breakdown),
kept in the build environment (purged and merged per document, so ``-j`` is safe)."""

from __future__ import annotations

from collections.abc import Set
from typing import TYPE_CHECKING

from ..domain import breakdown_key
from ..engine import Breakdown

if TYPE_CHECKING:
    from sphinx.application import Sphinx
    from sphinx.environment import BuildEnvironment


def sources(env: BuildEnvironment) -> dict[str, tuple[str, Breakdown]]:
    """The environment's map (created on first use)."""
    if not hasattr(env, "cnntable_diagram_sources"):
        env.cnntable_diagram_sources = {}  # type: ignore[attr-defined]
    return env.cnntable_diagram_sources  # type: ignore[attr-defined]


def note_source(env: BuildEnvironment, name: str, breakdown: Breakdown) -> None:
    """Let ``.. cnn-diagram:: :name: NAME`` draw the table named ``name`` (the first wins)."""
    if name.strip():
        sources(env).setdefault(breakdown_key(name), (env.docname, breakdown))


def find(env: BuildEnvironment, name: str) -> Breakdown | None:
    entry = sources(env).get(breakdown_key(name))
    return entry[1] if entry else None


def purge(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    store = sources(env)
    for key in [key for key, (doc, _) in store.items() if doc == docname]:
        del store[key]


def merge(app: Sphinx, env: BuildEnvironment, docnames: Set[str], other: BuildEnvironment) -> None:
    store = sources(env)
    for key, entry in sorted(sources(other).items(), key=lambda item: item[0]):
        if entry[0] in docnames:
            store.setdefault(key, entry)
