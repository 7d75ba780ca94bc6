"""Find ``cnn-breakdown`` marker blocks in Markdown and reStructuredText sources.

Markdown (HTML comments, invisible on GitHub)::

    <!-- cnn-breakdown: specs/vgg16.cnn columns=name,shape,params fold=yes -->
    ...generated...
    <!-- end cnn-breakdown -->

reStructuredText (comments, ignored by docutils; start in column 0)::

    .. cnn-breakdown-sync: specs/vgg16.cnn columns=name,shape,params
    ...generated...
    .. end cnn-breakdown-sync

A marker's words are the spec path (relative to the file holding the marker), then
``key=value`` options or bare flags (``fold``, ``no-totals``); quote values with spaces.
Markdown markers inside fenced code blocks are ignored, so docs can show them.
"""

from __future__ import annotations

import difflib
import re
import shlex
from dataclasses import dataclass, field

from .errors import SpecError
from .outputs import FLAGS, VALUED

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_MD_START = re.compile(r"^ {0,3}<!--\s*cnn-breakdown\s*:(.*)$", re.DOTALL)
_MD_END = re.compile(r"^ {0,3}<!--\s*end\s+cnn-breakdown\s*-->\s*$")
_MD_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_RST_START = re.compile(r"^\.\.\s+cnn-breakdown-sync\s*:(.*)$", re.DOTALL)
_RST_END = re.compile(r"^\.\.\s+end\s+cnn-breakdown-sync\s*$")


class MarkerError(SpecError):
    """A malformed marker; ``line`` is 1-based in the file holding it."""


@dataclass
class Block:
    """A marked block: ``lines[start:body]`` is the marker, ``lines[body:end]`` the
    generated text, ``lines[end]`` the end marker (0-based indexes)."""

    start: int
    body: int
    end: int
    spec: str
    options: dict[str, str | bool] = field(default_factory=dict)

    @property
    def line(self) -> int:
        return self.start + 1


def split_lines(text: str) -> list[str]:
    """Lines with their endings (``\\r\\n``, ``\\n`` or ``\\r`` only); ``"".join`` restores ``text``."""
    return _LINE.findall(text)


def flavor_of(path: str) -> str:
    """``"rst"`` for ``.rst``/``.rest`` files, else ``"markdown"``."""
    return "rst" if path.lower().endswith((".rst", ".rest")) else "markdown"


def find_blocks(lines: list[str], flavor: str, errors: list[MarkerError] | None = None) -> list[Block]:
    """The marked blocks of a file's ``lines``; ``MarkerError`` for an unterminated,
    nested or stray marker, or bad marker words. With ``errors``, a stray end marker and
    bad marker words are added to it instead (the block is left out) and the search goes
    on, so one run can report every problem; the others still raise."""
    finder = _find_markdown if flavor == "markdown" else _find_rst
    return finder([line.rstrip("\r\n").lstrip("\ufeff") for line in lines], errors)


def _report(error: MarkerError, errors: list[MarkerError] | None) -> None:
    if errors is None:
        raise error
    errors.append(error)


def _find_markdown(lines: list[str], errors: list[MarkerError] | None = None) -> list[Block]:
    blocks: list[Block] = []
    fence: str | None = None
    index = 0
    while index < len(lines):
        text = lines[index]
        fence_match = _MD_FENCE.match(text)
        if fence is not None:
            if fence_match and fence_match.group(1)[0] == fence[0] and len(fence_match.group(1)) >= len(fence):
                if not text.strip().lstrip(fence[0]):
                    fence = None
            index += 1
            continue
        if fence_match:
            fence = fence_match.group(1)
            index += 1
            continue
        if _MD_END.match(text):
            _report(MarkerError(index + 1, "'<!-- end cnn-breakdown -->' without an opening marker"), errors)
        start = _MD_START.match(text)
        if start:
            header, body = _markdown_header(lines, index, start.group(1))
            end = _closing(lines, body, _MD_END, _MD_START, index, "<!-- end cnn-breakdown -->")
            _add_block(blocks, Block(index, body, end, ""), header, errors)
            index = end
        index += 1
    return blocks


def _markdown_header(lines: list[str], index: int, first: str) -> tuple[str, int]:
    parts = [first]
    position = index
    while "-->" not in parts[-1]:
        position += 1
        if position == len(lines):
            raise MarkerError(index + 1, "the cnn-breakdown marker comment is not closed with '-->'")
        parts.append(lines[position])
    header = " ".join(parts)
    head, _, tail = header.partition("-->")
    if tail.strip():
        raise MarkerError(index + 1, "put nothing after '-->' on the marker line")
    return head, position + 1


def _find_rst(lines: list[str], errors: list[MarkerError] | None = None) -> list[Block]:
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        text = lines[index]
        if _RST_END.match(text):
            _report(MarkerError(index + 1, "'.. end cnn-breakdown-sync' without an opening marker"), errors)
        start = _RST_START.match(text)
        if start:
            parts = [start.group(1)]
            body = index + 1
            while body < len(lines) and lines[body][:1] in (" ", "\t") and lines[body].strip():
                parts.append(lines[body])
                body += 1
            end = _closing(lines, body, _RST_END, _RST_START, index, ".. end cnn-breakdown-sync")
            _add_block(blocks, Block(index, body, end, ""), " ".join(parts), errors)
            index = end
        index += 1
    return blocks


def _add_block(blocks: list[Block], block: Block, words: str, errors: list[MarkerError] | None) -> None:
    """Read the marker's ``words`` into ``block`` and keep it; report bad words instead."""
    try:
        block.spec, block.options = parse_words(words, block.line)
    except MarkerError as error:
        _report(error, errors)
        return
    blocks.append(block)


def _closing(lines: list[str], body: int, end: re.Pattern[str], start: re.Pattern[str], opened: int, word: str) -> int:
    for position in range(body, len(lines)):
        if end.match(lines[position]):
            return position
        if start.match(lines[position]):
            raise MarkerError(
                position + 1, f"a cnn-breakdown marker inside the block opened at line {opened + 1} (close it with '{word}')"
            )
    raise MarkerError(opened + 1, f"the cnn-breakdown block is not terminated: add '{word}'")


def parse_words(text: str, line: int) -> tuple[str, dict[str, str | bool]]:
    """``"specs/a.cnn columns='name, params' fold"`` -> (spec path, options)."""
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise MarkerError(line, f"cannot read the marker: {error}") from None
    if not words or "=" in words[0]:
        raise MarkerError(line, "the marker must name a spec file first: 'cnn-breakdown: specs/net.cnn ...'")
    options: dict[str, str | bool] = {}
    for word in words[1:]:
        key, sep, value = word.partition("=")
        key = key.strip().lower().replace("_", "-")
        if key == "no-totals" and not sep:
            key, value, sep = "totals", "no", "="
        if key not in FLAGS and key not in VALUED:
            close = difflib.get_close_matches(key, [*VALUED, *FLAGS, "no-totals"], n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise MarkerError(line, f"unknown marker option {key!r} ({hint}one of {', '.join(VALUED + FLAGS)}, no-totals)")
        if key in options:
            raise MarkerError(line, f"marker option {key!r} is given twice")
        if not sep and key not in FLAGS:
            raise MarkerError(line, f"marker option {key!r} needs a value: {key}=...")
        options[key] = value if sep else True
    return words[0], options
