// OpenLookout console: image uploads (drag-and-drop or file picker) and labeling shortcuts.
"use strict";

function uploadUrl(project, type, file, label) {
  const query = new URLSearchParams({ name: file.name });
  if (label) query.set("label", label);
  return "/openlookout/v1/projects/" + encodeURIComponent(project) + "/datasets/" +
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

async function uploadFiles(section, files) {
  const form = section.querySelector(".upload-form");
  const type = form.elements.type.value;
  const label = form.elements.label.value;
  const progress = section.querySelector(".progress");
  const errors = section.querySelector(".upload-errors");
  errors.textContent = "";
  let done = 0, failed = 0;
  const total = files.length;
  const show = () => { progress.textContent = "Uploaded " + (done - failed) + " of " + total +
    (failed ? " (" + failed + " failed)" : ""); };
  show();
  for (const file of files) {
    let message = null;
    try {
      const response = await fetch(uploadUrl(section.dataset.project, type, file, label), {
        method: "POST", body: file, headers: { "Content-Type": "application/octet-stream" },
      });
      if (!response.ok) message = await errorText(response);
    } catch (e) {
      message = "network error: " + e;
    }
    done += 1;
    if (message) {
      failed += 1;
      const item = document.createElement("li");
      item.textContent = file.name + ": " + message;
      errors.appendChild(item);
    }
    show();
  }
  if (failed === 0) window.location.reload();
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

function setUpLabeling(form) {
  document.addEventListener("keydown", (event) => {
    if (event.target.matches("input[type=text], input:not([type]), select, textarea")) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const button = form.querySelector("button[data-key='" + event.key + "']");
    if (button && form.querySelector("input[name=ref]:checked")) button.click();
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const section = document.getElementById("upload");
  if (section) setUpUpload(section);
  const labeling = document.querySelector("form.labeling");
  if (labeling) setUpLabeling(labeling);
});
