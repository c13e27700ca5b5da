// OpenLookout labeling page: label shortcuts, previous/next image, and the mask editor.
//
// The editor paints an integer label map (one byte per pixel: 0 background, k the k-th anomaly
// type of the page's list) with its own pixel routines, so no anti-aliasing ever reaches the
// saved mask. The map is shown through a palette on a canvas over the image and saved
// run-length encoded as JSON ({width, height, types, runs}); the server builds the PNG.
"use strict";

(function () {
  const ZOOM_MIN = 0.25;
  const ZOOM_MAX = 40;
  const UNDO_LIMIT = 200;

  // --- pixel routines on a label map {width, height, data: Uint8Array} ---------------------

  function paintDisc(map, cx, cy, radius, value, box) {
    const r = Math.floor(radius);
    const r2 = radius * radius;
    for (let dy = -r; dy <= r; dy++) {
      const y = cy + dy;
      if (y < 0 || y >= map.height) continue;
      for (let dx = -r; dx <= r; dx++) {
        const x = cx + dx;
        if (x < 0 || x >= map.width || dx * dx + dy * dy > r2) continue;
        map.data[y * map.width + x] = value;
      }
    }
    grow(box, cx - r, cy - r, cx + r, cy + r);
  }

  function paintLine(map, x0, y0, x1, y1, radius, value, box) {
    const steps = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0));
    for (let i = 0; i <= steps; i++) {
      const t = steps === 0 ? 0 : i / steps;
      paintDisc(map, Math.round(x0 + (x1 - x0) * t), Math.round(y0 + (y1 - y0) * t), radius, value, box);
    }
  }

  // Pixels whose centre lies inside the polygon (even-odd rule); vertices in pixel units.
  function fillPolygon(map, points, value, box) {
    let top = Infinity, bottom = -Infinity;
    for (const p of points) { top = Math.min(top, p.y); bottom = Math.max(bottom, p.y); }
    const yStart = Math.max(0, Math.ceil(top - 0.5));
    const yEnd = Math.min(map.height - 1, Math.floor(bottom - 0.5));
    for (let py = yStart; py <= yEnd; py++) {
      const yc = py + 0.5;
      const xs = [];
      for (let i = 0; i < points.length; i++) {
        const a = points[i], b = points[(i + 1) % points.length];
        if ((a.y <= yc && yc < b.y) || (b.y <= yc && yc < a.y)) {
          xs.push(a.x + (yc - a.y) * (b.x - a.x) / (b.y - a.y));
        }
      }
      xs.sort((m, n) => m - n);
      for (let k = 0; k + 1 < xs.length; k += 2) {
        const from = Math.max(0, Math.ceil(xs[k] - 0.5));
        const to = Math.min(map.width - 1, Math.floor(xs[k + 1] - 0.5));
        for (let px = from; px <= to; px++) map.data[py * map.width + px] = value;
        if (from <= to) grow(box, from, py, to, py);
      }
    }
  }

  // 4-connected flood fill of the region of equal labels around (x, y), span by span.
  function floodFill(map, x, y, value, box) {
    const w = map.width, h = map.height, data = map.data;
    const target = data[y * w + x];
    if (target === value) return;
    const stack = [x, y];
    while (stack.length) {
      const sy = stack.pop(), sx = stack.pop();
      let left = sx;
      while (left > 0 && data[sy * w + left - 1] === target) left--;
      let right = sx;
      while (right < w - 1 && data[sy * w + right + 1] === target) right++;
      for (let px = left; px <= right; px++) data[sy * w + px] = value;
      grow(box, left, sy, right, sy);
      for (const ny of [sy - 1, sy + 1]) {
        if (ny < 0 || ny >= h) continue;
        let px = left;
        while (px <= right) {
          if (data[ny * w + px] === target) {
            stack.push(px, ny);
            while (px <= right && data[ny * w + px] === target) px++;
          } else {
            px++;
          }
        }
      }
    }
  }

  function grow(box, x0, y0, x1, y1) {
    box.x0 = Math.min(box.x0, x0); box.y0 = Math.min(box.y0, y0);
    box.x1 = Math.max(box.x1, x1); box.y1 = Math.max(box.y1, y1);
  }

  function emptyBox() { return { x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity }; }

  function encodeRuns(data) {
    const runs = [];
    let i = 0;
    while (i < data.length) {
      const value = data[i];
      let j = i + 1;
      while (j < data.length && data[j] === value) j++;
      runs.push(value, j - i);
      i = j;
    }
    return runs;
  }

  function colourWord(hex) {
    // Canvas pixels as little-endian 32-bit words: 0xAABBGGRR.
    const n = parseInt(hex.slice(1), 16);
    return ((255 << 24) | ((n & 0xff) << 16) | (n & 0xff00) | ((n >> 16) & 0xff)) >>> 0;
  }

  // --- the editor --------------------------------------------------------------------------

  class MaskEditor {
    constructor(section) {
      this.section = section;
      const config = JSON.parse(section.querySelector(".editor-config").textContent);
      this.config = config;
      this.map = { width: config.width, height: config.height, data: new Uint8Array(config.width * config.height) };
      this.types = config.types.map((t) => ({ name: t.name, color: t.color.toUpperCase() }));
      this.current = this.types.length ? 1 : 0;
      this.tool = "brush";
      this.size = 8;
      this.zoom = 1; this.tx = 0; this.ty = 0;
      this.undoStack = []; this.redoStack = [];
      this.dirty = false;
      this.polygon = [];
      this.spaceDown = false;
      this.viewport = section.querySelector(".viewport");
      this.stage = section.querySelector(".stage");
      this.imageLayer = section.querySelector(".image-layer");
      this.maskLayer = section.querySelector(".mask-layer");
      this.draftLayer = section.querySelector(".draft-layer");
      for (const canvas of [this.imageLayer, this.maskLayer, this.draftLayer]) {
        canvas.width = config.width; canvas.height = config.height;
        canvas.style.width = config.width + "px"; canvas.style.height = config.height + "px";
      }
      this.maskContext = this.maskLayer.getContext("2d");
      this.maskPixels = this.maskContext.createImageData(config.width, config.height);
      this.maskWords = new Uint32Array(this.maskPixels.data.buffer);
      this.status = section.querySelector(".status");
      this.buildTypeButtons();
      this.bindControls();
      this.bindPointer();
      this.setTool("brush");
      this.ready = Promise.all([this.loadImage(), this.loadMask()]).then(() => {
        this.fit();
        this.render();
        section.dataset.ready = "yes";
      });
    }

    // ---- setup

    buildTypeButtons() {
      const box = this.section.querySelector(".types");
      box.querySelectorAll("label").forEach((l) => l.remove());
      this.types.forEach((t, i) => {
        const label = document.createElement("label");
        label.className = "type-choice";
        const input = document.createElement("input");
        input.type = "radio"; input.name = "anomaly-type"; input.value = String(i + 1);
        input.checked = i + 1 === this.current;
        input.addEventListener("change", () => { this.current = i + 1; });
        const swatch = document.createElement("span");
        swatch.className = "swatch"; swatch.style.background = t.color;
        label.append(input, swatch, document.createTextNode(" " + t.name + (i < 9 ? " (" + (i + 1) + ")" : "")));
        box.appendChild(label);
      });
      this.palette = new Uint32Array(256);
      this.types.forEach((t, i) => { this.palette[i + 1] = colourWord(t.color); });
    }

    bindControls() {
      const s = this.section;
      s.querySelectorAll("[data-tool]").forEach((b) => b.addEventListener("click", () => this.setTool(b.dataset.tool)));
      const size = s.querySelector(".brush-size");
      size.addEventListener("input", () => this.setSize(Number(size.value)));
      const opacity = s.querySelector(".opacity");
      const applyOpacity = () => { this.maskLayer.style.opacity = String(Number(opacity.value) / 100); };
      opacity.addEventListener("input", applyOpacity);
      applyOpacity();
      s.querySelector(".undo").addEventListener("click", () => this.undo());
      s.querySelector(".redo").addEventListener("click", () => this.redo());
      s.querySelector(".zoom-in").addEventListener("click", () => this.zoomBy(1.25));
      s.querySelector(".zoom-out").addEventListener("click", () => this.zoomBy(0.8));
      s.querySelector(".zoom-fit").addEventListener("click", () => this.fit());
      s.querySelector(".save").addEventListener("click", () => this.save());
      this.updateButtons();
    }

    loadImage() {
      return new Promise((resolve) => {
        const img = new Image();
        img.onload = () => { this.imageLayer.getContext("2d").drawImage(img, 0, 0); resolve(); };
        img.onerror = () => { this.say("The image could not be loaded."); resolve(); };
        img.src = this.config.image;
      });
    }

    async loadMask() {
      let body;
      try {
        const response = await fetch(this.config.mask, { headers: { Accept: "application/json" } });
        body = await response.json();
        if (!response.ok) { this.say(body.message || "The mask could not be loaded."); return; }
      } catch (e) {
        this.say("The mask could not be loaded: " + e);
        return;
      }
      const index = body.types.map((t) => {
        let k = this.types.findIndex((own) => own.name === t.name);
        if (k < 0) { this.types.push({ name: t.name, color: t.color.toUpperCase() }); k = this.types.length - 1; }
        return k + 1;
      });
      if (index.length > 0) this.buildTypeButtons();
      const data = this.map.data;
      let at = 0;
      for (let r = 0; r + 1 < body.runs.length; r += 2) {
        const value = body.runs[r] === 0 ? 0 : index[body.runs[r] - 1];
        data.fill(value, at, at + body.runs[r + 1]);
        at += body.runs[r + 1];
      }
    }

    // ---- view

    render(box) {
      const w = this.map.width;
      const b = box || { x0: 0, y0: 0, x1: w - 1, y1: this.map.height - 1 };
      const x0 = Math.max(0, b.x0), y0 = Math.max(0, b.y0);
      const x1 = Math.min(w - 1, b.x1), y1 = Math.min(this.map.height - 1, b.y1);
      if (x1 < x0 || y1 < y0) return;
      for (let y = y0; y <= y1; y++) {
        for (let x = x0; x <= x1; x++) this.maskWords[y * w + x] = this.palette[this.map.data[y * w + x]];
      }
      this.maskContext.putImageData(this.maskPixels, 0, 0, x0, y0, x1 - x0 + 1, y1 - y0 + 1);
    }

    applyView() {
      this.stage.style.transform = "translate(" + this.tx + "px," + this.ty + "px) scale(" + this.zoom + ")";
      this.drawDraft();
    }

    fit() {
      const vw = this.viewport.clientWidth, vh = this.viewport.clientHeight;
      this.zoom = Math.max(ZOOM_MIN, Math.min(ZOOM_MAX, Math.min(vw / this.map.width, vh / this.map.height)));
      this.tx = (vw - this.map.width * this.zoom) / 2;
      this.ty = (vh - this.map.height * this.zoom) / 2;
      this.applyView();
    }

    zoomBy(factor, mx, my) {
      const vx = mx === undefined ? this.viewport.clientWidth / 2 : mx;
      const vy = my === undefined ? this.viewport.clientHeight / 2 : my;
      const next = Math.max(ZOOM_MIN, Math.min(ZOOM_MAX, this.zoom * factor));
      const u = (vx - this.tx) / this.zoom, v = (vy - this.ty) / this.zoom;
      this.zoom = next;
      this.tx = vx - u * next; this.ty = vy - v * next;
      this.applyView();
    }

    // Image coordinates (floats, pixel units) of a pointer event.
    toImage(event) {
      const rect = this.maskLayer.getBoundingClientRect();
      return {
        x: (event.clientX - rect.left) * this.map.width / rect.width,
        y: (event.clientY - rect.top) * this.map.height / rect.height,
      };
    }

    screenPoint(x, y) {
      const rect = this.maskLayer.getBoundingClientRect();
      return { x: rect.left + x * rect.width / this.map.width, y: rect.top + y * rect.height / this.map.height };
    }

    drawDraft(hover) {
      const ctx = this.draftLayer.getContext("2d");
      ctx.clearRect(0, 0, this.map.width, this.map.height);
      const line = Math.max(0.5, 1.5 / this.zoom);
      if (this.polygon.length) {
        ctx.strokeStyle = "#ffffff"; ctx.lineWidth = line;
        ctx.setLineDash([4 / this.zoom, 3 / this.zoom]);
        ctx.beginPath();
        ctx.moveTo(this.polygon[0].x, this.polygon[0].y);
        for (const p of this.polygon.slice(1)) ctx.lineTo(p.x, p.y);
        if (hover) ctx.lineTo(hover.x, hover.y);
        ctx.stroke();
        ctx.setLineDash([]);
        ctx.fillStyle = "#ffffff";
        for (const p of this.polygon) ctx.fillRect(p.x - line, p.y - line, 2 * line, 2 * line);
      } else if (hover && (this.tool === "brush" || this.tool === "eraser")) {
        ctx.strokeStyle = this.tool === "eraser" ? "#ffffff" : (this.types[this.current - 1] || {}).color || "#ffffff";
        ctx.lineWidth = line;
        ctx.beginPath();
        ctx.arc(Math.floor(hover.x) + 0.5, Math.floor(hover.y) + 0.5, this.size / 2, 0, 2 * Math.PI);
        ctx.stroke();
      }
    }

    // ---- editing

    setTool(tool) {
      if (tool !== "polygon") this.cancelPolygon();
      this.tool = tool;
      this.section.querySelectorAll("[data-tool]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.tool === tool)));
      this.viewport.dataset.tool = tool;
    }

    setSize(size) {
      this.size = Math.max(1, Math.min(64, size));
      const input = this.section.querySelector(".brush-size");
      input.value = String(this.size);
      this.section.querySelector(".size-value").textContent = String(this.size);
    }

    paintValue() { return this.tool === "eraser" ? 0 : this.current; }

    canPaint() {
      if (this.tool !== "eraser" && this.current === 0) { this.say("Add an anomaly type first."); return false; }
      return true;
    }

    begin() { this.before = this.map.data.slice(); }

    commit() {
      const before = this.before, after = this.map.data;
      this.before = null;
      const changed = [];
      for (let i = 0; i < after.length; i++) if (before[i] !== after[i]) changed.push(i);
      if (!changed.length) return;
      const idx = Int32Array.from(changed);
      const from = new Uint8Array(idx.length), to = new Uint8Array(idx.length);
      idx.forEach((i, k) => { from[k] = before[i]; to[k] = after[i]; });
      this.undoStack.push({ idx, from, to });
      if (this.undoStack.length > UNDO_LIMIT) this.undoStack.shift();
      this.redoStack = [];
      this.markDirty();
    }

    replay(step, values) {
      const box = emptyBox(), w = this.map.width;
      step.idx.forEach((i, k) => {
        this.map.data[i] = values[k];
        grow(box, i % w, Math.floor(i / w), i % w, Math.floor(i / w));
      });
      this.render(box);
      this.markDirty();
    }

    undo() {
      const step = this.undoStack.pop();
      if (step) { this.replay(step, step.from); this.redoStack.push(step); }
      this.updateButtons();
    }

    redo() {
      const step = this.redoStack.pop();
      if (step) { this.replay(step, step.to); this.undoStack.push(step); }
      this.updateButtons();
    }

    markDirty() { this.dirty = true; this.updateButtons(); }

    updateButtons() {
      this.section.querySelector(".undo").disabled = this.undoStack.length === 0;
      this.section.querySelector(".redo").disabled = this.redoStack.length === 0;
    }

    addPolygonPoint(point) {
      const snapped = { x: Math.floor(point.x) + 0.5, y: Math.floor(point.y) + 0.5 };
      const first = this.polygon[0];
      const near = Math.max(1.5, 8 / this.zoom);
      if (first && this.polygon.length >= 3 && Math.hypot(snapped.x - first.x, snapped.y - first.y) <= near) {
        this.closePolygon();
        return;
      }
      this.polygon.push(snapped);
      this.drawDraft();
    }

    closePolygon() {
      if (this.polygon.length < 3) return;
      if (!this.canPaint()) return;
      const box = emptyBox();
      this.begin();
      fillPolygon(this.map, this.polygon, this.current, box);
      this.commit();
      this.polygon = [];
      this.render(box);
      this.drawDraft();
    }

    cancelPolygon() { this.polygon = []; if (this.draftLayer) this.drawDraft(); }

    bindPointer() {
      const vp = this.viewport;
      let stroke = null, pan = null;
      vp.addEventListener("contextmenu", (e) => e.preventDefault());
      vp.addEventListener("pointerdown", (event) => {
        vp.focus({ preventScroll: true });
        if (event.button === 1 || (event.button === 0 && this.spaceDown)) {
          event.preventDefault();
          pan = { x: event.clientX - this.tx, y: event.clientY - this.ty };
          vp.setPointerCapture(event.pointerId);
          vp.classList.add("panning");
          return;
        }
        if (event.button !== 0) return;
        const p = this.toImage(event);
        const x = Math.floor(p.x), y = Math.floor(p.y);
        if (this.tool === "polygon") { this.addPolygonPoint(p); return; }
        if (x < 0 || y < 0 || x >= this.map.width || y >= this.map.height) return;
        if (!this.canPaint()) return;
        if (this.tool === "fill") {
          const box = emptyBox();
          this.begin();
          floodFill(this.map, x, y, this.current, box);
          this.commit();
          this.render(box);
          return;
        }
        vp.setPointerCapture(event.pointerId);
        this.begin();
        stroke = { x, y };
        const box = emptyBox();
        paintDisc(this.map, x, y, (this.size - 1) / 2, this.paintValue(), box);
        this.render(box);
      });
      vp.addEventListener("pointermove", (event) => {
        if (pan) {
          this.tx = event.clientX - pan.x; this.ty = event.clientY - pan.y;
          this.applyView();
          return;
        }
        const p = this.toImage(event);
        if (stroke) {
          const x = Math.floor(p.x), y = Math.floor(p.y);
          const box = emptyBox();
          paintLine(this.map, stroke.x, stroke.y, x, y, (this.size - 1) / 2, this.paintValue(), box);
          stroke = { x, y };
          this.render(box);
        }
        this.drawDraft(p);
      });
      const end = () => {
        if (pan) { pan = null; vp.classList.remove("panning"); }
        if (stroke) { stroke = null; this.commit(); }
      };
      vp.addEventListener("pointerup", end);
      vp.addEventListener("pointercancel", end);
      vp.addEventListener("dblclick", () => { if (this.tool === "polygon") this.closePolygon(); });
      vp.addEventListener("wheel", (event) => {
        event.preventDefault();
        const rect = vp.getBoundingClientRect();
        this.zoomBy(event.deltaY < 0 ? 1.2 : 1 / 1.2, event.clientX - rect.left, event.clientY - rect.top);
      }, { passive: false });
    }

    // ---- keys, saving, inspection

    handleKey(event) {
      const key = event.key;
      if (event.ctrlKey || event.metaKey) {
        const lower = key.toLowerCase();
        if (lower === "z" && !event.shiftKey) { this.undo(); return true; }
        if (lower === "y" || (lower === "z" && event.shiftKey)) { this.redo(); return true; }
        if (lower === "s") { this.save(); return true; }
        return false;
      }
      if (event.altKey) return false;
      if (key === " ") { this.spaceDown = true; this.viewport.classList.add("pan-ready"); return true; }
      const tools = { b: "brush", e: "eraser", p: "polygon", f: "fill" };
      if (tools[key]) { this.setTool(tools[key]); return true; }
      if (/^[1-9]$/.test(key) && Number(key) <= this.types.length) {
        this.current = Number(key);
        const radio = this.section.querySelector("input[name=anomaly-type][value='" + key + "']");
        if (radio) radio.checked = true;
        return true;
      }
      if (key === "[") { this.setSize(this.size - 1); return true; }
      if (key === "]") { this.setSize(this.size + 1); return true; }
      if (key === "+" || key === "=") { this.zoomBy(1.25); return true; }
      if (key === "-") { this.zoomBy(0.8); return true; }
      if (key === "0") { this.fit(); return true; }
      if (key === "Enter" && this.tool === "polygon") { this.closePolygon(); return true; }
      if (key === "Escape") { this.cancelPolygon(); return true; }
      return false;
    }

    handleKeyUp(event) {
      if (event.key === " ") { this.spaceDown = false; this.viewport.classList.remove("pan-ready"); }
    }

    async save() {
      this.cancelPolygon();
      const body = {
        width: this.map.width, height: this.map.height,
        types: this.types.map((t) => t.name), runs: encodeRuns(this.map.data),
      };
      this.say("Saving...");
      const button = this.section.querySelector(".save");
      button.disabled = true;
      try {
        const response = await fetch(this.config.mask, {
          method: "POST", body: JSON.stringify(body),
          headers: { "Content-Type": "application/json", Accept: "application/json" },
        });
        let result = {};
        try { result = await response.json(); } catch (e) { result = { message: response.status + " " + response.statusText }; }
        if (response.ok) { this.dirty = false; this.section.dataset.saved = "yes"; }
        this.say(result.message || (response.ok ? "Saved." : "The mask was not saved."), !response.ok);
      } catch (e) {
        this.say("The mask was not saved: " + e, true);
      } finally {
        button.disabled = false;
      }
    }

    say(text, isError) {
      this.status.textContent = text;
      this.status.classList.toggle("failed", Boolean(isError));
    }

    counts() {
      const tally = new Array(this.types.length + 1).fill(0);
      for (const v of this.map.data) tally[v] += 1;
      const out = {};
      this.types.forEach((t, i) => { if (tally[i + 1]) out[t.name] = tally[i + 1]; });
      return out;
    }

    labelAt(x, y) {
      const v = this.map.data[y * this.map.width + x];
      return v === 0 ? null : this.types[v - 1].name;
    }
  }

  // --- page wiring ---------------------------------------------------------------------------

  function typing(target) {
    return target.matches("input[type=text], input:not([type]), select, textarea");
  }

  function leaveAllowed(editor) {
    return !editor || !editor.dirty || window.confirm("Discard the unsaved mask changes?");
  }

  document.addEventListener("DOMContentLoaded", () => {
    const section = document.getElementById("mask-editor");
    const editor = section ? new MaskEditor(section) : null;
    if (editor) {
      window.maskEditor = editor;
      window.addEventListener("beforeunload", (event) => { if (editor.dirty) event.preventDefault(); });
    }
    const labelForm = document.querySelector("form.label-form");
    if (labelForm) labelForm.addEventListener("submit", (event) => { if (!leaveAllowed(editor)) event.preventDefault(); });
    document.addEventListener("keyup", (event) => { if (editor) editor.handleKeyUp(event); });
    document.addEventListener("keydown", (event) => {
      if (typing(event.target)) return;
      if (event.target.matches("input[type=range]") && event.key.startsWith("Arrow")) return;
      if (editor && editor.handleKey(event)) { event.preventDefault(); return; }
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      const rel = { ArrowLeft: "prev", j: "prev", ArrowRight: "next", k: "next" }[event.key];
      if (rel) {
        const link = document.querySelector(".neighbours a[rel=" + rel + "]");
        if (link && leaveAllowed(editor)) { if (editor) editor.dirty = false; window.location.href = link.href; }
        return;
      }
      const button = labelForm && labelForm.querySelector("button[data-key='" + event.key + "']");
      if (button) button.click();
    });
  });
})();
