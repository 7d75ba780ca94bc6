"""Integer arithmetic for ``{...}`` placeholders in user blocks, without ``eval``.

Grammar: ``expr := term (('+'|'-') term)*``, ``term := factor (('*'|'//'|'/'|'%') factor)*``,
``factor := INT | NAME | '(' expr ')' | '-' factor``. ``/`` is exact division: it is
refused when the result would not be an integer. Parentheses and signs nest at most
:data:`MAX_NESTING` deep, and every literal and result stays below ``MAX_NUMBER``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .limits import MAX_DIGITS, MAX_NUMBER

MAX_NESTING = 50
_TOKEN = re.compile(r"\s*(?:(\d+)|([A-Za-z_]\w*)|(//|[-+*/%()]))")


class ArithError(ValueError):
    """An expression that cannot be evaluated; the message is user-facing."""


def evaluate(text: str, names: Mapping[str, int | str]) -> int | str:
    """Evaluate ``text`` over ``names``; a lone name may also be a string value."""
    stripped = text.strip()
    if stripped in names:
        return names[stripped]
    tokens = _tokenize(text)
    parser = _Parser(tokens, names, text)
    value = parser.expr()
    if parser.pos != len(tokens):
        raise ArithError(f"unexpected {tokens[parser.pos]!r} in {{{text}}}")
    return value


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ArithError(f"cannot read {{{text}}} at {text[pos:].strip()!r}")
        tokens.append(match.group(match.lastindex or 0))
        pos = match.end()
    if not tokens:
        raise ArithError("empty placeholder {}")
    return tokens


class _Parser:
    def __init__(self, tokens: list[str], names: Mapping[str, int | str], text: str) -> None:
        self.tokens = tokens
        self.names = names
        self.text = text
        self.pos = 0
        self.nesting = 0

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> str:
        token = self._peek()
        if token is None:
            raise ArithError(f"incomplete expression {{{self.text}}}")
        self.pos += 1
        return token

    def expr(self) -> int:
        value = self.term()
        while self._peek() in ("+", "-"):
            if self._take() == "+":
                value = self._bounded(value + self.term())
            else:
                value = self._bounded(value - self.term())
        return value

    def term(self) -> int:
        value = self.factor()
        while self._peek() in ("*", "/", "//", "%"):
            op = self._take()
            rhs = self.factor()
            if op == "*":
                value = self._bounded(value * rhs)
                continue
            if rhs == 0:
                raise ArithError(f"division by zero in {{{self.text}}}")
            if op == "/" and value % rhs:
                raise ArithError(f"{value}/{rhs} is not an integer in {{{self.text}}}")
            value = self._bounded(value % rhs if op == "%" else value // rhs)
        return value

    def _bounded(self, value: int) -> int:
        if abs(value) >= MAX_NUMBER:
            raise ArithError(f"a value in {{{self.text[:40]}}} has more than {MAX_DIGITS} digits")
        return value

    def factor(self) -> int:
        token = self._take()
        if token in ("-", "("):
            self.nesting += 1
            if self.nesting > MAX_NESTING:
                raise ArithError(f"{{{self.text[:20]}...}} nests deeper than {MAX_NESTING} levels")
            value = -self.factor() if token == "-" else self._parenthesised()
            self.nesting -= 1
            return value
        if token.isdigit():
            if len(token.lstrip("0")) > MAX_DIGITS:
                raise ArithError(f"{token[:12]}... has more than {MAX_DIGITS} digits in {{{self.text[:40]}}}")
            return int(token.lstrip("0") or "0")
        if token in self.names:
            value = self.names[token]
            if isinstance(value, int):
                return value
            raise ArithError(f"{token} is {value!r}, not a number, in {{{self.text}}}")
        if token[0].isalpha() or token[0] == "_":
            raise ArithError(f"unknown name {token!r} in {{{self.text}}}")
        raise ArithError(f"unexpected {token!r} in {{{self.text}}}")

    def _parenthesised(self) -> int:
        value = self.expr()
        if self._take() != ")":
            raise ArithError(f"missing ')' in {{{self.text}}}")
        return value
