// OpenLookout console, model pages: live status, packaging refresh, result overlays.
"use strict";

const POLL_MS = 1000;

// The page's main part fetched again and swapped in place (no navigation), so forms and metrics
// match the model's new state; a full reload only when that fails.
async function refreshMain() {
  try {
    const response = await fetch(window.location.href, { headers: { Accept: "text/html" }, cache: "no-store" });
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html").querySelector("main");
    if (!response.ok || !fresh) throw new Error("status " + response.status);
    document.querySelector("main").replaceWith(document.adoptNode(fresh));
    setUp(document);
  } catch (e) {
    window.location.reload();
  }
}

// A status element with data-poll follows the model's status JSON and updates itself and the
// status message; when the model leaves the transitional state the page's main part is refreshed.
function followStatus(element) {
  const url = element.dataset.poll;
  const message = document.querySelector(".model-message");
  const tick = async () => {
    if (!element.isConnected) return;
    let body = null;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
      if (response.ok) body = await response.json();
    } catch (e) {
      body = null;
    }
    if (body && body.Status) {
      const changed = body.Status !== element.dataset.status;
      element.textContent = body.Status;
      element.className = "model-status status-" + body.Status.toLowerCase();
      if (message && body.StatusMessage !== undefined) message.textContent = body.StatusMessage;
      if (changed) {
        element.dataset.status = body.Status;
        if (!element.dataset.transitional.split(" ").includes(body.Status)) {
          refreshMain();
          return;
        }
      }
    }
    window.setTimeout(tick, POLL_MS);
  };
  window.setTimeout(tick, POLL_MS);
}

// Tables with data-reload-after hold running jobs: refresh the page after that many seconds.
function reloadLater(element) {
  const seconds = Number(element.dataset.reloadAfter) || 2;
  window.setTimeout(refreshMain, seconds * 1000);
}

// The result view: opacity slider and the choice of overlay (predicted mask or heatmap).
function setUpResultView(view) {
  const overlay = view.querySelector(".overlay.predicted");
  const slider = view.querySelector(".opacity");
  const apply = () => { overlay.style.opacity = String(Number(slider.value) / 100); };
  slider.addEventListener("input", apply);
  apply();
  for (const radio of view.querySelectorAll("input[name=overlay]")) {
    radio.addEventListener("change", () => {
      if (radio.checked) overlay.src = view.dataset.base + radio.value;
    });
  }
}

function setUp(root) {
  for (const element of root.querySelectorAll(".model-status[data-poll]")) followStatus(element);
  for (const element of root.querySelectorAll("[data-reload-after]")) reloadLater(element);
  for (const view of root.querySelectorAll(".result-view")) setUpResultView(view);
}

document.addEventListener("DOMContentLoaded", () => setUp(document));
