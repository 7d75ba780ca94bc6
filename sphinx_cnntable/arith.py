"""Integer arithmetic for ``{...}`` placeholders in user blocks, without ``eval``.

Grammar: ``expr := term (('+'|'-') term)*``, ``term := factor (('*'|'//'|'/'|'%') factor)*``,
``factor := INT | NAME | '(' expr ')' | '-' factor``. ``/`` is exact division: it is
refused when the result would not be an integer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

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
                value += self.term()
            else:
                value -= self.term()
        return value

    def term(self) -> int:
        value = self.factor()
        while self._peek() in ("*", "/", "//", "%"):
            op = self._take()
            rhs = self.factor()
            if op == "*":
                value *= rhs
                continue
            if rhs == 0:
                raise ArithError(f"division by zero in {{{self.text}}}")
            if op == "/" and value % rhs:
                raise ArithError(f"{value}/{rhs} is not an integer in {{{self.text}}}")
            value = value % rhs if op == "%" else value // rhs
        return value

    def factor(self) -> int:
        token = self._take()
        if token == "-":
            return -self.factor()
        if token == "(":
            value = self.expr()
            if self._take() != ")":
                raise ArithError(f"missing ')' in {{{self.text}}}")
            return value
        if token.isdigit():
            return int(token)
        if token in self.names:
            value = self.names[token]
            if isinstance(value, int):
                return value
            raise ArithError(f"{token} is {value!r}, not a number, in {{{self.text}}}")
        if token[0].isalpha() or token[0] == "_":
            raise ArithError(f"unknown name {token!r} in {{{self.text}}}")
        raise ArithError(f"unexpected {token!r} in {{{self.text}}}")
