// OpenLookout console: image uploads (drag-and-drop or file picker, several at once), labeling
// shortcuts and the self-refresh of pages showing work in progress.
"use strict";

function uploadUrl(project, type, file, label) {
  const query = new URLSearchParams({ name: file.name });
  if (label) query.set("label", label);
  return "/console/api/projects/" + encodeURIComponent(project) + "/datasets/" +
    encodeURIComponent(type) + "/images?" + query.toString();
}

async function errorText(response) {
  try {
    const body = await response.json();
    return body.message || body.Message || response.statusText;
  } catch (e) {
    return response.status + " " + response.statusText;
  }
}

const PARALLEL_UPLOADS = 4;

async function uploadOne(project, type, label, file) {
  try {
    const response = await fetch(uploadUrl(project, type, file, label), {
      method: "POST", body: file,
      headers: { "Content-Type": "application/octet-stream", Accept: "application/json" },
    });
    return response.ok ? null : await errorText(response);
  } catch (e) {
    return "network error: " + e;
  }
}

// Sends the files PARALLEL_UPLOADS at a time (the first alone); the count and the error list
// (in the files' order) follow each answer.
async function uploadFiles(section, files) {
  const form = section.querySelector(".upload-form");
  const type = form.elements.type.value;
  const label = form.elements.label.value;
  const progress = section.querySelector(".progress");
  const errors = section.querySelector(".upload-errors");
  errors.textContent = "";
  let done = 0, failed = 0, next = 0;
  const total = files.length;
  const failures = new Array(total).fill(null);
  const show = () => {
    progress.textContent = "Uploaded " + (done - failed) + " of " + total +
      (failed ? " (" + failed + " failed)" : "") + (done < total ? "..." : "");
  };
  const listFailures = () => {
    errors.textContent = "";
    failures.forEach((message, index) => {
      if (message === null) return;
      const item = document.createElement("li");
      // The service names the image itself ("image a.png: ..."); say the name only once.
      const own = "image " + files[index].name + ": ";
      const reason = message.startsWith(own) ? message.slice(own.length) : message;
      item.textContent = files[index].name + ": " + reason;
      errors.appendChild(item);
    });
  };
  const sendOne = async (index) => {
    const message = await uploadOne(section.dataset.project, type, label, files[index]);
    done += 1;
    if (message !== null) {
      failed += 1;
      failures[index] = message;
      listFailures();
    }
    show();
  };
  const worker = async () => {
    while (next < total) await sendOne(next++);
  };
  show();
  // The first file goes alone: it may create the dataset, which parallel uploads would race on.
  if (total > 0) await sendOne(next++);
  const workers = [];
  for (let i = 0; i < Math.min(PARALLEL_UPLOADS, total); i++) workers.push(worker());
  await Promise.all(workers);
  show();
  if (total > 0 && failed === 0) window.location.reload();
}

function setUpUpload(section) {
  const input = section.querySelector("input[type=file]");
  const zone = section.querySelector(".dropzone");
  input.addEventListener("change", () => uploadFiles(section, Array.from(input.files)));
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    uploadFiles(section, Array.from(event.dataTransfer.files));
  });
}

// Multi-select: "select all" toggles every image of the page; shift-click selects a range.
function setUpSelection(form) {
  const boxes = Array.from(form.querySelectorAll("input[name=ref]"));
  const all = form.querySelector("button.select-all");
  if (all) {
    all.addEventListener("click", () => {
      const select = boxes.some((box) => !box.checked);
      boxes.forEach((box) => { box.checked = select; });
    });
  }
  let last = null;
  boxes.forEach((box, index) => {
    box.addEventListener("click", (event) => {
      if (event.shiftKey && last !== null) {
        const [from, to] = last < index ? [last, index] : [index, last];
        for (let i = from; i <= to; i++) boxes[i].checked = box.checked;
      }
      last = index;
    });
  });
}

function setUpLabeling(form) {
  setUpSelection(form);
  document.addEventListener("keydown", (event) => {
    if (event.target.matches("input[type=text], input:not([type]), select, textarea")) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const button = form.querySelector("button[data-key='" + event.key + "']");
    if (button && form.querySelector("input[name=ref]:checked")) button.click();
  });
}

// A page showing work in progress (data-auto-refresh = milliseconds) reloads itself until it ends.
function setUpAutoRefresh(marker) {
  const delay = parseInt(marker.dataset.autoRefresh, 10) || 2000;
  window.setTimeout(() => window.location.reload(), delay);
}

// Colour swatches carry their colour as data (the pages allow no inline styles).
function paintSwatches() {
  document.querySelectorAll(".swatch[data-color]").forEach((swatch) => {
    swatch.style.background = swatch.dataset.color;
  });
}

document.addEventListener("DOMContentLoaded", () => {
  paintSwatches();
  const refresh = document.querySelector("[data-auto-refresh]");
  if (refresh) setUpAutoRefresh(refresh);
  const section = document.getElementById("upload");
  if (section) setUpUpload(section);
  const labeling = document.querySelector("form.labeling");
  if (labeling) setUpLabeling(labeling);
});
