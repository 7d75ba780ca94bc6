"""The ``cnn`` domain and the ``:cnn:`` role: computed figures cited in prose.

``:cnn:`vgg16/conv3_1:params``` (reST) or ``{cnn}`vgg16:macs:G``` (MyST) cites a
figure of the breakdown a ``cnn-breakdown`` directive named ``vgg16`` with ``:name:``,
in the same or any other document (syntax and formats: :mod:`.figures`).

How it stays right in one build, under ``-j N`` and in incremental builds:

* the directive stores a small picklable summary of its breakdown in the domain data
  (:func:`note_breakdown`): name -> every (docname, line, summary, ...) claiming it,
  the first one answering citations;
* the role only records the citation (docname -> cited names) and leaves a
  ``pending_xref`` (refdomain ``cnn``) that :meth:`CnnDomain.resolve_xref` turns into
  the number once every document is read (so forward and cross-document citations work);
* ``clear_doc`` and ``merge_domaindata`` keep both maps per document (parallel reads),
  and a name keeps all its claimants, so removing one table leaves the others;
  duplicate names are reported after the read (``check_consistency``), whatever order
  the documents were read in;
* ``env-get-outdated`` notes the breakdowns before the read, and ``env-updated``
  compares them with the breakdowns after it and returns the citing documents of every
  breakdown that changed, appeared or went away (a changed ``:file:`` spec, a renamed
  ``:name:``, a re-read document), so their pages are written again with the new
  numbers. Citing documents are not read again: their citations resolve when written,
  and a page citing only unchanged breakdowns of a re-read document is left alone.
"""

from __future__ import annotations

import difflib
import weakref
from collections.abc import Iterable, Set
from typing import TYPE_CHECKING, Any, ClassVar

from docutils import nodes
from sphinx import addnodes
from sphinx.domains import Domain
from sphinx.util import logging
from sphinx.util.docutils import SphinxRole
from sphinx.util.nodes import make_refnode

from .engine import Breakdown
from .figures import FigureError, parse_reference, resolve, summarize

if TYPE_CHECKING:
    from sphinx.application import Sphinx
    from sphinx.builders import Builder
    from sphinx.environment import BuildEnvironment

logger = logging.getLogger(__name__)

WARNING_TYPE = "cnntable"
WARNING_SUBTYPE = "ref"


def breakdown_key(name: str) -> str:
    """Names are compared as docutils compares target names: case and spacing folded."""
    return " ".join(name.split()).lower()


Entry = tuple[str, int, dict[str, Any], str, str]
"""A table claiming a name: (docname, line, summary, display name, HTML id of the table)."""


class CnnDomain(Domain):
    """Breakdowns by name, and which documents cite which.

    Every table claiming a name is kept (sorted by document and line), so that when one
    goes away (``clear_doc``) the next one answers; citations use the first. Duplicates
    are reported once the read is over (:meth:`check_consistency`), so the order in which
    an incremental build reads its documents cannot matter.
    """

    name = "cnn"
    label = "CNN breakdowns"
    data_version = 2
    initial_data: ClassVar[dict[str, Any]] = {
        "breakdowns": {},  # key -> [Entry, ...], sorted by (docname, line)
        "citations": {},  # docname -> set of keys
    }

    @property
    def claimants(self) -> dict[str, list[Entry]]:
        return self.data.setdefault("breakdowns", {})

    @property
    def breakdowns(self) -> dict[str, Entry]:
        """Each name's first claimant: the table its citations use."""
        return {key: entries[0] for key, entries in self.claimants.items() if entries}

    @property
    def citations(self) -> dict[str, set[str]]:
        return self.data.setdefault("citations", {})

    # -- recording ---------------------------------------------------------------

    def note_breakdown(self, name: str, docname: str, lineno: int, summary: dict[str, Any], target: str = "") -> None:
        self._add(breakdown_key(name), (docname, lineno, summary, name, target))

    def _add(self, key: str, entry: Entry) -> None:
        entries = [other for other in self.claimants.get(key, []) if other[:2] != entry[:2]]
        entries.append(entry)
        entries.sort(key=lambda item: (item[0], item[1]))
        self.claimants[key] = entries

    def note_citation(self, docname: str, name: str) -> None:
        self.citations.setdefault(docname, set()).add(breakdown_key(name))

    def clear_doc(self, docname: str) -> None:
        for key, entries in list(self.claimants.items()):
            kept = [entry for entry in entries if entry[0] != docname]
            if kept:
                self.claimants[key] = kept
            else:
                del self.claimants[key]
        self.citations.pop(docname, None)

    def merge_domaindata(self, docnames: Set[str], otherdata: dict[str, Any]) -> None:
        for key, entries in otherdata.get("breakdowns", {}).items():
            for entry in entries:
                if entry[0] in docnames:
                    self._add(key, entry)
        for docname, keys in otherdata.get("citations", {}).items():
            if docname in docnames:
                self.citations.setdefault(docname, set()).update(keys)

    def check_consistency(self) -> None:
        """Warn about each table whose name an earlier table (by document and line)
        already has, when either was read in this build (as a fresh build would)."""
        read = _READ.get(self.env, set())
        duplicates = [
            (entry, entries[0])
            for entries in self.claimants.values()
            for entry in entries[1:]
            if entry[0] in read or entries[0][0] in read
        ]
        for entry, first in sorted(duplicates, key=lambda pair: (pair[0][0], pair[0][1], pair[0][3])):
            logger.warning(
                "cnn-breakdown: duplicate name %r (also at %s:%d); citations use the first",
                entry[3],
                self.env.doc2path(first[0]),
                first[1],
                type=WARNING_TYPE,
                subtype=WARNING_SUBTYPE,
                location=(entry[0], entry[1]),
            )

    # -- resolving ---------------------------------------------------------------

    def resolve_xref(
        self,
        env: BuildEnvironment,
        fromdocname: str,
        builder: Builder,
        typ: str,
        target: str,
        node: addnodes.pending_xref,
        contnode: nodes.Element,
    ) -> nodes.Element | None:
        if typ != "figure":
            return None
        try:
            reference = parse_reference(target)
        except FigureError:  # warned when the role was read
            return contnode
        entries = self.claimants.get(breakdown_key(reference.breakdown))
        if not entries:
            close = difflib.get_close_matches(breakdown_key(reference.breakdown), list(self.claimants), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            _warn(f"no cnn-breakdown named {reference.breakdown!r}{hint}", node)
            return contnode
        docname, _lineno, summary, _name, target_id = entries[0]
        try:
            text = resolve(summary, reference)
        except FigureError as error:
            _warn(str(error), node)
            return contnode
        figure = nodes.inline(text, text, classes=["cnn-figure"])
        if not target_id:
            return figure
        what = reference.figure if reference.row is None else f"{reference.row} {reference.figure}"
        try:
            return make_refnode(builder, fromdocname, docname, target_id, figure, f"{_name}: {what}")
        except Exception:  # noqa: BLE001 (a builder without links: the number alone)
            return figure

    def resolve_any_xref(self, *args: Any, **kwargs: Any) -> list[tuple[str, nodes.Element]]:
        return []

    def get_objects(self) -> Iterable[tuple[str, str, str, str, str, int]]:
        return ()


def _warn(message: str, node: nodes.Node) -> None:
    logger.warning("cnn: %s", message, type=WARNING_TYPE, subtype=WARNING_SUBTYPE, location=node)


def domain_of(env: BuildEnvironment) -> CnnDomain:
    return env.get_domain("cnn")  # type: ignore[return-value]


def note_breakdown(
    env: BuildEnvironment, name: str, breakdown: Breakdown, dtype: str = "float32", lineno: int = 0, target: str = "",
    training: str = "none",
) -> None:
    """Make ``breakdown`` citable as ``name`` (the directive's ``:name:``) by ``:cnn:``;
    ``target``: the HTML id of its table, which citations link to."""
    if not name or not name.strip():
        return
    domain_of(env).note_breakdown(name.strip(), env.docname, lineno, summarize(breakdown, dtype, training), target)


class CnnFigureRole(SphinxRole):
    """``:cnn:`BREAKDOWN[/ROW]:FIGURE[:FORMAT]```: the figure, computed."""

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        text = self.text.strip()
        literal = nodes.literal(self.rawtext, text, classes=["cnn-figure", "cnn-unresolved"])
        try:
            reference = parse_reference(text)
        except FigureError as error:
            self.set_source_info(literal)  # the node's location: an absolute path, also in included files
            logger.warning("cnn: %s", error, type=WARNING_TYPE, subtype=WARNING_SUBTYPE, location=literal)
            return [literal], []
        domain_of(self.env).note_citation(self.env.docname, reference.breakdown)
        node = addnodes.pending_xref(
            self.rawtext,
            literal,
            refdomain="cnn",
            reftype="figure",
            reftarget=text,
            refdoc=self.env.docname,
            refexplicit=True,
            refwarn=False,
        )
        self.set_source_info(node)
        return [node], []


# -- incremental builds ------------------------------------------------------------

_BEFORE: weakref.WeakKeyDictionary[Any, dict[str, Entry]] = weakref.WeakKeyDictionary()
_READ: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def _get_outdated(
    app: Sphinx, env: BuildEnvironment, added: set[str], changed: set[str], removed: set[str]
) -> list[str]:
    """Note the breakdowns before the read (for :func:`_env_updated`); nothing more is
    read: a citation is resolved when its page is written, so the pages citing a
    breakdown that changes are written again, and only those."""
    _BEFORE[env] = domain_of(env).breakdowns
    return []


def _before_read(app: Sphinx, env: BuildEnvironment, docnames: list[str]) -> None:
    """Note the documents this build reads (for :meth:`CnnDomain.check_consistency`)."""
    _READ[env] = set(docnames)


def _env_updated(app: Sphinx, env: BuildEnvironment) -> list[str]:
    """Write again the pages citing a breakdown that changed in this read."""
    domain = domain_of(env)
    before = _BEFORE.pop(env, {})
    after = domain.breakdowns
    changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
    if not changed:
        return []
    return sorted(docname for docname, keys in domain.citations.items() if keys & changed and docname in env.all_docs)


def setup(app: Sphinx) -> None:
    """Register the domain, the ``cnn`` role and the incremental-build hooks."""
    app.add_domain(CnnDomain)
    app.add_role("cnn", CnnFigureRole())
    app.connect("env-get-outdated", _get_outdated)
    app.connect("env-before-read-docs", _before_read)
    app.connect("env-updated", _env_updated)
