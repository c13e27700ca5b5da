"""The model's (Java-flavoured) regular expressions as compiled Python patterns, applied as full matches.

Python's ``re`` has no ``\\p{..}`` Unicode category classes, so ``\\p{L}``, ``\\p{Z}``, ``\\p{N}`` (and
any other one- or two-letter category) are expanded into explicit code-point ranges built from
``unicodedata`` the first time a pattern needs them.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import cache

BACKSLASH = "\\"
_CATEGORY_ESCAPE = re.compile(r"\\p\{([A-Za-z]{1,2})\}")


@cache
def compile_model_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a model pattern; ``fullmatch`` on the result is the validation rule."""
    return re.compile(translate_java_pattern(pattern), re.DOTALL)


def matches(pattern: str, value: str) -> bool:
    """True when the whole ``value`` matches the model ``pattern``."""
    return compile_model_pattern(pattern).fullmatch(value) is not None


def translate_java_pattern(pattern: str) -> str:
    """Python syntax for ``pattern``: each ``\\p{X}`` becomes its code-point ranges.

    Inside a character class the ranges are spliced in; outside one they are wrapped in ``[...]``.
    """
    out: list[str] = []
    in_class = False
    index = 0
    while index < len(pattern):
        found = _CATEGORY_ESCAPE.match(pattern, index)
        if found:
            ranges = category_ranges(found.group(1))
            out.append(ranges if in_class else f"[{ranges}]")
            index = found.end()
            continue
        char = pattern[index]
        if char == BACKSLASH:
            out.append(pattern[index : index + 2])
            index += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        out.append(char)
        index += 1
    return "".join(out)


@cache
def category_ranges(category: str) -> str:
    """Character-class body (no brackets) listing every code point whose category starts with ``category``."""
    ranges: list[tuple[int, int]] = []
    start = -1
    for code in range(sys.maxunicode + 1):
        inside = unicodedata.category(chr(code)).startswith(category)
        if inside and start < 0:
            start = code
        elif not inside and start >= 0:
            ranges.append((start, code - 1))
            start = -1
    if start >= 0:
        ranges.append((start, sys.maxunicode))
    return "".join(_escape(a) if a == b else f"{_escape(a)}-{_escape(b)}" for a, b in ranges)


def _escape(code: int) -> str:
    return f"\\U{code:08x}"
