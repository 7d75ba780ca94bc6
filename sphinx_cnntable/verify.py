"""The directive's ``:verify: MODEL``: at build time, compare the table's spec with the
model it documents (:mod:`.importers.check`).

A mismatch, or a model that cannot be read, is a warning of type ``cnntable.verify`` at
the spec line of the first differing row (or at the directive). Where the framework is
not installed (a docs build without torch), the table is drawn as usual and the build
says so once, as an info message. The imported model is cached on disk, per model
reference, input shape and version of sphinx-cnntable, in the doctree folder, so an
edit of the page (or a full rebuild with the same doctrees) does not trace again.
This module imports no framework: :mod:`.importers` does, lazily.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sphinx.util import logging

from . import __version__
from .engine import Breakdown, analyse

if TYPE_CHECKING:
    from sphinx.application import Sphinx

logger = logging.getLogger(__name__)
_noted: set[str] = set()


def reset(app: Sphinx) -> None:
    """``builder-inited``: a new build may say again that a framework is missing."""
    _noted.clear()


def _available(framework: str) -> bool:
    try:
        importlib.import_module(framework)
    except Exception:  # noqa: BLE001  (ImportError, or a broken install)
        return False
    return True


def _cached_import(ref: Any, shape: tuple[int, ...], folder: Path) -> tuple[str, list[str]]:
    from .importers import import_model

    key = hashlib.sha256(json.dumps([str(ref), list(shape), __version__]).encode()).hexdigest()[:32]
    path = folder / f"{key}.json"
    if ref.kind == "onnx":
        try:
            stamp = os.stat(ref.target).st_mtime_ns
        except OSError:
            stamp = 0
    else:
        stamp = 0
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("stamp") == stamp:
            return data["text"], data["paths"]
    except (OSError, ValueError, KeyError):
        pass
    emitted = import_model(ref, shape)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"text": emitted.text, "paths": emitted.paths, "stamp": stamp}), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass
    return emitted.text, emitted.paths


def verify(spec: Breakdown, model: str, where: Callable[[int], str], location: str, cache: Path,
           srcdir: str | None = None) -> None:
    """Compare ``spec`` (already computed) with ``model``; warn where they differ."""
    from .importers import FrameworkMissing, ModelError, UnsupportedOp, parse_model
    from .importers.check import compare

    try:
        ref = parse_model(model)
    except ModelError as error:
        logger.warning("cnn-breakdown: :verify: %s", error, type="cnntable", subtype="verify", location=location)
        return
    if ref.kind == "onnx" and srcdir and not os.path.isabs(ref.target):
        ref = type(ref)(ref.kind, os.path.join(srcdir, ref.target), ref.kwargs)
    framework = ref.kind
    if not _available(framework):
        if framework not in _noted:
            _noted.add(framework)
            logger.info("cnn-breakdown: :verify: %s is not installed: the tables are drawn without comparing them "
                        "with their models (pip install 'sphinx-cnntable[%s]')", framework, framework)
        return
    try:
        text, paths = _cached_import(ref, spec.input_shape, cache)
        result = compare(spec, analyse(text), paths, "spec")
    except FrameworkMissing as error:
        if framework not in _noted:
            _noted.add(framework)
            logger.info("cnn-breakdown: :verify: %s", error)
        return
    except (ModelError, UnsupportedOp) as error:
        logger.warning("cnn-breakdown: :verify: %s", error, type="cnntable", subtype="verify", location=location)
        return
    except Exception as error:  # noqa: BLE001  (a page must build whatever the model does)
        logger.warning("cnn-breakdown: :verify: cannot read %s (%s: %s)", model, type(error).__name__, error,
                       type="cnntable", subtype="verify", location=location)
        return
    if result.ok:
        return
    message = "; ".join(line.strip() for line in result.lines).replace("spec:", "", 1)
    at = where(result.first_line) if result.first_line else location
    logger.warning("cnn-breakdown: the spec differs from %s: %s", model, message, type="cnntable", subtype="verify",
                   location=at)
