"""Model patterns as full matches, with Java's Unicode category classes translated."""

from __future__ import annotations

import pytest

from openlookout.spec.loader import ServiceModel
from openlookout.spec.patterns import compile_model_pattern, matches

TAG_KEY = "^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$"


@pytest.mark.parametrize(
    "value", ["Team", "cost center", "ключ", "名前", "x_1.2:3/4=5+6-7@8", "٣", "a\u00a0b", ""]
)
def test_tag_pattern_accepts_letters_separators_numbers_and_symbols(value: str) -> None:
    assert matches(TAG_KEY, value)


@pytest.mark.parametrize("value", ["a!b", "tab\there", "new\nline", "emoji😀", "semi;colon", "a#b"])
def test_tag_pattern_rejects_other_characters(value: str) -> None:
    assert not matches(TAG_KEY, value)


def test_unanchored_patterns_are_full_matches() -> None:
    assert matches("train|test", "test")
    assert not matches("train|test", "testing")
    assert not matches("train|test", "xtrain")
    assert not matches("([1-9][0-9]*|latest)", "v1")
    assert matches("([1-9][0-9]*|latest)", "latest")
    assert not matches("[a-zA-Z0-9][a-zA-Z0-9_\\-]*", "-leading-dash")


def test_trailing_newline_is_not_swallowed_by_dollar() -> None:
    assert not matches("^[a-zA-Z0-9-]+$", "token\n")


def test_dot_star_accepts_any_text() -> None:
    assert matches(".*\\S.*", "line one\nline two")
    assert not matches(".*\\S.*", "   ")


def test_category_outside_a_class_is_wrapped() -> None:
    assert matches("\\p{N}+x", "٣3x")
    assert not matches("\\p{N}+x", "ax")


def test_escaped_brackets_do_not_open_a_class() -> None:
    assert matches("\\[\\p{L}\\]", "[é]")


def test_every_model_pattern_compiles(model: ServiceModel) -> None:
    patterns = [shape.pattern for shape in model.shapes.values() if shape.pattern]
    assert len(patterns) > 20
    for pattern in patterns:
        compile_model_pattern(pattern)
