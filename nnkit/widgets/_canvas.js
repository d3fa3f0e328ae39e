// The browser front end of nnkit's widget figures (see _canvas.py): paint the still background PNG and
// the moving layers on one canvas (the newest scene of a display frame), report clicks in figure pixels.

function strokePath(ctx, xy) {
  // xy: flat [x0, y0, x1, y1, ...]; null (NaN in the kernel) breaks the line
  ctx.beginPath();
  let pen = false;
  for (let i = 0; i < xy.length; i += 2) {
    const x = xy[i], y = xy[i + 1];
    if (x === null || y === null) { pen = false; continue; }
    if (pen) ctx.lineTo(x, y); else { ctx.moveTo(x, y); pen = true; }
  }
}

function marker(ctx, kind, x, y, s) {
  const r = s / 2;
  ctx.beginPath();
  if (kind === "s") ctx.rect(x - r, y - r, s, s);
  else if (kind === "|") { ctx.moveTo(x, y - r); ctx.lineTo(x, y + r); }
  else if (kind === "_") { ctx.moveTo(x - r, y); ctx.lineTo(x + r, y); }
  else if (kind === "^") { ctx.moveTo(x, y - r); ctx.lineTo(x + r, y + r); ctx.lineTo(x - r, y + r); ctx.closePath(); }
  else if (kind === ".") ctx.arc(x, y, r / 2, 0, 2 * Math.PI);
  else ctx.arc(x, y, r, 0, 2 * Math.PI);
}

// Timing hook for benchmarks/widgets_browser.py --trace: when the page defines window.__nnkitTrace (an
// array), each scene's arrival and paint are appended to it, in wall-clock ms.
function trace(kind, scene) {
  const T = window.__nnkitTrace;
  if (T) T.push({ kind, frame: scene.frame, t: performance.timeOrigin + performance.now(), kernel: scene.t });
}

const images = new WeakMap();  // layer object -> decoded canvas (one decode per scene)

function imageOf(L) {
  let c = images.get(L);
  if (!c) {
    const bytes = Uint8ClampedArray.from(atob(L.rgba), ch => ch.charCodeAt(0));
    c = document.createElement("canvas");
    c.width = L.w; c.height = L.h;
    c.getContext("2d").putImageData(new ImageData(bytes, L.w, L.h), 0, 0);
    images.set(L, c);
  }
  return c;
}

function paintLayer(ctx, L) {
  ctx.save();
  if (L.clip) { ctx.beginPath(); ctx.rect(...L.clip); ctx.clip(); }
  if (L.kind === "line") {
    if (L.lw) {
      ctx.strokeStyle = L.color; ctx.lineWidth = L.lw; ctx.lineJoin = "round"; ctx.lineCap = "butt";
      ctx.setLineDash(L.dash || []);
      strokePath(ctx, L.xy); ctx.stroke();
      ctx.setLineDash([]);
    }
    if (L.marker) {
      for (let i = 0; i < L.xy.length; i += 2) {
        const x = L.xy[i], y = L.xy[i + 1];
        if (x === null || y === null) continue;
        marker(ctx, L.marker, x, y, L.ms);
        if (L.mfc && L.marker !== "|" && L.marker !== "_") { ctx.fillStyle = L.mfc; ctx.fill(); }
        if (L.mec && L.mew > 0) { ctx.strokeStyle = L.mec; ctx.lineWidth = L.mew; ctx.stroke(); }
        else if (L.marker === "|" || L.marker === "_") { ctx.strokeStyle = L.mfc || L.color; ctx.lineWidth = 1.5; ctx.stroke(); }
      }
    }
  } else if (L.kind === "polygon") {
    if (L.xy.length >= 6) {
      strokePath(ctx, L.xy); ctx.closePath();
      if (L.fill) { ctx.fillStyle = L.fill; ctx.fill(); }
      if (L.stroke) { ctx.strokeStyle = L.stroke; ctx.lineWidth = L.lw; ctx.stroke(); }
    }
  } else if (L.kind === "image") {
    const [x0, y0, x1, y1] = L.xy;
    ctx.imageSmoothingEnabled = !!L.smooth;
    ctx.drawImage(imageOf(L), x0, y0, x1 - x0, y1 - y0);
  } else if (L.kind === "segments") {
    ctx.lineJoin = "round";
    L.lines.forEach((xy, i) => {
      ctx.strokeStyle = L.colors[i]; ctx.lineWidth = L.lw[i];
      strokePath(ctx, xy); ctx.stroke();
    });
  }
  ctx.restore();
}

function render({ model, el }) {
  el.classList.add("nnkit-figure");
  const canvas = document.createElement("canvas");
  canvas.className = "nnkit-canvas";
  canvas.style.display = "block";
  el.appendChild(canvas);
  const caption = document.createElement("div");  // the widget's status line, sent with the scene
  caption.className = "nnkit-caption widget-html-content";
  el.appendChild(caption);
  const ctx = canvas.getContext("2d");
  let background = null;   // ImageBitmap of the still part
  let queued = false;
  let loading = 0;         // background PNGs being decoded: a scene waits for its background

  function resize() {
    const [w, h] = model.get("size");
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w; canvas.height = h;
      canvas.style.width = `${w}px`; canvas.style.height = `${h}px`;
    }
  }

  let layers = [];          // the last scene's layers, references ({same: i}) resolved
  let asked = false;        // a full scene was asked for and has not come yet

  function resolve() {
    // every scene is resolved as it arrives (painted or not): the next one refers to its layers
    const scene = model.get("scene");
    const next = scene.layers.map((L, i) => ("same" in L ? layers[L.same] : L));
    if (next.some((L) => L === undefined)) {
      if (!asked) { asked = true; model.send({ full: true }); }
      return false;
    }
    asked = false;
    layers = next;
    return true;
  }

  let painted = false;      // a scene was painted in the current display frame
  let frames = 0;           // scenes painted (data-frames on the canvas, for tests)

  function paint() {
    queued = false;
    if (loading) return;  // painted again once the new background is decoded
    const scene = model.get("scene");
    resize();
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (background) ctx.drawImage(background, 0, 0, canvas.width, canvas.height);
    for (const L of layers) paintLayer(ctx, L);
    if (caption.innerHTML !== (scene.caption || "")) caption.innerHTML = scene.caption || "";
    frames += 1;
    trace("paint", scene);
    canvas.dataset.frame = String(scene.frame);
    canvas.dataset.frames = String(frames);
    painted = true;
    requestAnimationFrame(() => { painted = false; });
  }

  function schedule() {
    // the first scene of a display frame is painted at once; any later one in the same frame waits
    // for the next frame, where only the newest is painted
    if (queued) return;
    queued = true;
    if (painted) requestAnimationFrame(paint);
    else queueMicrotask(paint);
  }

  async function loadBackground() {
    const data = model.get("background");
    if (!data || !data.byteLength) return;
    const bytes = data instanceof DataView ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
                                           : new Uint8Array(data);
    loading += 1;
    try {
      const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/png" }));
      if (model.get("background") === data) background = bitmap;
    } finally {
      loading -= 1;
      schedule();
    }
  }

  canvas.addEventListener("mousedown", (e) => {
    const rect = canvas.getBoundingClientRect();
    const x = (e.clientX - rect.left) * (canvas.width / rect.width);
    const y = (e.clientY - rect.top) * (canvas.height / rect.height);
    model.send({ click: [x, canvas.height - y], shift: e.shiftKey });
    e.preventDefault();
  });

  model.on("change:scene", () => { trace("recv", model.get("scene")); if (resolve()) schedule(); });
  model.on("change:size", schedule);
  model.on("change:background", loadBackground);
  resize();
  loadBackground();
  if (resolve()) schedule();
}

export default { render };
