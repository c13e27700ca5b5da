"""Console gallery benchmark: does the gallery of a 16,000-image dataset open in under a second?

Builds a project whose train dataset holds 16,000 small distinct synthetic PNGs (written to a
temporary folder and imported by the server's own folder import, as ``list_latency.py`` does),
starts ``openlookout serve`` as a subprocess, and measures over HTTP, like a browser would:

- the gallery HTML: time to first byte (response headers) and full load, for the first page,
  deep pages reached through the pages' own "next page" links, and filtered pages (class,
  name contains, anomaly type);
- the 60 thumbnails of a page fetched six at a time (a browser's connections per host): cold (the
  server makes each thumbnail on its first request) and warm (made already; a real browser would
  not even ask again, since thumbnails are served with an immutable one-year Cache-Control).

Prints p50/p90 of each and whether "the gallery opens in under a second" holds for HTML plus 60
warm thumbnails (and, reported too, with cold thumbnails).

Usage: python benchmarks/console_gallery.py [--entries 16000] [--size 64] [--pages 10]
This is a measurement, not a test: it prints figures and never fails on a slow result.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from import_rate import import_folder, running_server
from list_latency import percentile, tiny_png

from openlookout.cli.api import ApiClient

PROJECT = "gallery-bench"
GALLERY = f"/projects/{PROJECT}/datasets/train/gallery"
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
BROWSER_CONNECTIONS = 6
GOAL_SECONDS = 1.0
_THUMB = re.compile(r'src="(/console/thumbs/[0-9a-f]{64}\.jpg)"')
_NEXT = re.compile(r'<a href="([^"]+)" rel="next">')


def write_folder(root: Path, count: int, size: int, anomaly_share: float = 0.25) -> None:
    """``count`` distinct ``size`` x ``size`` PNGs under ``normal/`` and ``anomaly/``."""
    anomalies = int(count * anomaly_share)
    for label in ("normal", "anomaly"):
        (root / label).mkdir(parents=True, exist_ok=True)
    for index in range(count):
        label = "anomaly" if index < anomalies else "normal"
        (root / label / f"part_{index:06d}.png").write_bytes(tiny_png(index, size))


def load_html(web: httpx.Client, url: str) -> tuple[float, float, str]:
    """(seconds to the response headers, seconds to the whole body, body) of one gallery page."""
    started = time.perf_counter()
    with web.stream("GET", url) as response:
        first_byte = time.perf_counter() - started
        body = response.read().decode("utf-8")
        total = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"GET {url} answered {response.status_code}: {body[:300]}")
    return first_byte, total, body


def load_thumbs(web: httpx.Client, urls: list[str]) -> tuple[float, list[float]]:
    """Fetch ``urls`` over BROWSER_CONNECTIONS at once: (wall seconds, seconds per thumbnail)."""

    def one(url: str) -> float:
        started = time.perf_counter()
        response = web.get(url)
        if response.status_code != 200:
            raise SystemExit(f"GET {url} answered {response.status_code}")
        return time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=BROWSER_CONNECTIONS) as pool:
        each = list(pool.map(one, urls))
    return time.perf_counter() - started, each


def line(name: str, seconds: list[float]) -> None:
    ms = [s * 1000.0 for s in seconds]
    print(
        f"  {name:<48} n={len(ms):>4}  p50={statistics.median(ms):7.1f} ms  p90={percentile(ms, 0.9):7.1f} ms"
    )


def walk_pages(web: httpx.Client, pages: int) -> list[tuple[float, float, str]]:
    """The first ``pages`` pages, each reached through the previous page's next link."""
    url: str | None = GALLERY
    loaded = []
    while url and len(loaded) < pages:
        result = load_html(web, url)
        loaded.append(result)
        found = _NEXT.search(result[2])
        url = found.group(1).replace("&amp;", "&") if found else None
    return loaded


def deep_url(web: httpx.Client, depth: int) -> str:
    """The URL of page ``depth`` (following next links, as a user paging would)."""
    url = GALLERY
    for _ in range(depth - 1):
        found = _NEXT.search(web.get(url).text)
        if not found:
            break
        url = found.group(1).replace("&amp;", "&")
    return url


def measure(url: str, args: argparse.Namespace) -> None:
    with httpx.Client(base_url=url, headers=HTML, timeout=60.0) as web:
        print(f"gallery HTML ({args.rounds} loads each; thumbnails not included):")
        scenarios = {
            "first page": GALLERY,
            f"deep page (page {args.deep})": deep_url(web, args.deep),
            "filter class=anomaly": f"{GALLERY}?{urlencode({'class': 'anomaly'})}",
            "filter name contains part_0123": f"{GALLERY}?{urlencode({'contains': 'part_0123'})}",
            "filter type=scratch (no match, scans)": f"{GALLERY}?{urlencode({'type': 'scratch'})}",
        }
        html_totals: list[float] = []
        for name, target in scenarios.items():
            runs = [load_html(web, target) for _ in range(args.rounds)]
            line(f"{name}: first byte", [r[0] for r in runs])
            line(f"{name}: full load", [r[1] for r in runs])
            if name == "first page":
                html_totals = [r[1] for r in runs]
        walked = walk_pages(web, args.pages)
        line(f"pages 1-{len(walked)} via next links: full load", [r[1] for r in walked])

        print(f"thumbnails, 60 per page, {BROWSER_CONNECTIONS} at a time, {len(walked)} pages:")
        cold_walls, warm_walls, cold_each, warm_each = [], [], [], []
        for _, _, body in walked:
            thumbs = _THUMB.findall(body)
            wall, each = load_thumbs(web, thumbs)
            cold_walls.append(wall)
            cold_each.extend(each)
            wall, each = load_thumbs(web, thumbs)
            warm_walls.append(wall)
            warm_each.extend(each)
        line("cold: one thumbnail", cold_each)
        line("cold: all 60 of a page", cold_walls)
        line("warm: one thumbnail", warm_each)
        line("warm: all 60 of a page", warm_walls)

    html_p50 = statistics.median(html_totals)
    warm_total = html_p50 + statistics.median(warm_walls)
    cold_total = html_p50 + statistics.median(cold_walls)
    verdict = "holds" if warm_total < GOAL_SECONDS else "does NOT hold"
    print(
        f"gallery opens (first page HTML p50 + 60 warm thumbnails p50): {warm_total * 1000:.0f} ms: "
        f"'under a second' {verdict}"
    )
    cold_verdict = "under" if cold_total < GOAL_SECONDS else "over"
    print(f"with cold thumbnails (first visit ever): {cold_total * 1000:.0f} ms ({cold_verdict} a second)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=16000)
    parser.add_argument("--size", type=int, default=64, help="image side in pixels (at least 64)")
    parser.add_argument("--pages", type=int, default=10, help="pages walked for thumbnails")
    parser.add_argument("--deep", type=int, default=200, help="the deep page's number")
    parser.add_argument("--rounds", type=int, default=20, help="loads of each HTML scenario")
    parser.add_argument("--workers", type=int, default=4, help="server job worker threads")
    parser.add_argument("--timeout", type=float, default=3600.0)
    args = parser.parse_args(argv)

    print("(temporary files are removed at the end; on slow disks that takes a while)")
    with tempfile.TemporaryDirectory(prefix="olk-gallery-bench-") as tmp:
        root = Path(tmp)
        images = root / "images"
        started = time.perf_counter()
        write_folder(images, args.entries, args.size)
        print(
            f"generated {args.entries} {args.size}x{args.size} PNGs in {time.perf_counter() - started:.1f} s"
        )
        with running_server(root / "data", images, workers=args.workers) as url:
            api = ApiClient(url, "us-east-1")
            description, seconds = import_folder(api, PROJECT, images, timeout=args.timeout)
            api.close()
            total = int(description.get("ImageStats", {}).get("Total", 0))
            print(f"dataset: {description.get('Status')}, {total} entries, imported in {seconds:.1f} s")
            if total < args.entries:
                print(f"the import stopped short: {description.get('StatusMessage')}")
                return 1
            measure(url, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
