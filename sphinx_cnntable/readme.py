"""One README for GitHub and Sphinx: in Sphinx, each ``cnn-breakdown`` marker block
(see :mod:`.markers`) is replaced, before parsing, by the live ``cnn-breakdown``
directive with the same spec and options, so the page shows the computed table once
(the synced copy between the markers is dropped). This works for a README that is a
document of the project and for one pulled in with MyST's ``{include}`` or reST's
``.. include::`` (the ``source-read`` and ``include-read`` events).

Spec paths in markers are relative to the README as named (a symbolic link's own folder,
as ``cnntable sync`` reads them); they are rewritten relative to the document that is
being read, which is how the directive's ``:file:`` is resolved.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from sphinx.util import logging

from .markers import Block, MarkerError, find_blocks, flavor_of, split_lines
from .outputs import FLAGS, VALUED

if TYPE_CHECKING:
    from sphinx.application import Sphinx

logger = logging.getLogger(__name__)

_YES = (True, "yes", "true", "on", "1", "")


def register_readme_hook(app: Sphinx) -> None:
    """Connect the hooks (once, however often it is called)."""
    handlers = app.events.listeners.get("source-read", [])
    if any(getattr(listener, "handler", None) is _source_read for listener in handlers):
        return
    app.connect("source-read", _source_read)
    app.connect("include-read", _include_read)


def _current_docname(app: Sphinx) -> str:
    current = getattr(app.env, "current_document", None)
    return getattr(current, "docname", "") or app.env.docname


def _source_read(app: Sphinx, docname: str, source: list[str]) -> None:
    path = Path(app.env.doc2path(docname))
    source[0] = live_text(source[0], str(path), path.parent, path.parent, docname)


def _include_read(app: Sphinx, relative_path: Path, parent_docname: str, content: list[str]) -> None:
    docname = _current_docname(app) or parent_docname
    included = Path(os.path.normpath(Path(app.env.srcdir, relative_path)))  # as named: symlinks not followed
    document_dir = Path(app.env.doc2path(docname)).parent
    content[0] = live_text(content[0], str(included), included.parent, document_dir, docname)


def live_text(text: str, path: str, readme_dir: Path, document_dir: Path, docname: str) -> str:
    """``text`` (of the file ``path``) with each marked block replaced by a directive;
    a malformed marker is warned about and the text left alone."""
    if "cnn-breakdown" not in text:
        return text
    flavor = flavor_of(path)
    lines = split_lines(text)
    try:
        blocks = find_blocks(lines, flavor)
    except MarkerError as error:
        logger.warning("%s: %s", path, error.message, type="cnntable", subtype="readme",
                       location=(docname, error.line))
        return text
    pieces: list[str] = []
    done = 0
    for block in blocks:
        pieces.append("".join(lines[done:block.start]))
        spec = Path(os.path.relpath(readme_dir / block.spec, document_dir)).as_posix()
        directive = directive_text(block, spec, flavor)
        padding = max(0, block.end + 1 - block.start - directive.count("\n"))
        pieces.append(directive + "\n" * padding)
        done = block.end + 1
    pieces.append("".join(lines[done:]))
    return "".join(pieces)


def directive_text(block: Block, spec: str, flavor: str) -> str:
    """The ``cnn-breakdown`` directive for ``block`` in MyST or reST syntax. Option
    values go through as written (``fold=maybe`` becomes ``:fold: maybe``), so the
    directive checks them and warns; ``format=`` has no meaning for a live table."""
    options = [f":file: {spec}"]
    for key in VALUED:
        value = block.options.get(key)
        if key != "format" and isinstance(value, str):
            options.append(f":{key}: {value}")
    for key in FLAGS:
        value = block.options.get(key)
        if key == "totals":
            if value is not None and value not in _YES:
                options.append(":no-totals:")
        elif value is True or value == "":
            options.append(f":{key}:")
        elif isinstance(value, str):
            options.append(f":{key}: {value}")
    if flavor == "rst":
        return "\n.. cnn-breakdown::\n" + "".join(f"   {option}\n" for option in options) + "\n"
    return "\n```{cnn-breakdown}\n" + "".join(f"{option}\n" for option in options) + "```\n\n"
