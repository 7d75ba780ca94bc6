"""``cnntable sync FILES... [--check]``: regenerate the tables between
``cnn-breakdown`` markers (see :mod:`.markers`) in Markdown and reST files.

Only the text between a marker and its end marker changes; every other byte (line
endings, encoding, the final newline) is kept. A file is rewritten all-or-nothing and
atomically. ``--check`` writes nothing, prints a unified diff and exits 1 when a block
is stale. Errors read ``FILE:LINE: message`` (LINE of the marker) and exit 1.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass

from .errors import SpecError
from .limits import MAX_SPEC_BYTES
from .markers import Block, MarkerError, find_blocks, flavor_of, split_lines
from .outputs import render, request_from
from .render_text import safe

FENCED = ("text", "json", "csv")
"""Formats a block may use besides the file's own table format; shown as code."""


class SyncError(ValueError):
    """A problem with one block or file; ``str()`` is the full ``FILE:LINE: message``."""


@dataclass
class Result:
    path: str
    old: str
    new: str
    blocks: int
    data: bytes = b""
    """The file's bytes as read (``old`` encoded)."""

    @property
    def stale(self) -> bool:
        return self.old != self.new


def generate(block: Block, base: str, flavor: str, eol: str, path: str) -> str:
    """The text between ``block``'s markers: a blank line, the table, a blank line."""
    where = f"{path}:{block.line}"
    try:
        request = request_from(block.options, default_format=flavor)
    except ValueError as error:
        raise SyncError(f"{where}: {error}") from None
    allowed = (flavor, *FENCED)
    if request.format not in allowed:
        raise SyncError(f"{where}: format {request.format!r} cannot go in this file (use {', '.join(allowed)})")
    spec_path = os.path.join(base, block.spec)
    try:
        with open(spec_path, "rb") as handle:
            spec_text = handle.read(MAX_SPEC_BYTES + 1).decode("utf-8-sig")
    except OSError as error:
        raise SyncError(f"{where}: cannot read {block.spec}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise SyncError(f"{where}: {block.spec} is not UTF-8") from None
    try:
        rendered = render(spec_text, request)
    except SpecError as error:
        raise SyncError(f"{where}: {block.spec}:{error.line}: {error.message}") from None
    except (RecursionError, MemoryError):
        raise SyncError(f"{where}: {block.spec}: the spec is too large to compute") from None
    if request.format in FENCED:
        rendered = _fenced(rendered, request.format, flavor)
    return eol + rendered.replace("\n", eol) + eol


def _fenced(text: str, language: str, flavor: str) -> str:
    if flavor == "rst":
        body = "".join(f"   {line}\n" if line.strip() else "\n" for line in text.splitlines())
        return f".. code-block:: {language}\n\n{body}"
    fence = "`" * max(3, max(map(len, re.findall("`+", text)), default=0) + 1)
    return f"{fence}{language}\n{text}{fence}\n"


def sync_text(text: str, path: str, base: str) -> tuple[str, int]:
    """``text`` with every marked block regenerated, and the number of blocks.
    ``SyncError`` lists every problem found, one ``FILE:LINE: message`` a line (the
    caller then leaves the file alone)."""
    if "cnn-breakdown" not in text:
        return text, 0
    lines = split_lines(text)
    flavor = flavor_of(path)
    marker_errors: list[MarkerError] = []
    try:
        blocks = find_blocks(lines, flavor, marker_errors)
    except MarkerError as error:  # the blocks' bounds are unknown: nothing more to check
        marker_errors.append(error)
        blocks = []
    problems = [(error.line, f"{path}:{error.line}: {error.message}") for error in marker_errors]
    pieces: list[str] = []
    done = 0
    for block in blocks:
        header_end = lines[block.body - 1]
        eol = header_end[len(header_end.rstrip("\r\n")):] or "\n"
        pieces.append("".join(lines[done:block.body]))
        try:
            pieces.append(generate(block, base, flavor, eol, path))
        except SyncError as error:
            problems.append((block.line, str(error)))
        done = block.end
    if problems:
        raise SyncError("\n".join(message for _, message in sorted(problems, key=lambda problem: problem[0])))
    pieces.append("".join(lines[done:]))
    return "".join(pieces), len(blocks)


def sync_file(path: str) -> Result:
    """Compute the synced text of ``path`` (nothing written). Spec paths in its markers
    are relative to the folder of ``path`` as named (a symbolic link's own folder, not
    its target's)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise SyncError(f"{path}: cannot read: {error.strerror or error}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SyncError(f"{path}: not UTF-8 (byte {error.start})") from None
    new, count = sync_text(text, path, os.path.dirname(os.path.abspath(path)))
    return Result(path, text, new, count, data)


class ChangedError(OSError):
    """The file changed on disk between reading and replacing it."""


def _temporary_name(target: str) -> re.Pattern[str]:
    """The names :func:`atomic_write` gives its temporary files for ``target``
    (``tempfile``'s 8 random characters between our prefix and suffix)."""
    return re.compile(rf"\.{re.escape(os.path.basename(target))}\.[a-z0-9_]{{8}}\.tmp")


def remove_stale_temporaries(path: str) -> list[str]:
    """Delete the temporary files an interrupted :func:`atomic_write` of ``path`` left
    (``.README.md.XXXXXXXX.tmp`` next to the file; ours only, by name); their paths."""
    target = os.path.realpath(path)
    folder = os.path.dirname(target)
    pattern = _temporary_name(target)
    removed = []
    with suppress(OSError):
        for entry in os.scandir(folder):
            if pattern.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                with suppress(OSError):
                    os.unlink(entry.path)
                    removed.append(entry.path)
    return removed


def atomic_write(path: str, data: bytes, expected: bytes | None = None) -> None:
    """Replace ``path`` (or the file a symlink points to) by ``data`` atomically: a
    temporary file in the same folder, fsync, then ``os.replace``. With ``expected``
    (the bytes read before), the file is read again just before the rename and left
    alone, with :class:`ChangedError`, if someone changed it meanwhile."""
    target = os.path.realpath(path)
    folder = os.path.dirname(target)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(target)}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, os.stat(target).st_mode & 0o7777)
        if expected is not None:
            with open(target, "rb") as current:
                if current.read() != expected:
                    raise ChangedError(f"{path} changed while it was being synced")
        os.replace(temporary, target)
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise
    with suppress(OSError, AttributeError):
        directory = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def diff(result: Result) -> str:
    lines = difflib.unified_diff(
        split_lines(result.old), split_lines(result.new), f"a/{result.path}", f"b/{result.path}"
    )
    # control characters (an ESC in the README itself) are shown, not sent to the terminal
    return "".join(safe(line.rstrip("\r\n")) + (line[len(line.rstrip("\r\n")):] or "\n") for line in lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnntable sync",
        description="Regenerate the tables between cnn-breakdown markers in Markdown and reST files.",
        epilog="markers:\n"
        "  <!-- cnn-breakdown: specs/vgg16.cnn columns=name,shape,params fold -->\n"
        "  <!-- end cnn-breakdown -->\n"
        "  .. cnn-breakdown-sync: specs/vgg16.cnn numbers=compact      (reST)\n"
        "  .. end cnn-breakdown-sync\n\n"
        "exit status: 0 all blocks current (or updated), 1 stale under --check or an error, 2 usage",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="Markdown (.md) or reST (.rst) files")
    parser.add_argument("--check", action="store_true", help="write nothing; print a diff and exit 1 when stale")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    namespace = build_parser().parse_args(argv)
    status = 0
    for path in namespace.files:
        try:
            result = sync_file(path)
            if not result.stale:
                continue
            if namespace.check:
                sys.stdout.flush()
                sys.stdout.buffer.write(diff(result).encode("utf-8"))
                sys.stdout.buffer.flush()
                print(f"cnntable: {path}: tables are out of date (run: cnntable sync {path})", file=sys.stderr)
                status = 1
                continue
            try:
                remove_stale_temporaries(path)
                atomic_write(path, result.new.encode("utf-8"), expected=result.data)
            except ChangedError:
                raise SyncError(f"{path}: changed while being synced; nothing written (run cnntable sync again)") from None
            except OSError as error:
                raise SyncError(f"{path}: cannot write: {error.strerror or error}") from None
            print(f"cnntable: updated {path}", file=sys.stderr)
        except SyncError as error:
            print("\n".join(map(safe, str(error).split("\n"))), file=sys.stderr)
            status = 1
    return status
