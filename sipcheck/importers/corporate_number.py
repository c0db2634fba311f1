"""法人番号 (Japanese corporate number): 13 digits, the first a check digit over the other 12.

The check digit is fixed by 財務省令第七十号 第二条: 9 − (Σ Pn×Qn mod 9), where Pn
is the n-th digit of the 12-digit base number counted from its last digit and
Qn is 1 for odd n and 2 for even n. It catches most typing errors, and a
corporate number is the best join key between operator lists, so we check it.
"""

from __future__ import annotations

import unicodedata


def check_digit(base: str) -> int:
    """The check digit for a 12-digit base number."""
    if len(base) != 12 or not (base.isascii() and base.isdigit()):
        raise ValueError(f"a corporate base number has 12 digits, got {base!r}")
    total = sum(int(ch) * (1 if n % 2 else 2) for n, ch in enumerate(reversed(base), start=1))
    return 9 - total % 9


def validate_corporate_number(value: str) -> str:
    """Normalise (NFKC, so full-width digits pass) and check a corporate number; ValueError if wrong."""
    text = unicodedata.normalize("NFKC", value).strip()
    if len(text) != 13 or not (text.isascii() and text.isdigit()):
        raise ValueError("a corporate number (法人番号) has exactly 13 digits")
    expected = check_digit(text[1:])
    if int(text[0]) != expected:
        raise ValueError(f"corporate number check digit is {text[0]}, expected {expected}")
    return text
