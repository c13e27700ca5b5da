"""Ground Truth manifest lines: lenient reading, strict errors, normalised writing.

One line is one JSON object describing one image. The classification and segmentation attributes
are found by the ``type`` in their ``<attr>-metadata`` object, never by a fixed name, so user
attribute names (``anomaly-label``, ``auto-label``, ...) survive a round trip.

Reading rules:

- ``source-ref`` is required and must be a non-empty string without control characters.
- ``class-name`` is compared case-insensitively: ``normal``/``anomaly`` give the label, any other
  value (or none) leaves the entry unlabeled. The label attribute's own value (1, 0, "1", ...) is
  ignored. A line holding only ``source-ref`` is an unlabeled entry.
- A segmentation attribute's name must end in ``-ref``; its ``internal-color-map`` may or may not
  hold a ``BACKGROUND`` entry (kept aside in ``background``), colours may be upper or lower case
  and ``confidence`` may be missing. A segmentation line needs the classification keys too, and
  its class must be ``anomaly``.
- ``creation-date`` and every other key are kept exactly as given in ``raw``.

Every problem raises ``ManifestError(line_number, reason)``; nothing else escapes ``parse_line``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

MAX_ENTRY_CHARS = 8192
MAX_COLOUR_MAP_ENTRIES = 256
CLASSIFICATION_TYPE = "groundtruth/image-classification"
SEGMENTATION_TYPE = "groundtruth/semantic-segmentation"
DEFAULT_LABEL_ATTRIBUTE = "anomaly-label"
DEFAULT_MASK_ATTRIBUTE = "anomaly-mask-ref"
_METADATA = "-metadata"
_HEX_COLOUR = re.compile(r"#?([0-9A-Fa-f]{6})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

Label = Literal["normal", "anomaly"]


class ManifestError(Exception):
    """A manifest line that cannot be used; ``line_number`` is 1-based."""

    def __init__(self, line_number: int, reason: str) -> None:
        super().__init__(f"line {line_number}: {reason}")
        self.line_number = line_number
        self.reason = reason


@dataclass(frozen=True)
class ManifestEntry:
    """One parsed manifest line. ``colors`` maps ``#RRGGBB`` to class name (background excluded)."""

    source_ref: str
    label: Label | None
    mask_ref: str | None
    colors: dict[str, str]
    raw: dict[str, Any]
    label_attribute: str
    mask_attribute: str | None
    # Colours the colour map names BACKGROUND (upper-case #RRGGBB).
    background: tuple[str, ...] = field(default=())


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _DuplicateKey(key)
        obj[key] = value
    return obj


def parse_line(text: str, line_number: int) -> ManifestEntry:
    """Parse one manifest line; raise ``ManifestError`` with a precise reason for any problem."""
    if not isinstance(text, str):
        raise ManifestError(line_number, "the line must be text")
    if len(text) > MAX_ENTRY_CHARS:
        raise ManifestError(
            line_number, f"the line is {len(text)} characters long, more than the limit of {MAX_ENTRY_CHARS}"
        )
    if not text.strip():
        raise ManifestError(line_number, "the line is blank")
    try:
        obj = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_object_without_duplicates)
    except _DuplicateKey as exc:
        raise ManifestError(line_number, f"the key {exc.key!r} appears twice in one object") from None
    except json.JSONDecodeError as exc:
        raise ManifestError(line_number, f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise ManifestError(line_number, "not valid JSON (nested too deeply)") from None
    except ValueError as exc:
        raise ManifestError(line_number, f"not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise ManifestError(line_number, f"the line must be a JSON object, not {_kind(obj)}")
    return _entry_from_object(obj, line_number)


def _entry_from_object(obj: dict[str, Any], line_number: int) -> ManifestEntry:
    source_ref = _required_ref(obj, "source-ref", line_number)
    classification: list[str] = []
    segmentation: list[str] = []
    untyped_with_class: list[str] = []
    for key, value in obj.items():
        if not key.endswith(_METADATA) or not isinstance(value, dict):
            continue
        attribute = key[: -len(_METADATA)]
        kind = value.get("type")
        kind = kind.strip().lower() if isinstance(kind, str) else None
        if kind == CLASSIFICATION_TYPE:
            classification.append(attribute)
        elif kind == SEGMENTATION_TYPE:
            segmentation.append(attribute)
        elif kind is None and "class-name" in value and "internal-color-map" not in value:
            untyped_with_class.append(attribute)
    label_attribute = _pick_label_attribute(classification, untyped_with_class, segmentation, line_number)
    label: Label | None = None
    if label_attribute is not None:
        class_name = obj[label_attribute + _METADATA].get("class-name")
        if isinstance(class_name, str):
            lowered = class_name.strip().lower()
            if lowered == "normal":
                label = "normal"
            elif lowered == "anomaly":
                label = "anomaly"
    mask_attribute: str | None = None
    mask_ref: str | None = None
    colors: dict[str, str] = {}
    background: tuple[str, ...] = ()
    if segmentation:
        if len(segmentation) > 1:
            raise ManifestError(
                line_number,
                f"the line has {len(segmentation)} segmentation attributes ({', '.join(segmentation)})",
            )
        mask_attribute = segmentation[0]
        if not mask_attribute.endswith("-ref"):
            raise ManifestError(
                line_number, f"the segmentation attribute {mask_attribute!r} must have a name ending in -ref"
            )
        mask_ref = _required_ref(obj, mask_attribute, line_number)
        colors, background = _colour_map(obj[mask_attribute + _METADATA], mask_attribute, line_number)
        if label == "normal":
            raise ManifestError(line_number, "a normal image cannot have an anomaly mask")
        if label is None:
            raise ManifestError(line_number, "an image with an anomaly mask must have class-name anomaly")
    return ManifestEntry(
        source_ref=source_ref,
        label=label,
        mask_ref=mask_ref,
        colors=colors,
        raw=obj,
        label_attribute=label_attribute or DEFAULT_LABEL_ATTRIBUTE,
        mask_attribute=mask_attribute,
        background=background,
    )


def _required_ref(obj: dict[str, Any], key: str, line_number: int) -> str:
    if key not in obj:
        raise ManifestError(line_number, f"the line has no {key}")
    value = obj[key]
    if not isinstance(value, str):
        raise ManifestError(line_number, f"{key} must be a string, not {_kind(value)}")
    if not value.strip():
        raise ManifestError(line_number, f"{key} is empty")
    if value != value.strip():
        raise ManifestError(line_number, f"{key} has leading or trailing spaces")
    if _CONTROL.search(value):
        raise ManifestError(line_number, f"{key} contains control characters")
    return value


def _pick_label_attribute(
    typed: list[str], untyped: list[str], segmentation: list[str], line_number: int
) -> str | None:
    # Evaluation manifests carry a second, "-detected" classification: the prediction.
    candidates = [a for a in typed if not a.endswith("-detected")] or typed
    if not candidates:
        candidates = untyped
    if len(candidates) > 1:
        raise ManifestError(
            line_number,
            f"the line has {len(candidates)} classification attributes "
            f"({', '.join(candidates)}); expected one",
        )
    if not candidates:
        if segmentation:
            raise ManifestError(
                line_number,
                "a segmentation line needs the classification keys too "
                f"(an '<attribute>-metadata' object with type {CLASSIFICATION_TYPE})",
            )
        return None
    return candidates[0]


def _colour_map(
    metadata: dict[str, Any], attribute: str, line_number: int
) -> tuple[dict[str, str], tuple[str, ...]]:
    where = f"{attribute}-metadata.internal-color-map"
    colour_map = metadata.get("internal-color-map")
    if colour_map is None:
        raise ManifestError(line_number, f"{where} is missing")
    if not isinstance(colour_map, dict):
        raise ManifestError(line_number, f"{where} must be an object, not {_kind(colour_map)}")
    if len(colour_map) > MAX_COLOUR_MAP_ENTRIES:
        raise ManifestError(
            line_number, f"{where} has {len(colour_map)} entries, more than {MAX_COLOUR_MAP_ENTRIES}"
        )
    colors: dict[str, str] = {}
    background: list[str] = []
    for key, item in colour_map.items():
        if not isinstance(item, dict):
            raise ManifestError(line_number, f"{where}[{key!r}] must be an object, not {_kind(item)}")
        name = item.get("class-name")
        if not isinstance(name, str) or not name.strip():
            raise ManifestError(line_number, f"{where}[{key!r}] needs a non-empty class-name")
        hex_colour = item.get("hex-color")
        match = _HEX_COLOUR.fullmatch(hex_colour.strip()) if isinstance(hex_colour, str) else None
        if match is None:
            raise ManifestError(
                line_number, f"{where}[{key!r}] hex-color must look like #rrggbb, got {hex_colour!r}"
            )
        colour = "#" + match.group(1).upper()
        if name.strip().lower() == "background":
            if colour not in background:
                background.append(colour)
            continue
        if colors.get(colour, name) != name:
            raise ManifestError(
                line_number, f"{where} gives colour {colour} to two classes ({colors[colour]!r} and {name!r})"
            )
        colors[colour] = name
    for colour in background:
        if colour in colors:
            raise ManifestError(
                line_number, f"{where} uses colour {colour} for BACKGROUND and for {colors[colour]!r}"
            )
    if not colors:
        raise ManifestError(line_number, f"{where} names no anomaly class")
    return colors, tuple(background)


def render_entry(entry: ManifestEntry, *, source_ref: str | None = None, mask_ref: str | None = None) -> str:
    """The entry as one Ground Truth JSON line, as the service stores and returns it.

    The label value becomes 1 (anomaly) or 0 (normal) and ``class-name`` lower case; user attribute
    names and every other key are kept. ``source_ref``/``mask_ref`` replace the references.
    Unlabeled entries keep their metadata untouched.
    """
    out = copy.deepcopy(entry.raw)
    out["source-ref"] = source_ref if source_ref is not None else entry.source_ref
    if entry.label is not None:
        meta_key = entry.label_attribute + _METADATA
        metadata = out.get(meta_key)
        if not isinstance(metadata, dict):
            metadata = {"class-name": entry.label, "type": CLASSIFICATION_TYPE, "human-annotated": "yes"}
        out[entry.label_attribute] = 1 if entry.label == "anomaly" else 0
        metadata["class-name"] = entry.label
        out[meta_key] = metadata
    if entry.mask_attribute is not None:
        new_mask = mask_ref if mask_ref is not None else entry.mask_ref
        if new_mask is not None:
            out[entry.mask_attribute] = new_mask
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False)


def new_entry(
    source_ref: str,
    label: Label | None,
    *,
    mask_ref: str | None = None,
    colors: dict[str, str] | None = None,
    label_attribute: str = DEFAULT_LABEL_ATTRIBUTE,
    mask_attribute: str = DEFAULT_MASK_ATTRIBUTE,
    job_name: str = "openlookout/upload",
    creation_date: str | None = None,
) -> ManifestEntry:
    """A fresh entry for an image added without a manifest (uploads, folder imports)."""
    raw: dict[str, Any] = {"source-ref": source_ref}
    if label is not None:
        metadata: dict[str, Any] = {
            "class-name": label,
            "type": CLASSIFICATION_TYPE,
            "human-annotated": "yes",
            "job-name": job_name,
        }
        if creation_date is not None:
            metadata["creation-date"] = creation_date
        raw[label_attribute] = 1 if label == "anomaly" else 0
        raw[label_attribute + _METADATA] = metadata
    use_mask = mask_ref is not None
    if use_mask:
        if label != "anomaly" or not colors:
            raise ValueError("a mask needs label 'anomaly' and a non-empty colour map")
        raw[mask_attribute] = mask_ref
        raw[mask_attribute + _METADATA] = {
            "internal-color-map": {
                str(i): {"class-name": name, "hex-color": colour.lower(), "confidence": 0.0}
                for i, (colour, name) in enumerate(colors.items())
            },
            "type": SEGMENTATION_TYPE,
            "human-annotated": "yes",
            "job-name": job_name,
        }
    return ManifestEntry(
        source_ref=source_ref,
        label=label,
        mask_ref=mask_ref,
        colors=dict(colors or {}) if use_mask else {},
        raw=raw,
        label_attribute=label_attribute,
        mask_attribute=mask_attribute if use_mask else None,
    )


class LineReader(Protocol):
    """Anything with ``readline(limit)``: an open file, ``io.BytesIO``, a source's capped stream."""

    def readline(self, limit: int = -1, /) -> bytes | str: ...


def iter_manifest_lines(stream: LineReader) -> Iterator[tuple[int, str]]:
    """``(line_number, text)`` for each non-blank line of a manifest (1-based numbers).

    Reads at most a bounded amount per line: a line over 8,192 characters raises ``ManifestError``
    without being read whole. Bytes must be UTF-8 (a leading byte-order mark is dropped).
    """
    limit = MAX_ENTRY_CHARS * 4 + 2
    line_number = 0
    while True:
        chunk = stream.readline(limit)
        if not chunk:
            return
        line_number += 1
        if isinstance(chunk, bytes):
            if len(chunk) >= limit and not chunk.endswith(b"\n"):
                raise ManifestError(line_number, f"the line is longer than {MAX_ENTRY_CHARS} characters")
            try:
                text = chunk.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ManifestError(line_number, f"the line is not valid UTF-8 (byte {exc.start})") from None
        else:
            text = chunk
            if len(text) >= limit and not text.endswith("\n"):
                raise ManifestError(line_number, f"the line is longer than {MAX_ENTRY_CHARS} characters")
        if line_number == 1 and text.startswith("\ufeff"):
            text = text[1:]
        text = text.rstrip("\r\n")
        if len(text) > MAX_ENTRY_CHARS:
            raise ManifestError(
                line_number,
                f"the line is {len(text)} characters long, more than the limit of {MAX_ENTRY_CHARS}",
            )
        if text.strip():
            yield line_number, text
