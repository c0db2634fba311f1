"""Bearer tokens for the administration endpoints.

Tokens come from ``http.tokens`` (name → token) and ``http.tokens_file``;
the *name* is what the audit log records, the token itself is never logged.
Every configured token is compared with `hmac.compare_digest` (constant time
per token, and all tokens are always compared), so response timing does not
tell an attacker how much of a guess was right or which token it was close to.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from pathlib import Path

from aiohttp import web

from sipcheck.api.errors import ApiError
from sipcheck.settings import HttpSettings


def read_tokens_file(path: Path) -> dict[str, str]:
    """Parse ``name token`` or ``name=token`` lines; ``#`` starts a comment. Errors name the line."""
    tokens: dict[str, str] = {}
    text = path.read_text(encoding="utf-8")
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, token = line.partition("=") if "=" in line else line.partition(" ")
        name, token = name.strip(), token.strip()
        if not sep or not name or not token or " " in token:
            raise ValueError(f"{path}:{lineno}: expected 'name token' or 'name=token'")
        if name in tokens:
            raise ValueError(f"{path}:{lineno}: token name {name!r} defined twice")
        tokens[name] = token
    return tokens


def load_tokens(http: HttpSettings) -> dict[str, str]:
    """All configured tokens, name → token; a name in both places is an error (which one wins?)."""
    tokens = dict(http.tokens)
    if http.tokens_file is not None:
        for name, token in read_tokens_file(http.tokens_file).items():
            if name in tokens:
                raise ValueError(f"{http.tokens_file}: token name {name!r} is also set in http.tokens")
            tokens[name] = token
    for name, token in tokens.items():
        if len(token) < 16:
            raise ValueError(f"http token {name!r} is shorter than 16 characters")
    return tokens


class TokenAuth:
    """Checks ``Authorization: Bearer <token>`` and returns the token's name."""

    def __init__(self, tokens: Mapping[str, str]) -> None:
        self._tokens = [(name, token.encode()) for name, token in tokens.items()]

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self._tokens]

    def identify(self, request: web.Request) -> str:
        header = request.headers.get("Authorization")
        if not header:
            raise ApiError("unauthorized", "missing 'Authorization: Bearer <token>' header")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise ApiError("unauthorized", "the Authorization header must be 'Bearer <token>'")
        candidate = presented.strip().encode()
        found: str | None = None
        for name, token in self._tokens:
            # No early exit: every token is compared whatever matched.
            if hmac.compare_digest(candidate, token) and found is None:
                found = name
        if found is None:
            if not self._tokens:
                raise ApiError("unauthorized", "no tokens are configured (http.tokens / http.tokens_file)")
            raise ApiError("unauthorized", "the bearer token is not valid")
        return found
