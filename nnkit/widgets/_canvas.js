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

// matplotlib's tick markers (TICKLEFT, TICKRIGHT, TICKUP, TICKDOWN): a line of the marker's size
const TICKS = { "0": [-1, 0], "1": [1, 0], "2": [0, -1], "3": [0, 1] };
const STROKED = new Set(["|", "_", "0", "1", "2", "3"]);  // markers that are lines: never filled

const BASELINE = { top: "top", bottom: "bottom", baseline: "alphabetic", center: "middle",
                   center_baseline: "middle" };

function marker(ctx, kind, x, y, s) {
  const r = s / 2;
  ctx.beginPath();
  if (kind === "s") ctx.rect(x - r, y - r, s, s);
  else if (kind === "|") { ctx.moveTo(x, y - r); ctx.lineTo(x, y + r); }
  else if (kind === "_") { ctx.moveTo(x - r, y); ctx.lineTo(x + r, y); }
  else if (kind === "^") { ctx.moveTo(x, y - r); ctx.lineTo(x + r, y + r); ctx.lineTo(x - r, y + r); ctx.closePath(); }
  else if (kind === ".") ctx.arc(x, y, r / 2, 0, 2 * Math.PI);
  else if (kind in TICKS) { const [dx, dy] = TICKS[kind]; ctx.moveTo(x, y); ctx.lineTo(x + dx * s, y + dy * s); }
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
    const d = L.rgba;  // a DataView on the message's binary buffer
    const bytes = new Uint8ClampedArray(d.buffer, d.byteOffset, d.byteLength);
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
        if (L.mfc && !STROKED.has(L.marker)) { ctx.fillStyle = L.mfc; ctx.fill(); }
        if (L.mec && L.mew > 0) { ctx.strokeStyle = L.mec; ctx.lineWidth = L.mew; ctx.stroke(); }
        else if (STROKED.has(L.marker)) { ctx.strokeStyle = L.mfc || L.color; ctx.lineWidth = 1.5; ctx.stroke(); }
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
  } else if (L.kind === "group") {
    for (const M of L.layers) paintLayer(ctx, M);
  } else if (L.kind === "text") {
    ctx.font = `${L.size}px "DejaVu Sans", "Bitstream Vera Sans", sans-serif`;
    ctx.fillStyle = L.color;
    ctx.textAlign = L.ha === "center" ? "center" : L.ha === "right" ? "right" : "left";
    ctx.textBaseline = BASELINE[L.va] || "alphabetic";
    ctx.translate(L.xy[0], L.xy[1]);
    if (L.rot) ctx.rotate(-L.rot * Math.PI / 180);
    ctx.fillText(L.s, 0, 0);
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
  const backgrounds = new Map();  // name -> ImageBitmap of a still picture, decoded when it arrives
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
    const scene = model.get("scene");
    const background = scene.background == null ? null : backgrounds.get(scene.background);
    if (scene.background != null && !background) {
      // painted once it is decoded; a view that never got it (made after it was sent) asks for all
      if (!loading && !asked) { asked = true; model.send({ hello: true }); }
      return;
    }
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

  async function addBackground(name, data) {
    const bytes = data instanceof DataView ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
                                           : new Uint8Array(data);
    loading += 1;
    try {
      const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/png" }));
      backgrounds.delete(name);
      backgrounds.set(name, bitmap);
      while (backgrounds.size > 32) backgrounds.delete(backgrounds.keys().next().value);
      asked = false;
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
  model.on("msg:custom", (msg, buffers) => {
    if (msg && "background" in msg && buffers && buffers.length) addBackground(msg.background, buffers[0]);
  });
  resize();
  asked = true;
  model.send({ hello: true });  // every still picture and the whole scene, for this view

}

export default { render };
