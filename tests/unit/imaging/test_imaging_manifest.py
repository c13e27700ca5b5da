"""Ground Truth manifest lines: the spec's examples and real-world variants, errors, round trips."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openlookout.imaging.manifest import (
    MAX_ENTRY_CHARS,
    ManifestEntry,
    ManifestError,
    iter_manifest_lines,
    new_entry,
    parse_line,
    render_entry,
)

CLS = "groundtruth/image-classification"
SEG = "groundtruth/semantic-segmentation"


def line(obj: Any) -> str:
    return json.dumps(obj)


def classification(
    ref: str = "s3://acme/a.png", cls: str = "anomaly", attr: str = "anomaly-label", value: Any = 1
):
    return {
        "source-ref": ref,
        attr: value,
        f"{attr}-metadata": {
            "class-name": cls,
            "type": CLS,
            "human-annotated": "yes",
            "confidence": 1,
            "job-name": "labeling-job/widgets",
            "creation-date": "2024-03-05T10:15:00.000",
        },
    }


def segmentation(
    colour_map: dict[str, Any], mask_attr: str = "anomaly-mask-ref", **kwargs: Any
) -> dict[str, Any]:
    obj = classification(**kwargs)
    obj[mask_attr] = "s3://acme/masks/a.png"
    obj[f"{mask_attr}-metadata"] = {
        "internal-color-map": colour_map,
        "type": SEG,
        "human-annotated": "yes",
        "job-name": "labeling-job/widgets-seg",
    }
    return obj


def error(text: str, number: int = 7) -> str:
    with pytest.raises(ManifestError) as info:
        parse_line(text, number)
    assert info.value.line_number == number
    assert str(info.value).startswith(f"line {number}: ")
    return info.value.reason


# ------------------------------------------------------------------------------ classification


def test_spec_classification_example() -> None:
    entry = parse_line(line(classification()), 1)
    assert entry.source_ref == "s3://acme/a.png"
    assert entry.label == "anomaly"
    assert entry.label_attribute == "anomaly-label"
    assert entry.mask_ref is None and entry.mask_attribute is None and entry.colors == {}


@pytest.mark.parametrize(
    ("cls", "label"), [("normal", "normal"), ("Normal", "normal"), ("ANOMALY", "anomaly")]
)
def test_class_name_is_case_insensitive(cls: str, label: str) -> None:
    assert parse_line(line(classification(cls=cls)), 1).label == label


@pytest.mark.parametrize("cls", ["defect", "", "good", None, 3, ["anomaly"]])
def test_other_class_names_leave_the_entry_unlabeled(cls: Any) -> None:
    entry = parse_line(line(classification(cls=cls)), 1)
    assert entry.label is None
    assert json.loads(render_entry(entry)) == classification(cls=cls)


@pytest.mark.parametrize("value", [1, 0, "1", "0", "anomaly", None, 7.5])
def test_label_value_is_ignored(value: Any) -> None:
    assert parse_line(line(classification(cls="normal", value=value)), 1).label == "normal"


def test_console_folder_import_variant() -> None:
    text = (
        '{"source-ref":"s3://b/train/anomaly/x.jpg","auto-label":0,"auto-label-metadata":'
        '{"class-name":"Anomaly","type":"groundtruth/image-classification","human-annotated":"yes",'
        '"job-name":"labeling-job/auto-label","creation-date":"2021-01-01T00:00:00.000"}}'
    )
    entry = parse_line(text, 3)
    assert entry.label == "anomaly" and entry.label_attribute == "auto-label"
    out = json.loads(render_entry(entry))
    assert out["auto-label"] == 1
    assert out["auto-label-metadata"]["class-name"] == "anomaly"
    assert out["auto-label-metadata"]["job-name"] == "labeling-job/auto-label"
    assert "anomaly-label" not in out


def test_missing_confidence_and_odd_creation_date_are_kept() -> None:
    obj = classification(cls="normal")
    del obj["anomaly-label-metadata"]["confidence"]
    obj["anomaly-label-metadata"]["creation-date"] = (
        "Mon Aug 22 2022 13:52:52 GMT-0700 (Pacific Daylight Time)"
    )
    out = json.loads(render_entry(parse_line(line(obj), 1)))
    assert out["anomaly-label-metadata"]["creation-date"] == obj["anomaly-label-metadata"]["creation-date"]
    assert "confidence" not in out["anomaly-label-metadata"]
    assert out["anomaly-label"] == 0


def test_line_with_only_source_ref_is_unlabeled() -> None:
    entry = parse_line('{"source-ref":"images/a.png"}', 1)
    assert entry.label is None and entry.source_ref == "images/a.png"
    assert json.loads(render_entry(entry)) == {"source-ref": "images/a.png"}


def test_type_is_matched_leniently_and_metadata_without_type_is_used_when_alone() -> None:
    obj = classification()
    obj["anomaly-label-metadata"]["type"] = " GroundTruth/Image-Classification "
    assert parse_line(line(obj), 1).label == "anomaly"
    del obj["anomaly-label-metadata"]["type"]
    assert parse_line(line(obj), 1).label == "anomaly"


def test_evaluation_manifest_prefers_ground_truth_over_detected() -> None:
    obj = classification(cls="normal")
    obj["anomaly-label-detected"] = 1
    obj["anomaly-label-detected-metadata"] = {"class-name": "anomaly", "type": CLS, "human-annotated": "no"}
    entry = parse_line(line(obj), 1)
    assert entry.label == "normal" and entry.label_attribute == "anomaly-label"


def test_two_classification_attributes_are_an_error() -> None:
    obj = classification()
    obj["other-label"] = 0
    obj["other-label-metadata"] = {"class-name": "normal", "type": CLS}
    reason = error(line(obj))
    assert "2 classification attributes" in reason and "other-label" in reason


# -------------------------------------------------------------------------------- segmentation


def test_spec_segmentation_example_with_background_entry() -> None:
    colour_map = {
        "0": {"class-name": "BACKGROUND", "hex-color": "#ffffff", "confidence": 0.0},
        "1": {"class-name": "chip", "hex-color": "#d62728", "confidence": 0.0},
    }
    entry = parse_line(line(segmentation(colour_map)), 2)
    assert entry.label == "anomaly"
    assert entry.mask_ref == "s3://acme/masks/a.png" and entry.mask_attribute == "anomaly-mask-ref"
    assert entry.colors == {"#D62728": "chip"}
    assert entry.background == ("#FFFFFF",)


def test_template_variant_without_background_and_confidence() -> None:
    colour_map = {"0": {"class-name": "cracked", "hex-color": "#23A436"}}
    entry = parse_line(line(segmentation(colour_map, mask_attr="object-mask-ref")), 1)
    assert entry.colors == {"#23A436": "cracked"} and entry.background == ()
    assert entry.mask_attribute == "object-mask-ref"


def test_segmentation_render_keeps_mask_and_replaces_refs() -> None:
    colour_map = {"0": {"class-name": "cracked", "hex-color": "#23a436"}}
    entry = parse_line(line(segmentation(colour_map)), 1)
    out = json.loads(render_entry(entry, source_ref="upload://abc/a.png", mask_ref="upload://def/m.png"))
    assert out["source-ref"] == "upload://abc/a.png"
    assert out["anomaly-mask-ref"] == "upload://def/m.png"
    assert out["anomaly-mask-ref-metadata"]["internal-color-map"] == colour_map
    again = parse_line(render_entry(entry), 2)
    assert (again.label, again.mask_ref, again.colors) == (entry.label, entry.mask_ref, entry.colors)


def test_segmentation_on_a_normal_image_is_an_error() -> None:
    colour_map = {"0": {"class-name": "cracked", "hex-color": "#23A436"}}
    assert "normal image cannot have an anomaly mask" in error(line(segmentation(colour_map, cls="normal")))


def test_segmentation_on_unlabeled_image_is_an_error() -> None:
    colour_map = {"0": {"class-name": "cracked", "hex-color": "#23A436"}}
    assert "must have class-name anomaly" in error(line(segmentation(colour_map, cls="unsure")))


def test_segmentation_without_classification_keys_is_an_error() -> None:
    obj = segmentation({"0": {"class-name": "cracked", "hex-color": "#23A436"}})
    del obj["anomaly-label"], obj["anomaly-label-metadata"]
    assert "needs the classification keys too" in error(line(obj))


def test_mask_attribute_must_end_in_ref() -> None:
    obj = segmentation({"0": {"class-name": "cracked", "hex-color": "#23A436"}}, mask_attr="anomaly-mask")
    assert "must have a name ending in -ref" in error(line(obj))


@pytest.mark.parametrize(
    ("colour_map", "words"),
    [
        (None, "internal-color-map is missing"),
        ([], "must be an object, not a list"),
        ({}, "names no anomaly class"),
        ({"0": {"class-name": "BACKGROUND", "hex-color": "#ffffff"}}, "names no anomaly class"),
        ({"0": "cracked"}, "must be an object, not a string"),
        ({"0": {"class-name": "cracked", "hex-color": "green"}}, "hex-color must look like #rrggbb"),
        ({"0": {"class-name": "cracked", "hex-color": "#12345"}}, "hex-color must look like #rrggbb"),
        ({"0": {"class-name": "", "hex-color": "#123456"}}, "needs a non-empty class-name"),
        ({"0": {"hex-color": "#123456"}}, "needs a non-empty class-name"),
        (
            {
                "0": {"class-name": "a", "hex-color": "#123456"},
                "1": {"class-name": "b", "hex-color": "#123456"},
            },
            "gives colour #123456 to two classes",
        ),
        (
            {
                "0": {"class-name": "BACKGROUND", "hex-color": "#123456"},
                "1": {"class-name": "b", "hex-color": "#123456"},
            },
            "for BACKGROUND and for 'b'",
        ),
    ],
)
def test_bad_colour_maps(colour_map: Any, words: str) -> None:
    obj = segmentation({})
    if colour_map is None:
        del obj["anomaly-mask-ref-metadata"]["internal-color-map"]
    else:
        obj["anomaly-mask-ref-metadata"]["internal-color-map"] = colour_map
    assert words in error(line(obj))


def test_missing_or_bad_mask_reference() -> None:
    obj = segmentation({"0": {"class-name": "c", "hex-color": "#123456"}})
    del obj["anomaly-mask-ref"]
    assert "has no anomaly-mask-ref" in error(line(obj))
    obj["anomaly-mask-ref"] = 5
    assert "anomaly-mask-ref must be a string, not a number" in error(line(obj))


# ------------------------------------------------------------------------------ general errors


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[1, 2]", "must be a JSON object, not a list"),
        ('"just a string"', "must be a JSON object, not a string"),
        ("42", "must be a JSON object, not a number"),
        ("null", "must be a JSON object, not null"),
        ("{not json}", "not valid JSON"),
        ('{"source-ref": "a.png"', "not valid JSON"),
        ('{"source-ref": NaN}', "NaN is not allowed"),
        ("   ", "blank"),
        ('{"anomaly-label": 1}', "has no source-ref"),
        ('{"source-ref": 12}', "source-ref must be a string, not a number"),
        ('{"source-ref": null}', "source-ref must be a string, not null"),
        ('{"source-ref": ""}', "source-ref is empty"),
        ('{"source-ref": " a.png"}', "leading or trailing spaces"),
        ('{"source-ref": "a\\u0000.png"}', "control characters"),
        ("[" * 4000 + "]" * 4000, "nested too deeply"),
        ('{"source-ref": "a.png", "source-ref": "b.png"}', "the key 'source-ref' appears twice"),
        ('{"source-ref": "a.png", "m": {"x": 1, "x": 2}}', "the key 'x' appears twice"),
    ],
)
def test_general_errors(text: str, words: str) -> None:
    assert words in error(text)


def test_too_long_line() -> None:
    text = line({"source-ref": "s3://b/" + "a" * MAX_ENTRY_CHARS})
    reason = error(text)
    assert f"{len(text)} characters long" in reason and str(MAX_ENTRY_CHARS) in reason


def test_exactly_max_length_is_fine() -> None:
    prefix = '{"source-ref":"'
    text = prefix + "a" * (MAX_ENTRY_CHARS - len(prefix) - 2) + '"}'
    assert len(text) == MAX_ENTRY_CHARS
    assert parse_line(text, 1).source_ref.startswith("aaa")


# --------------------------------------------------------------------------------- new entries


def test_new_entry_renders_and_parses_back() -> None:
    entry = new_entry("upload://x/a.png", "anomaly", mask_ref="upload://y/m.png", colors={"#23A436": "crack"})
    again = parse_line(render_entry(entry), 1)
    assert (again.label, again.mask_ref, again.colors) == (
        "anomaly",
        "upload://y/m.png",
        {"#23A436": "crack"},
    )
    plain = parse_line(render_entry(new_entry("upload://x/b.png", "normal", label_attribute="auto-label")), 1)
    assert (plain.label, plain.label_attribute) == ("normal", "auto-label")
    assert parse_line(render_entry(new_entry("upload://x/c.png", None)), 1).label is None
    with pytest.raises(ValueError):
        new_entry("a.png", "normal", mask_ref="m.png", colors={"#23A436": "crack"})


def test_render_changes_the_label_when_the_entry_is_relabeled() -> None:
    entry = parse_line(line(classification(cls="normal")), 1)
    relabeled = ManifestEntry(**{**entry.__dict__, "label": "anomaly"})
    out = json.loads(render_entry(relabeled))
    assert out["anomaly-label"] == 1 and out["anomaly-label-metadata"]["class-name"] == "anomaly"
    assert json.loads(render_entry(entry))["anomaly-label"] == 0  # the original raw is untouched


# ------------------------------------------------------------------------------- reading lines


def test_iter_lines_skips_blanks_and_numbers_from_one() -> None:
    data = b'\xef\xbb\xbf{"source-ref":"a"}\r\n\n   \n{"source-ref":"b"}\n{"source-ref":"c"}'
    assert list(iter_manifest_lines(io.BytesIO(data))) == [
        (1, '{"source-ref":"a"}'),
        (4, '{"source-ref":"b"}'),
        (5, '{"source-ref":"c"}'),
    ]


def test_iter_lines_accepts_text_streams() -> None:
    assert list(iter_manifest_lines(io.StringIO('{"a":1}\n\n{"b":2}\n'))) == [(1, '{"a":1}'), (3, '{"b":2}')]


class CountingStream(io.BytesIO):
    """A stream that remembers how many bytes were handed out."""

    handed_out = 0

    def readline(self, size: int | None = -1) -> bytes:  # type: ignore[override]
        out = super().readline(size)
        self.handed_out += len(out)
        return out


def test_iter_lines_refuses_a_huge_line_without_reading_it_whole() -> None:
    stream = CountingStream(b'{"source-ref":"a"}\n' + b"x" * 5_000_000 + b"\n")
    lines = iter_manifest_lines(stream)
    assert next(lines) == (1, '{"source-ref":"a"}')
    with pytest.raises(ManifestError) as info:
        next(lines)
    assert info.value.line_number == 2 and "longer than 8192" in info.value.reason
    assert stream.handed_out < 100_000


def test_iter_lines_counts_characters_not_bytes() -> None:
    text = '{"source-ref":"' + "é" * 8000 + '"}'
    assert len(text.encode()) > MAX_ENTRY_CHARS >= len(text)
    assert list(iter_manifest_lines(io.BytesIO(text.encode()))) == [(1, text)]
    longer = '{"source-ref":"' + "é" * 8190 + '"}'
    with pytest.raises(ManifestError, match="characters long"):
        list(iter_manifest_lines(io.BytesIO(longer.encode())))


def test_iter_lines_reports_bad_utf8() -> None:
    with pytest.raises(ManifestError) as info:
        list(iter_manifest_lines(io.BytesIO(b'{"a":1}\n{"b":"\xff"}\n')))
    assert info.value.line_number == 2 and "UTF-8" in info.value.reason


# -------------------------------------------------------------------------------- robustness

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
keys = st.sampled_from(
    [
        "source-ref",
        "anomaly-label",
        "anomaly-label-metadata",
        "anomaly-mask-ref",
        "anomaly-mask-ref-metadata",
        "x-metadata",
        "class-name",
        "type",
        "internal-color-map",
        "hex-color",
    ]
)
manifest_like = st.recursive(
    st.none()
    | st.integers()
    | st.sampled_from(
        [CLS, SEG, "anomaly", "Normal", "BACKGROUND", "#23a436", "#zzzzzz", "s3://b/k.png", ""]
    ),
    lambda children: (
        st.dictionaries(keys | st.sampled_from(["0", "1"]), children, max_size=5)
        | st.lists(children, max_size=3)
    ),
    max_leaves=25,
)


def _parse_or_error(text: str) -> None:
    try:
        entry = parse_line(text, 9)
    except ManifestError as exc:
        assert exc.line_number == 9 and exc.reason
        return
    again = parse_line(render_entry(entry), 10)
    assert (again.source_ref, again.label, again.mask_ref, again.colors) == (
        entry.source_ref,
        entry.label,
        entry.mask_ref,
        entry.colors,
    )


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_an_entry_or_manifest_error(text: str) -> None:
    _parse_or_error(text)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_gives_an_entry_or_manifest_error(value: Any) -> None:
    _parse_or_error(json.dumps(value))


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(keys, manifest_like, max_size=6))
def test_manifest_shaped_objects_give_an_entry_or_manifest_error(obj: dict[str, Any]) -> None:
    _parse_or_error(json.dumps(obj))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_valid_lines_give_an_entry_or_manifest_error(data: st.DataObject) -> None:
    colour_map = {
        "0": {"class-name": "BACKGROUND", "hex-color": "#ffffff"},
        "1": {"class-name": "c", "hex-color": "#23a436"},
    }
    text = line(segmentation(colour_map))
    cut = data.draw(st.integers(0, len(text)))
    insert = data.draw(st.text(max_size=5))
    _parse_or_error(text[:cut] + insert + text[cut + data.draw(st.integers(0, 3)) :])
