// OpenLookout console, trial detection: live progress filling the review grid, verdicts without page
// reloads, keyboard review.
"use strict";

function fillCheckedTiles(tiles) {
  // Swap each "waiting for the model" tile for the checked one; tiles already reviewable stay as they are.
  const template = document.createElement("template");
  for (const tile of tiles) {
    const waiting = document.getElementById("image-" + tile.id);
    if (!waiting || !waiting.classList.contains("pending")) continue;
    template.innerHTML = tile.html;
    const fresh = template.content.firstElementChild;
    if (fresh) waiting.replaceWith(fresh);
  }
}

function watchProgress(section) {
  const bar = section.querySelector("progress");
  const checked = section.querySelector(".trial-checked");
  const query = new URLSearchParams(window.location.search);
  query.set("tiles", "1");
  const url = section.dataset.api + "?" + query.toString();
  const poll = async () => {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const body = await response.json();
        bar.max = Math.max(1, body.counts.total);
        bar.value = body.counts.checked;
        checked.textContent = String(body.counts.checked);
        fillCheckedTiles(body.tiles || []);
        updateCounts(body.counts);
        const summary = document.querySelector(".trial-summary");
        if (summary && body.summary) {
          summary.outerHTML = body.summary;
        }
        if (body.status !== "RUNNING") {
          section.remove();
          return;
        }
      }
    } catch (e) {
      // the server may be restarting: keep polling
    }
    window.setTimeout(poll, 700);
  };
  window.setTimeout(poll, 500);
}

function showBanner(message) {
  let banner = document.querySelector("main > .error");
  if (!banner) {
    banner = document.createElement("p");
    banner.className = "error";
    banner.setAttribute("role", "alert");
    document.querySelector("main h1").after(banner);
  }
  banner.textContent = message;
}

function updateCounts(counts) {
  for (const node of document.querySelectorAll(".ready-count")) node.textContent = String(counts.ready);
  for (const node of document.querySelectorAll(".reviewed-count")) node.textContent = String(counts.reviewed);
}

async function sendVerdict(tile, verdict) {
  const form = tile.querySelector(".verdict-form");
  if (!form) return false;
  const response = await fetch(form.dataset.api, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
    body: new URLSearchParams({ verdict: verdict }).toString(),
  });
  let body = null;
  try {
    body = await response.json();
  } catch (e) {
    body = { message: response.status + " " + response.statusText };
  }
  if (!response.ok) {
    showBanner(body.message || "The verdict was not saved.");
    return false;
  }
  tile.dataset.verdict = body.image.verdict;
  tile.classList.remove("verdict-none", "verdict-normal", "verdict-anomaly");
  tile.classList.add("verdict-" + body.image.verdict);
  tile.querySelector(".verdict").textContent = body.image.text;
  updateCounts(body.counts);
  return true;
}

function reviewable() {
  return Array.from(document.querySelectorAll(".trial-tile.reviewable"));
}

function neighbour(tiles, current, key) {
  const index = tiles.indexOf(current);
  if (index < 0) return tiles[0];
  if (key === "ArrowRight") return tiles[Math.min(tiles.length - 1, index + 1)];
  if (key === "ArrowLeft") return tiles[Math.max(0, index - 1)];
  // Up and down: the tile of the next or previous row closest in x.
  const here = current.getBoundingClientRect();
  const down = key === "ArrowDown";
  let best = current;
  let bestScore = Infinity;
  for (const tile of tiles) {
    const box = tile.getBoundingClientRect();
    const dy = box.top - here.top;
    if ((down && dy <= 1) || (!down && dy >= -1)) continue;
    const score = Math.abs(dy) * 10000 + Math.abs(box.left - here.left);
    if (score < bestScore) {
      bestScore = score;
      best = tile;
    }
  }
  return best;
}

function setUpReview(grid) {
  const keys = { c: "confirm", n: "normal", a: "anomaly" };
  grid.addEventListener("submit", async (event) => {
    const tile = event.target.closest(".trial-tile");
    const verdict = event.submitter ? event.submitter.value : "";
    if (!tile || !verdict) return;
    event.preventDefault();
    await sendVerdict(tile, verdict);
    tile.focus();
  });
  grid.addEventListener("click", (event) => {
    const tile = event.target.closest(".trial-tile.reviewable");
    if (tile && !event.target.closest("button")) tile.focus();
  });
  document.addEventListener("keydown", async (event) => {
    if (event.target.matches("input, select, textarea")) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const tiles = reviewable();
    if (tiles.length === 0) return;
    const current = document.activeElement && document.activeElement.closest(".trial-tile.reviewable");
    if (event.key.startsWith("Arrow")) {
      event.preventDefault();
      const next = current ? neighbour(tiles, current, event.key) : tiles[0];
      if (next) next.focus();
      return;
    }
    const verdict = keys[event.key];
    if (!verdict || !current || event.repeat) return;
    event.preventDefault();
    if (await sendVerdict(current, verdict)) {
      const index = tiles.indexOf(current);
      (tiles[index + 1] || current).focus();
    }
  });
}

function setUpAddForm(form) {
  const select = form.querySelector("select[name=dataset]");
  const label = form.querySelector(".dataset-name");
  if (select && label) select.addEventListener("change", () => { label.textContent = select.value; });
}

document.addEventListener("DOMContentLoaded", () => {
  const progress = document.getElementById("trial-progress");
  if (progress) watchProgress(progress);
  const grid = document.querySelector(".trial-grid");
  if (grid) setUpReview(grid);
  const add = document.querySelector("form.trial-add");
  if (add) setUpAddForm(add);
});
