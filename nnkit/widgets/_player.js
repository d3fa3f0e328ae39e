// The Play control of the browser front end (see _canvas.py, Player): ticks sent as custom messages,
// at most `window` of them unanswered, so the next frame is asked for while the kernel computes this one.

function render({ model, el }) {
  el.classList.add("nnkit-player");
  el.style.display = "flex";
  el.style.alignItems = "center";
  el.style.gap = "2px";
  const button = (text, title) => {
    const b = document.createElement("button");
    b.className = "jupyter-button widget-button";
    b.textContent = text;
    b.title = title;
    b.style.width = "40px";
    el.appendChild(b);
    return b;
  };
  const playButton = button("\u25B6", "play");
  const pauseButton = button("\u23F8", "pause");
  const stopButton = button("\u25A0", "stop (back to the start)");
  const label = document.createElement("span");
  label.style.marginLeft = "6px";
  label.style.minWidth = "7em";
  el.appendChild(label);

  // base: the value the kernel holds when the next tick arrives (the last tick sent, or where play started)
  let playing = false, next = 0, base = 0, unanswered = 0, last = -Infinity, timer = null;

  function show() {
    label.textContent = `${model.get("description")} ${model.get("value")}/${model.get("max")}`;
    playButton.classList.toggle("mod-active", playing);
  }

  function stopPlaying() {
    playing = false;
    if (timer !== null) { clearTimeout(timer); timer = null; }
    if (model.get("playing")) { model.set("playing", false); model.save_changes(); }
    show();
  }

  function loop() {
    timer = null;
    if (!playing) return;
    if (next > model.get("max")) { stopPlaying(); return; }
    const wait = model.get("interval") - (performance.now() - last);
    if (unanswered >= model.get("window")) return;   // the next tock calls loop again
    if (wait > 0) { timer = setTimeout(loop, wait); return; }
    last = performance.now();
    unanswered += 1;
    model.send({ tick: next, base: base });
    base = next;
    next += 1;
    loop();
  }

  playButton.addEventListener("click", () => {
    if (playing) return;
    const value = model.get("value");
    next = value >= model.get("max") ? model.get("min") : value + 1;
    base = value;
    playing = true;
    unanswered = 0;
    model.set("playing", true);
    model.save_changes();
    show();
    loop();
  });
  pauseButton.addEventListener("click", stopPlaying);
  stopButton.addEventListener("click", () => {
    stopPlaying();
    model.set("value", model.get("min"));
    model.save_changes();
  });

  model.on("msg:custom", (msg) => {
    if (msg && "tock" in msg) {
      unanswered = Math.max(0, unanswered - 1);
      // the kernel was elsewhere (reset, step, data set changed while playing): go on from there
      if (msg.stale && playing) { next = msg.value + 1; base = msg.value; }
      if (playing && timer === null) loop();
    }
  });
  model.on("change:value", show);
  model.on("change:max", show);
  model.on("change:playing", () => { if (!model.get("playing") && playing) stopPlaying(); });
  show();
}

export default { render };
