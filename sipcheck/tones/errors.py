"""The single error type for audio that cannot be read."""

from __future__ import annotations


class AudioFormatError(ValueError):
    """Bad audio input. The message names the file (or source) and the problem, in one line,
    so the CLI can print it as is."""

    def __init__(self, source: str, problem: str) -> None:
        self.source = source
        self.problem = problem
        super().__init__(f"{source}: {problem}")
