"""The one error type the engine raises: a spec it cannot honour."""

from __future__ import annotations


class SpecError(ValueError):
    """A spec problem, located at a 1-based line of the spec text.

    ``str(error)`` reads ``line 7: conv3-512: kernel 3x3 is larger than the padded
    input 1x1``; ``error.line`` and ``error.message`` give the parts.
    """

    def __init__(self, line: int, message: str) -> None:
        super().__init__(line, message)
        self.line = line
        self.message = message

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"
