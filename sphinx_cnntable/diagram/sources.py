"""The breakdowns ``cnn-diagram`` can draw by ``:name:``: name -> (docname, breakdown),
and which documents draw which names, kept in the build environment (purged and merged
per document, so ``-j`` is safe). In an incremental build, a page whose diagram draws
a table that changed (or appeared, or went away) is written again (:func:`updated`).
"""

from __future__ import annotations

import weakref
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any

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


def references(env: BuildEnvironment) -> dict[str, set[str]]:
    """docname -> the keys of the tables its diagrams draw by name."""
    if not hasattr(env, "cnntable_diagram_references"):
        env.cnntable_diagram_references = {}  # type: ignore[attr-defined]
    return env.cnntable_diagram_references  # type: ignore[attr-defined]


def note_reference(env: BuildEnvironment, name: str) -> None:
    references(env).setdefault(env.docname, set()).add(breakdown_key(name))


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
    references(env).pop(docname, None)


def merge(app: Sphinx, env: BuildEnvironment, docnames: AbstractSet[str], other: BuildEnvironment) -> None:
    store = sources(env)
    for key, entry in sorted(sources(other).items(), key=lambda item: item[0]):
        if entry[0] in docnames:
            store.setdefault(key, entry)
    for docname, keys in references(other).items():
        if docname in docnames:
            references(env)[docname] = set(keys)


_BEFORE: weakref.WeakKeyDictionary[Any, dict[str, tuple[str, Breakdown]]] = weakref.WeakKeyDictionary()


def outdated(app: Sphinx, env: BuildEnvironment, added: set[str], changed: set[str], removed: set[str]) -> list[str]:
    """Note the tables before the read (for :func:`updated`); nothing more is read."""
    _BEFORE[env] = dict(sources(env))
    return []


def updated(app: Sphinx, env: BuildEnvironment) -> list[str]:
    """Write again the pages drawing a table that changed in this read."""
    before = _BEFORE.pop(env, {})
    after = sources(env)
    changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
    if not changed:
        return []
    return sorted(doc for doc, keys in references(env).items() if keys & changed and doc in env.all_docs)
