"""The labeling page's previous / next walk the gallery's filtered sequence (live server, httpx)."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import numpy as np
from tests.helpers.synthetic import png_image

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
GALLERY = "/projects/walks/datasets/train/gallery"
# name, label: uploaded in this order, so ListDatasetEntries (and the gallery) list them so.
IMAGES = [
    ("pin0.png", "normal"),
    ("nut1.png", "anomaly"),
    ("pin2.png", None),
    ("pin3.png", "anomaly"),
    ("nut4.png", "normal"),
    ("pin5.png", "anomaly"),
    ("pin6.png", None),
    ("nut7.png", "anomaly"),
]


def _upload(web: httpx.Client, data: bytes, name: str, label: str | None) -> str:
    response = web.post(
        "/openlookout/v1/projects/walks/datasets/train/images",
        params={"name": name, **({"label": label} if label else {})},
        content=data,
        headers={"Content-Type": "application/octet-stream", "Accept": "application/json"},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["SourceRef"])


def _paint(web: httpx.Client, ref: str, type_name: str) -> None:
    """Save a small mask of ``type_name`` on image ``ref`` through the labeling page's mask route."""
    labels = np.zeros((64, 96), dtype=np.uint8)
    labels[4:12, 8:20] = 1
    runs: list[int] = []
    flat = labels.ravel().tolist()
    start = 0
    for index in range(1, len(flat) + 1):
        if index == len(flat) or flat[index] != flat[start]:
            runs += [flat[start], index - start]
            start = index
    saved = web.post(
        "/console/api/projects/walks/datasets/train/mask?" + urlencode({"ref": ref}),
        json={"width": 96, "height": 64, "types": [type_name], "runs": runs},
    )
    assert saved.status_code == 200, saved.text


def _tile_links(gallery_html: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r'<a class="open" href="([^"]+)"', gallery_html)]


def _ref(url: str) -> str:
    return parse_qs(urlsplit(url).query)["ref"][0]


def _links(page_html: str) -> dict[str, str]:
    found = re.findall(r'<a href="([^"]+)" rel="(prev|next)">', page_html)
    return {rel: html.unescape(href) for href, rel in found}


def _position(page_html: str) -> str:
    found = re.search(r'<span class="position">([^<]+)</span>', page_html)
    assert found is not None, page_html
    return found.group(1)


def _back(page_html: str) -> str:
    found = re.search(r'<a href="([^"]+)" class="back">', page_html)
    assert found is not None, page_html
    return html.unescape(found.group(1))


def _walk(web: httpx.Client, first: str) -> list[str]:
    """Follow next from ``first`` to the end, then prev back; check both ways and each position."""
    pages = [web.get(first)]
    while "next" in _links(pages[-1].text):
        pages.append(web.get(_links(pages[-1].text)["next"]))
        assert len(pages) <= len(IMAGES), "next links loop"
    forward = [_ref(str(p.url)) for p in pages]
    for number, shown in enumerate(pages, start=1):
        assert shown.status_code == 200
        assert _position(shown.text) == f"image {number} of {len(pages)}"
    backward = [forward[-1]]
    current = pages[-1]
    while "prev" in _links(current.text):
        current = web.get(_links(current.text)["prev"])
        backward.append(_ref(str(current.url)))
    assert backward == forward[::-1]
    return forward


def _gallery_refs(web: httpx.Client, filters: dict[str, str]) -> tuple[list[str], list[str]]:
    gallery = web.get(GALLERY, params=filters)
    assert gallery.status_code == 200
    links = _tile_links(gallery.text)
    return links, [_ref(link) for link in links]


def test_label_page_walks_the_filtered_gallery_sequence(server: Any, lv: Any) -> None:
    lv.create_project(ProjectName="walks")
    with httpx.Client(base_url=server.url, timeout=30.0, follow_redirects=True, headers=HTML) as web:
        refs = {name: _upload(web, png_image(seed=i), name, label) for i, (name, label) in enumerate(IMAGES)}
        web.post("/projects/walks/anomaly-types", data={"name": "scratch", "color": "#ff0000"})
        web.post("/projects/walks/anomaly-types", data={"name": "dent", "color": "#0000ff"})
        for name, kind in (("nut1.png", "scratch"), ("pin3.png", "dent"), ("pin5.png", "scratch")):
            _paint(web, refs[name], kind)

        expected = {
            "class=anomaly": ["nut1.png", "pin3.png", "pin5.png", "nut7.png"],
            "labeled=no": ["pin2.png", "pin6.png"],
            "class=anomaly&contains=pin": ["pin3.png", "pin5.png"],
            "type=scratch": ["nut1.png", "pin5.png"],
            "labeled=yes&class=normal&contains=nut": ["nut4.png"],
        }
        for query, names in expected.items():
            filters = {k: v[0] for k, v in parse_qs(query).items()}
            links, shown = _gallery_refs(web, filters)
            assert shown == [refs[n] for n in names], query
            for link in links:  # every tile carries the gallery's filters
                assert {k: v[0] for k, v in parse_qs(urlsplit(link).query).items() if k != "ref"} == filters
            assert _walk(web, links[0]) == shown, query
            back = _back(web.get(links[-1]).text)
            assert urlsplit(back).path == GALLERY
            assert {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()} == filters
            assert _gallery_refs(web, filters)[1] == shown  # the way back shows the same images

        # Unfiltered: tile links carry only the ref, and the walk is the whole dataset in order.
        links, shown = _gallery_refs(web, {})
        assert shown == [refs[n] for n, _ in IMAGES]
        assert all(set(parse_qs(urlsplit(link).query)) == {"ref"} for link in links)
        assert _walk(web, links[0]) == shown
        assert _back(web.get(links[0]).text) == GALLERY

        # Relabeling an image out of the filter: its page says so, and prev / next still work.
        links, shown = _gallery_refs(web, {"class": "anomaly"})
        pin3_page = web.get(links[1])
        form = re.search(
            r'<form method="post" action="([^"]+)" class="inline label-form">(.*?)</form>', pin3_page.text
        )
        assert form is not None
        hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(2)))
        assert hidden == {"ref": refs["pin3.png"], "class": "anomaly"}
        relabeled = web.post(html.unescape(form.group(1)), data={**hidden, "label": "normal"})
        assert relabeled.status_code == 200
        assert parse_qs(urlsplit(str(relabeled.url)).query) == {
            "ref": [refs["pin3.png"]],
            "class": ["anomaly"],
        }
        assert _position(relabeled.text) == "no longer matches the filters (3 images do)"
        after = {rel: _ref(url) for rel, url in _links(relabeled.text).items()}
        assert after == {"prev": refs["nut1.png"], "next": refs["pin5.png"]}
        following = web.get(_links(relabeled.text)["next"])
        assert _position(following.text) == "image 2 of 3"
        assert _ref(_links(following.text)["prev"]) == refs["nut1.png"]
        assert _walk(web, _tile_links(web.get(GALLERY, params={"class": "anomaly"}).text)[0]) == [
            refs[n] for n in ("nut1.png", "pin5.png", "nut7.png")
        ]

        # A bad filter value gets the service's reason, not a stack trace.
        bad = web.get(
            "/projects/walks/datasets/train/label", params={"ref": refs["pin0.png"], "class": "odd"}
        )
        assert bad.status_code == 400 and "anomalyClass must be normal or anomaly." in bad.text
