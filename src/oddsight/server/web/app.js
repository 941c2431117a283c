// oddsight dashboard: one page, no build step. Every call goes to the same server's /api/v1.
"use strict";

const API = "/api/v1";
const METHODS = ["novelty", "oneclass", "zeroshot", "lavad", "judge"];
const main = document.getElementById("main");
const toast = document.getElementById("toast");
let jobStream = null;
const jobListeners = new Set();

// --- small helpers ------------------------------------------------------------------------------------

// h("button", {class: "x", onclick: f}, "text", child...) -> an element; strings become text, never HTML
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function say(message, kind = "error") {
  toast.textContent = message;
  toast.className = kind;
  toast.hidden = false;
  clearTimeout(say.timer);
  say.timer = setTimeout(() => { toast.hidden = true; }, kind === "error" ? 8000 : 3500);
}

async function api(path, options = {}) {
  const init = { ...options, headers: { ...(options.headers || {}) } };
  if (init.json !== undefined) {
    init.body = JSON.stringify(init.json);
    init.headers["content-type"] = "application/json";
    delete init.json;
  }
  const res = await fetch(API + path, init);
  if (res.status === 401) { location.href = "/login"; throw new Error("sign in first"); }
  const text = await res.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = text; }
  if (!res.ok) {
    const detail = body && body.detail ? body.detail : `${res.status} ${res.statusText}`;
    throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return body;
}

function clock(s) {
  if (s === null || s === undefined) return "–";
  const m = Math.floor(s / 60), sec = (s - 60 * m).toFixed(1).padStart(4, "0");
  const hours = Math.floor(m / 60);
  return hours ? `${hours}:${String(m % 60).padStart(2, "0")}:${sec}` : `${String(m).padStart(2, "0")}:${sec}`;
}
const when = (t) => new Date(t * 1000).toLocaleString();
const mb = (n) => (n ? `${(n / 1e6).toFixed(1)} MB` : "–");
const state = (s) => h("span", { class: `state ${s}` }, s.replace("_", " "));

function page(title, ...children) {
  main.replaceChildren(h("h1", {}, title), ...children.filter((c) => c !== null && c !== undefined && c !== false));
  document.title = `${title} · oddsight`;
}

// --- job updates (server-sent events) ------------------------------------------------------------------

function watchJobs(listener) {
  jobListeners.add(listener);
  if (!jobStream) {
    jobStream = new EventSource(API + "/jobs/stream");
    jobStream.onmessage = (m) => { const job = JSON.parse(m.data); jobListeners.forEach((f) => f(job)); };
  }
}

// --- Videos ------------------------------------------------------------------------------------------

async function videosPage() {
  const dropInput = h("input", { type: "file", id: "file", accept: "video/*,.avi,.mkv,.ts,.mpg,.flv,.wmv", "aria-label": "Choose a video to upload" });
  const bar = h("progress", { max: 1, value: 0, hidden: true, "aria-label": "Upload progress" });
  const drop = h("label", { class: "drop", for: "file" },
    h("strong", {}, "Drop a video here"), " or click to choose one", dropInput, h("div", {}, bar));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); if (e.dataTransfer.files[0]) upload(e.dataTransfer.files[0], bar); });
  dropInput.addEventListener("change", () => { if (dropInput.files[0]) upload(dropInput.files[0], bar); });

  const mediaSelect = h("select", { id: "media-path", "aria-label": "Video under --media" });
  const register = h("button", { class: "secondary", onclick: async () => {
    if (!mediaSelect.value) return;
    try { await api("/videos/register", { method: "POST", json: { path: mediaSelect.value } }); say("Registered.", "info"); videosPage(); }
    catch (e) { say(e.message); }
  } }, "Add");
  const videoTable = h("tbody");
  const jobsBody = h("tbody");
  page("Videos",
    h("div", { class: "grid2" },
      h("section", { class: "panel" }, h("h2", {}, "Upload"), drop),
      h("section", { class: "panel" }, h("h2", {}, "From the server's --media folders"),
        h("div", { class: "row" }, mediaSelect, register), h("p", { class: "muted small", id: "media-note" }))),
    h("section", { class: "panel" }, h("h2", {}, "Videos"),
      h("div", { class: "table-wrap" }, h("table", { class: "cards" }, h("thead", {}, h("tr", {},
        h("th", {}, "Name"), h("th", {}, "Length"), h("th", { class: "hide-narrow" }, "Size"), h("th", { class: "hide-narrow" }, "Frames"),
        h("th", {}, "Analyse"))), videoTable))),
    h("section", { class: "panel" }, h("h2", {}, "Jobs"),
      h("div", { class: "table-wrap" }, h("table", { id: "jobs", class: "cards" }, h("thead", {}, h("tr", {},
        h("th", {}, "Job"), h("th", {}, "Video"), h("th", {}, "State"), h("th", {}, "Progress"), h("th", {}, ""))), jobsBody))));

  const [videos, mediaList, detectors, jobs] = await Promise.all([
    api("/videos"), api("/media").catch(() => []), api("/detectors"), api("/jobs?limit=50")]);
  for (const m of mediaList.filter((m) => !m.video_id)) mediaSelect.append(h("option", { value: m.path }, m.path));
  if (!mediaSelect.options.length) {
    mediaSelect.disabled = register.disabled = true;
    document.getElementById("media-note").textContent = mediaList.length ? "Everything there is added." : "Start the server with --media DIR to list videos here.";
  }
  const names = Object.fromEntries(videos.map((v) => [v.id, v.name]));
  if (!videos.length) videoTable.append(h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No videos yet: upload one above.")));
  for (const v of videos) videoTable.append(videoRow(v, detectors));
  const rows = {};
  const drawJob = (job) => {
    const row = jobRow(job, names);
    if (rows[job.id]) rows[job.id].replaceWith(row); else jobsBody.prepend(row);
    rows[job.id] = row;
  };
  jobs.slice().reverse().forEach(drawJob);
  watchJobs((job) => { if (document.getElementById("jobs")) drawJob(job); });
}

function upload(file, bar) {
  const form = new FormData();
  form.append("file", file);
  const xhr = new XMLHttpRequest();
  xhr.open("POST", API + "/videos");
  bar.hidden = false;
  bar.value = 0;
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = e.loaded / e.total; };
  xhr.onload = () => {
    bar.hidden = true;
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
    if (xhr.status === 201) { say(`Uploaded ${body.name}.`, "info"); videosPage(); }
    else say(`Upload refused: ${body.detail || xhr.status}`);
  };
  xhr.onerror = () => { bar.hidden = true; say("Upload failed: the server could not be reached"); };
  xhr.send(form);
}

function videoRow(v, detectors) {
  const method = h("select", { "aria-label": `Method for ${v.name}` }, METHODS.map((m) => h("option", { value: m }, m)));
  const detector = h("select", { "aria-label": `Detector for ${v.name}`, hidden: true },
    detectors.length ? detectors.map((d) => h("option", { value: d.id }, `${d.name} (${d.encoder})`)) : h("option", { value: "" }, "no detector: fit one in Train"));
  const fps = h("input", { type: "number", min: "0.1", step: "0.1", placeholder: "fps 2", "aria-label": `Frames per second for ${v.name}` });
  const threshold = h("input", { type: "number", step: "any", placeholder: "threshold", "aria-label": `Threshold for ${v.name}` });
  const more = h("input", { placeholder: 'more: {"smooth": 2}', size: 14, "aria-label": `More detect options for ${v.name}, as JSON` });
  method.addEventListener("change", () => { detector.hidden = method.value !== "oneclass"; });
  const start = h("button", { onclick: async () => {
    let body;
    try { body = { ...(more.value.trim() ? JSON.parse(more.value) : {}), video_id: v.id, method: method.value }; }
    catch { say('More options must be JSON, e.g. {"smooth": 2, "anomaly": ["a fire"]}'); return; }
    if (fps.value) body.fps = Number(fps.value);
    if (threshold.value) body.threshold = Number(threshold.value);
    if (method.value === "oneclass" && detector.value) body.detector_id = detector.value;
    try { await api("/analyses", { method: "POST", json: body }); say(`Analysis of ${v.name} queued.`, "info"); }
    catch (e) { say(e.message); }
  } }, "Start");
  const remove = h("button", { class: "danger", "aria-label": `Delete ${v.name}`, onclick: async () => {
    if (!confirm(`Delete ${v.name} and its results?`)) return;
    try { await api(`/videos/${v.id}`, { method: "DELETE" }); videosPage(); } catch (e) { say(e.message); }
  } }, "Delete");
  return h("tr", { "data-video": v.id },
    h("td", {}, v.name, h("div", { class: "muted small" }, `${v.width}×${v.height}, ${v.fps} fps, ${v.origin}`)),
    h("td", {}, clock(v.duration_s)), h("td", { class: "hide-narrow" }, mb(v.size)), h("td", { class: "hide-narrow" }, v.frame_count ?? "–"),
    h("td", {}, h("div", { class: "row" }, method, detector, fps, threshold, more, start, remove)));
}

function jobRow(job, names) {
  const actions = [];
  if (job.state === "queued" || job.state === "running")
    actions.push(h("button", { class: "secondary", onclick: () => api(`/jobs/${job.id}/cancel`, { method: "POST" }).catch((e) => say(e.message)) }, "Cancel"));
  if (["interrupted", "failed", "cancelled"].includes(job.state))
    actions.push(h("button", { class: "secondary", onclick: () => api(`/jobs/${job.id}/resume`, { method: "POST" }).catch((e) => say(e.message)) }, "Resume"));
  if (job.result_id) actions.push(h("a", { class: "button", href: `#/result/${job.result_id}` }, "Open result"));
  const what = job.kind === "analysis" ? (job.options.method || "novelty") : job.kind;
  return h("tr", { "data-job": job.id, "data-state": job.state },
    h("td", {}, what, h("div", { class: "muted small" }, when(job.created_at))),
    h("td", {}, names[job.video_id] || (job.kind === "fit" ? job.options.name : "–")),
    h("td", {}, state(job.state), job.error ? h("div", { class: "error small" }, job.error) : null),
    h("td", {}, h("progress", { max: 1, value: job.progress, "aria-label": "Job progress" }), ` ${Math.round(100 * job.progress)}%`),
    h("td", {}, h("div", { class: "row" }, actions)));
}

// --- Result ------------------------------------------------------------------------------------------

async function resultPage(id) {
  const started = performance.now();
  const r = await api(`/results/${id}/display`);
  const video = h("video", { controls: true, preload: "metadata", src: r.video_id ? `${API}/videos/${r.video_id}/playable.mp4` : null, "aria-label": "Video" });
  const chart = h("div", { id: "chart", role: "img", "aria-label": "Score over time; click to seek" });
  const thr = h("input", { type: "number", step: "any", id: "threshold", value: r.threshold.toFixed(4), "aria-label": "Event threshold" });
  const list = h("ul", { class: "events", id: "event-list" });
  const note = h("p", { class: "muted small", id: "event-note" });
  const name = r.video.source.split("/").pop();
  page(`Result: ${name}`,
    h("div", { class: "kv" }, h("span", {}, `method ${r.method}`), h("span", {}, `model ${r.model}`),
      h("span", {}, `${r.n_frames} frames at ${r.video.fps} fps`), h("span", {}, when(r.created_at)),
      h("a", { href: `${API}/results/${id}` , target: "_blank" }, "JSON")),
    r.warnings.length ? h("p", { class: "small error" }, r.warnings.join(" · ")) : null,
    h("div", { class: "grid2", style: "margin-top:12px" },
      h("section", { class: "panel" }, video),
      h("section", { class: "panel" }, chart,
        h("div", { class: "row" }, h("label", { class: "inline", for: "threshold" }, "Threshold"), thr,
          h("button", { class: "secondary", id: "reset-threshold", onclick: () => { thr.value = r.threshold.toFixed(4); setThreshold(r.threshold); } }, "Reset threshold"),
          h("span", { class: "muted small" }, "drag the red line, or type a value")))),
    h("section", { class: "panel" }, h("h2", {}, "Events"), note, list));

  const t = r.frames.map((f) => f / r.video.fps);
  const top = Math.max(r.threshold * 1.3, ...r.scores.slice(0, 200000));
  // shape 0: the threshold (draggable), 1: the video's position, then one band per event
  const shapes = (threshold, cursor, events = []) => [
    { type: "line", xref: "paper", x0: 0, x1: 1, y0: threshold, y1: threshold, line: { color: "#c62f2f", width: 2, dash: "dash" }, editable: true },
    { type: "line", x0: cursor, x1: cursor, yref: "paper", y0: 0, y1: 1, line: { color: "#2f5fd0", width: 1 }, editable: false },
    ...events.map((e) => ({ type: "rect", x0: e.start_s, x1: e.end_s, yref: "paper", y0: 0, y1: 1, fillcolor: "rgba(198,47,47,0.12)", line: { width: 0 }, layer: "below", editable: false })),
  ];
  let current = r.threshold, cursor = 0;
  const layout = { margin: { l: 44, r: 10, t: 10, b: 36 }, xaxis: { title: { text: "seconds" } }, yaxis: { range: [0, top * 1.05], fixedrange: true },
    shapes: shapes(current, cursor), showlegend: false, hovermode: "x" };
  await Plotly.newPlot(chart, [{ x: t, y: r.scores, type: "scatter", mode: "lines", line: { color: "#1d2330", width: 1.2 }, hovertemplate: "%{x:.1f}s: %{y:.3f}<extra></extra>" }],
    layout, { responsive: true, displaylogo: false, edits: { shapePosition: true }, modeBarButtonsToRemove: ["lasso2d", "select2d"] });
  chart.dataset.drawnMs = String(Math.round(performance.now() - started));
  chart.on("plotly_click", (e) => { if (e.points && e.points.length) { video.currentTime = e.points[0].x; } });
  chart.on("plotly_relayout", (e) => {
    const y = e["shapes[0].y0"];  // a drag of the line (our own relayout below reports the value it set)
    if (y !== undefined && Math.abs(Number(y) - current) > 1e-9) { thr.value = Number(y).toFixed(4); setThreshold(Number(y)); }
  });
  video.addEventListener("timeupdate", () => {
    cursor = video.currentTime;
    Plotly.relayout(chart, { "shapes[1].x0": cursor, "shapes[1].x1": cursor });
  });
  thr.addEventListener("change", () => { if (thr.value !== "") setThreshold(Number(thr.value)); });

  const stored = await api(`/events?result_id=${id}&sort=start_s&limit=10000`);
  async function setThreshold(value) {
    if (!Number.isFinite(value)) { say("The threshold must be a number"); return; }
    current = value;
    Plotly.relayout(chart, { "shapes[0].y0": value, "shapes[0].y1": value });
    if (Math.abs(value - r.threshold) < 1e-9) { drawEvents(stored, true); return; }
    try { drawEvents(await api(`/results/${id}/events?threshold=${value}`), false); } catch (e) { say(e.message); }
  }
  function drawEvents(events, isStored) {
    note.textContent = isStored
      ? `${events.length} event(s) at the stored threshold ${r.threshold.toFixed(4)}.`
      : `${events.length} event(s) at threshold ${current.toFixed(4)} (a preview from the stored scores; review applies to the stored events).`;
    list.replaceChildren(...events.map((e) => eventItem(e, isStored, video)));
    Plotly.relayout(chart, { shapes: shapes(current, cursor, events) });
    if (!events.length) list.append(h("li", { class: "muted" }, "No event at this threshold."));
  }
  drawEvents(stored, true);
}

function eventItem(e, isStored, video) {
  const seek = h("button", { class: "secondary", onclick: () => { video.currentTime = e.start_s; video.focus(); } }, `Go to ${clock(e.start_s)}`);
  const body = h("div", {},
    h("div", { class: "what" }, `${clock(e.start_s)} – ${clock(e.end_s)}`, e.label ? ` · ${e.label}` : ""),
    h("div", { class: "kv" }, h("span", {}, `peak ${e.peak_score.toFixed(3)} at ${clock(e.peak_s)}`), h("span", {}, `frames ${e.start_frame}–${e.end_frame}`),
      isStored ? state(e.review) : null),
    e.reason ? h("p", { class: "small" }, e.reason) : null,
    h("div", { class: "row" }, seek, isStored ? reviewButtons(e) : null,
      isStored ? h("a", { href: `${API}/events/${e.id}/clip.mp4`, target: "_blank" }, "Clip") : null));
  if (!isStored) return h("li", { class: "event preview" }, body);
  return h("li", { class: "event", "data-event": e.id },
    h("img", { src: `${API}/events/${e.id}/thumbnail.jpg`, alt: `Peak frame at ${clock(e.peak_s)}`, loading: "lazy" }), body);
}

function reviewButtons(e, after) {
  const mark = async (review) => {
    try {
      const updated = await api(`/events/${e.id}`, { method: "PATCH", json: { review } });
      Object.assign(e, updated);
      say(review === "false_alarm" ? "Marked a false alarm." : "Confirmed.", "info");
      if (after) after(); else route();
    } catch (err) { say(err.message); }
  };
  return [h("button", { class: "good", onclick: () => mark("confirmed"), disabled: e.review === "confirmed" }, "Confirm"),
    h("button", { class: "danger", onclick: () => mark("false_alarm"), disabled: e.review === "false_alarm" }, "False alarm")];
}

// --- Events ------------------------------------------------------------------------------------------

async function eventsPage() {
  const videos = await api("/videos");
  const names = Object.fromEntries(videos.map((v) => [v.id, v.name]));
  const video = h("select", { id: "f-video" }, h("option", { value: "" }, "all videos"), videos.map((v) => h("option", { value: v.id }, v.name)));
  const review = h("select", { id: "f-review" }, ["", "new", "confirmed", "false_alarm"].map((s) => h("option", { value: s }, s ? s.replace("_", " ") : "any review")));
  const minScore = h("input", { type: "number", step: "any", id: "f-min", placeholder: "any" });
  const sort = h("select", { id: "f-sort" }, [["created_at", "newest"], ["peak_score", "highest peak"], ["start_s", "video time"]].map(([v, t]) => h("option", { value: v }, t)));
  const body = h("tbody");
  const csv = h("a", { class: "button secondary", id: "export-csv" }, "Export CSV");
  const json = h("a", { class: "button secondary", id: "export-json", target: "_blank" }, "Export JSON");
  page("Events",
    h("section", { class: "panel" }, h("div", { class: "row" },
      h("label", { for: "f-video" }, "Video", video), h("label", { for: "f-review" }, "Review", review),
      h("label", { for: "f-min" }, "Peak at least", minScore), h("label", { for: "f-sort" }, "Sort", sort), csv, json)),
    h("section", { class: "panel" }, h("div", { class: "table-wrap" }, h("table", { id: "events", class: "cards" }, h("thead", {}, h("tr", {},
      h("th", {}, "Peak frame"), h("th", {}, "Video"), h("th", {}, "When"), h("th", {}, "Peak"), h("th", { class: "hide-narrow" }, "Label / reason"),
      h("th", {}, "Review"), h("th", {}, ""))), body))));
  async function load() {
    const q = new URLSearchParams({ sort: sort.value, limit: "500" });
    if (video.value) q.set("video_id", video.value);
    if (review.value) q.set("review", review.value);
    if (minScore.value) q.set("min_score", minScore.value);
    csv.href = `${API}/events?${q}&format=csv`;
    json.href = `${API}/events?${q}`;
    let rows;
    try { rows = await api(`/events?${q}`); } catch (e) { say(e.message); return; }
    body.replaceChildren(...rows.map((e) => h("tr", { "data-event": e.id, "data-review": e.review },
      h("td", {}, h("img", { src: `${API}/events/${e.id}/thumbnail.jpg`, alt: "Peak frame", loading: "lazy" })),
      h("td", {}, names[e.video_id] || (e.source || "").split("/").pop()),
      h("td", {}, `${clock(e.start_s)} – ${clock(e.end_s)}`, h("div", { class: "muted small" }, when(e.created_at))),
      h("td", {}, e.peak_score.toFixed(3)),
      h("td", { class: "hide-narrow" }, e.label || "", e.reason ? h("div", { class: "small muted" }, e.reason) : null),
      h("td", {}, state(e.review)),
      h("td", {}, h("div", { class: "row" }, reviewButtons(e, load), h("a", { href: `#/result/${e.result_id}` }, "Result"))))));
    if (!rows.length) body.append(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No events match.")));
  }
  for (const el of [video, review, minScore, sort]) el.addEventListener("change", load);
  await load();
}

// --- Train -------------------------------------------------------------------------------------------

async function trainPage() {
  const [videos, detectors] = await Promise.all([api("/videos"), api("/detectors")]);
  const boxes = videos.map((v) => h("label", { class: "inline" }, h("input", { type: "checkbox", value: v.id, name: "normal" }), v.name));
  const name = h("input", { id: "det-name", value: "my-camera", "aria-label": "Detector name" });
  const kind = h("select", { id: "det-kind" }, h("option", { value: "" }, "default kind"), h("option", { value: "knn" }, "knn"), h("option", { value: "ocsvm" }, "ocsvm"));
  const fit = h("button", { id: "fit", onclick: async () => {
    const ids = boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
    if (!ids.length) { say("Pick at least one normal video"); return; }
    const body = { name: name.value || "detector", video_ids: ids };
    if (kind.value) body.kind = kind.value;
    try { await api("/detectors", { method: "POST", json: body }); say("Fitting queued: it appears below when done.", "info"); }
    catch (e) { say(e.message); }
  } }, "Fit detector");
  const table = h("tbody");
  page("Train",
    h("section", { class: "panel" }, h("h2", {}, "Normal footage"),
      h("p", { class: "muted small" }, "Pick videos with nothing unusual in them, from the camera the detector is for."),
      h("div", { class: "row" }, boxes.length ? boxes : h("span", { class: "muted" }, "No videos yet: add some under Videos.")),
      h("div", { class: "row", style: "margin-top:10px" }, h("label", { for: "det-name" }, "Name", name), h("label", { for: "det-kind" }, "Kind", kind), fit),
      h("p", { class: "small", id: "fit-state" })),
    h("section", { class: "panel" }, h("h2", {}, "Fitted detectors"), h("div", { class: "table-wrap" }, h("table", { id: "detectors", class: "cards" },
      h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Encoder"), h("th", {}, "Kind"), h("th", {}, "Sampling"),
        h("th", {}, "Frames"), h("th", {}, "Threshold"), h("th", {}, "Made"))), table))));
  for (const d of detectors) table.append(h("tr", { "data-detector": d.id }, h("td", {}, d.name), h("td", {}, d.encoder), h("td", {}, d.kind),
    h("td", {}, d.sampling), h("td", {}, d.n_train), h("td", {}, Number(d.threshold).toFixed(3),
      ...(d.note ? [h("div", { class: "small muted", title: d.note }, "rough: fitted on too few frames")] : [])),
    h("td", {}, when(d.created_at))));
  if (!detectors.length) table.append(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "None yet.")));
  watchJobs((job) => {
    const out = document.getElementById("fit-state");
    if (!out || job.kind !== "fit") return;
    out.replaceChildren(`Fitting ${job.options.name}: `, state(job.state), ` ${Math.round(100 * job.progress)}%`, job.error ? h("span", { class: "error" }, ` ${job.error}`) : "");
    if (job.state === "done") trainPage();
  });
}

// --- Cameras -----------------------------------------------------------------------------------------

const LIVE_METHODS = METHODS;  // the language ones need a captioner
const CHART_S = 300;  // the rolling chart's span
let cameraTimer = null;

async function camerasPage() {
  const detectors = await api("/detectors");
  const url = h("input", { id: "cam-url", size: 34, placeholder: "rtsp://user:pass@cam/stream, http://host/cam.mjpg, /dev/video0", "aria-label": "Camera URL" });
  const name = h("input", { id: "cam-name", size: 12, placeholder: "from the URL", "aria-label": "Camera name" });
  const record = h("input", { id: "cam-record", size: 30, placeholder: "optional: rtsp://cam/main (the URL is then its substream)", "aria-label": "Main stream that clips are cut from" });
  const method = h("select", { id: "cam-method", "aria-label": "Method" }, LIVE_METHODS.map((m) => h("option", { value: m }, m)));
  const detector = h("select", { id: "cam-detector", "aria-label": "Detector", hidden: true },
    detectors.length ? detectors.map((d) => h("option", { value: d.id }, `${d.name} (${d.encoder})`)) : h("option", { value: "" }, "no detector: fit one in Train"));
  const captioner = h("input", { id: "cam-captioner", size: 22, hidden: true, placeholder: "openai:http://vlm:8000/v1#model", "aria-label": "Captioner for lavad or judge" });
  method.addEventListener("change", () => { detector.hidden = method.value !== "oneclass"; captioner.hidden = !["lavad", "judge"].includes(method.value); });
  const fps = h("input", { id: "cam-fps", type: "number", min: "0.1", step: "0.1", value: "2", "aria-label": "Frames per second scored" });
  const threshold = h("input", { id: "cam-threshold", type: "number", step: "any", placeholder: "calibrate", "aria-label": "Threshold (empty: set from the warm-up)" });
  const warmup = h("input", { id: "cam-warmup", type: "number", min: "0", step: "1", value: "300", "aria-label": "Warm-up seconds" });
  const alerts = h("input", { id: "cam-alerts", size: 30, placeholder: "webhook:https://host/hook, mqtt://broker:1883/oddsight", "aria-label": "Alerts, comma-separated" });
  const add = h("button", { id: "cam-add", onclick: async () => {
    const body = { url: url.value.trim(), method: method.value, fps: Number(fps.value || 2), warmup: Number(warmup.value || 300) };
    if (name.value.trim()) body.name = name.value.trim();
    if (record.value.trim()) body.record_url = record.value.trim();
    if (threshold.value !== "") body.threshold = Number(threshold.value);
    if (method.value === "oneclass" && detector.value) body.detector_id = detector.value;
    if (!captioner.hidden && captioner.value.trim()) body.captioner = captioner.value.trim();
    const specs = alerts.value.split(",").map((a) => a.trim()).filter(Boolean);
    if (specs.length) body.alerts = specs;
    try { const c = await api("/cameras", { method: "POST", json: body }); say(`Watching ${c.name}.`, "info"); url.value = name.value = record.value = ""; await drawCameras(); }
    catch (e) { say(e.message); }
  } }, "Add camera");
  const grid = h("div", { id: "cameras", class: "tiles" });
  page("Cameras",
    h("section", { class: "panel" }, h("h2", {}, "Add a camera"),
      h("div", { class: "row" }, h("label", { for: "cam-url" }, "URL (or a file under --media, played in real time)", url), h("label", { for: "cam-name" }, "Name", name),
        h("label", { for: "cam-record" }, "Clips from (main stream)", record), h("label", { for: "cam-method" }, "Method", method, detector, captioner), h("label", { for: "cam-fps" }, "fps", fps),
        h("label", { for: "cam-threshold" }, "Threshold", threshold), h("label", { for: "cam-warmup" }, "Warm-up s", warmup),
        h("label", { for: "cam-alerts" }, "Alerts", alerts), add)),
    grid);
  const tiles = {};
  async function drawCameras() {
    let cams;
    try { cams = await api("/cameras"); } catch (e) { say(e.message); return; }
    if (!document.getElementById("cameras")) return;
    for (const id of Object.keys(tiles)) if (!cams.find((c) => c.id === id)) { tiles[id].el.remove(); delete tiles[id]; }
    if (!cams.length) grid.replaceChildren(h("p", { class: "muted", id: "no-cameras" }, "No cameras yet: add one above."));
    else document.getElementById("no-cameras")?.remove();
    for (const c of cams) {
      if (!tiles[c.id]) { tiles[c.id] = cameraTile(c, drawCameras); grid.append(tiles[c.id].el); }
      await tiles[c.id].update(c);
    }
  }
  clearInterval(cameraTimer);
  cameraTimer = setInterval(() => { if (document.getElementById("cameras")) drawCameras(); else clearInterval(cameraTimer); }, 2000);
  await drawCameras();
}

function calibrationText(c) {
  const cal = c.status && c.status.calibration;
  if (!cal) return "starting…";
  if (cal.threshold === null) return `calibrating: the first ${cal.warmup_s} s set the threshold`;
  const how = cal.source === "warm-up" ? `set from the warm-up at ${when(cal.set_at)}`
    : cal.source === "given" ? "given"
    : cal.source === "default (warming up)" ? `the method's default while the first ${cal.warmup_s} s calibrate`
    : "the method's default";
  return `threshold ${cal.threshold.toFixed(3)} (${how})`;
}

function cameraTile(c, redraw) {
  const picture = h("img", { class: "live", alt: `Live picture of ${c.name}` });
  const chart = h("div", { class: "live-chart", role: "img", "aria-label": `${c.name}: score over the last ${CHART_S / 60} minutes` });
  const badge = h("span", { class: "state" });
  const info = h("div", { class: "kv small" });
  const open = h("div", { class: "open-event" });
  const list = h("ul", { class: "events compact" });
  const remove = h("button", { class: "danger", onclick: async () => {
    if (!confirm(`Stop watching ${c.name} and delete its events and clips?`)) return;
    try { await api(`/cameras/${c.id}`, { method: "DELETE" }); redraw(); } catch (e) { say(e.message); }
  } }, "Delete");
  const restart = h("button", { class: "secondary", hidden: true, onclick: () => api(`/cameras/${c.id}/restart`, { method: "POST" }).then(redraw).catch((e) => say(e.message)) }, "Restart");
  let alerting = c.alerting || { armed: true, state: "armed" };
  const alertState = h("span", { class: "alerting small" });
  const setAlerting = async (change, words) => {
    try { alerting = (await api(`/cameras/${c.id}/alerting`, { method: "PATCH", json: change })).alerting; showAlerting(); say(words, "info"); }
    catch (e) { say(e.message); }
  };
  const snooze = h("button", { class: "secondary snooze", onclick: () => setAlerting(alerting.state === "snoozed" ? { snooze_min: 0 } : { snooze_min: 30 }, alerting.state === "snoozed" ? "Snooze ended." : "Snoozed for 30 minutes: scoring and events go on, alerts wait.") });
  const arm = h("button", { class: "secondary arm", onclick: () => setAlerting({ armed: !alerting.armed }, alerting.armed ? "Disarmed: no alerts until armed again." : "Armed.") });
  function showAlerting() {
    const until = alerting.state === "snoozed" && alerting.snoozed_until ? ` until ${when(alerting.snoozed_until)}` : "";
    const sched = alerting.schedule && alerting.schedule.length ? ` · schedule ${alerting.schedule.join(", ")}` : "";
    alertState.textContent = `alerts: ${alerting.state}${until}${sched}`;
    alertState.dataset.state = alerting.state;
    snooze.textContent = alerting.state === "snoozed" ? "End snooze" : "Snooze 30 min";
    arm.textContent = alerting.armed ? "Disarm" : "Arm";
  }
  showAlerting();
  const areas = areaEditor(c, picture);
  const el = h("section", { class: "panel tile", "data-camera": c.id },
    h("div", { class: "row" }, h("h2", {}, c.name), badge, h("span", { class: "muted small" }, c.url), h("span", { style: "flex:1" }), restart, remove),
    h("div", { class: "row" }, alertState, h("span", { style: "flex:1" }), areas.button, snooze, arm),
    areas.controls,
    h("div", { class: "tile-body" }, areas.wrap, chart), info, open, h("h3", {}, "Events"), list);
  let since = 0, drawn = false, seenPicture = 0, eventsKey = "";
  const xs = [], ys = [];
  let shaded = [];
  async function update(cam) {
    const st = cam.status || {};
    if (cam.alerting) { alerting = cam.alerting; showAlerting(); }
    const live = cam.state === "running" && !cam.responding ? "not responding" : cam.state;
    badge.textContent = live;
    badge.className = `state ${live === "running" ? "running" : ["failed", "not responding"].includes(live) ? "failed" : live === "reconnecting" ? "interrupted" : ""}`;
    restart.hidden = !["ended", "stopped", "failed"].includes(cam.state);
    const stream = st.stream || {};
    info.replaceChildren(h("span", { class: "calibration" }, calibrationText(cam)),
      h("span", {}, `${stream.sampled ?? 0} frames scored, ${stream.dropped ?? 0} dropped, lag ${(stream.lag_s ?? 0).toFixed(2)} s (worst ${(stream.worst_lag_s ?? 0).toFixed(2)} s)`),
      h("span", { class: "disk" }, st.disk && st.disk.total !== undefined ? `disk ${(st.disk.total / 1e6).toFixed(1)} MB` : ""),
      h("span", { class: "outages" }, `${(stream.outages || []).length} outage(s)${(stream.outages || []).length ? `, last ${stream.outages.at(-1).s.toFixed(1)} s at ${when(stream.outages.at(-1).from)}` : ""}`),
      ...(cam.error ? [h("span", { class: "error" }, cam.error)] : []));
    if (st.picture_at && st.picture_at !== seenPicture) {
      seenPicture = st.picture_at;
      picture.src = `${API}/cameras/${cam.id}/live.jpg?t=${st.picture_at}`;
    }
    const rows = await api(`/cameras/${cam.id}/scores?since=${since}`).catch(() => []);
    for (const r of rows) { xs.push(new Date(r.wall * 1000)); ys.push(r.smoothed); since = r.wall; }
    while (xs.length && (xs.at(-1) - xs[0]) / 1000 > CHART_S) { xs.shift(); ys.shift(); }
    const thr = st.calibration && st.calibration.threshold;
    const layout = { margin: { l: 36, r: 6, t: 6, b: 26 }, showlegend: false, height: 180, yaxis: { rangemode: "tozero", fixedrange: true },
      xaxis: { fixedrange: true, type: "date", tickformat: "%H:%M:%S", nticks: 4 },
      shapes: [...shaded, ...(thr === null || thr === undefined ? [] : [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: thr, y1: thr, line: { color: "#c62f2f", width: 2, dash: "dash" } }])] };
    const trace = [{ x: xs.slice(), y: ys.slice(), type: "scatter", mode: "lines", line: { color: "#1d2330", width: 1.2 }, hovertemplate: "%{y:.3f}<extra></extra>" }];
    if (!drawn) { await Plotly.newPlot(chart, trace, layout, { displayModeBar: false, responsive: true }); drawn = true; }
    else await Plotly.react(chart, trace, layout);
    chart.dataset.points = String(xs.length);
    const ev = st.open_event;
    open.replaceChildren(...(ev ? [h("span", { class: "state failed" }, "event open"), ` since ${clock(ev.start_s)}, peak ${ev.peak_score.toFixed(3)}${ev.label ? ` · ${ev.label}` : ""}`] : []));
    const events = await api(`/cameras/${cam.id}/events?limit=20`).catch(() => []);
    // events on the chart's own clock (wall time), shaded
    shaded = events.filter((e) => e.start_wall).map((e) => ({ type: "rect", xref: "x", yref: "paper", x0: new Date(e.start_wall * 1000), x1: new Date((e.end_wall || e.start_wall) * 1000), y0: 0, y1: 1, fillcolor: e.kind === "tamper" ? "#f0b429" : "#c62f2f", opacity: 0.15, line: { width: 0 } }));
    const key = JSON.stringify(events.map((e) => [e.id, e.state, e.review, e.has_clip, e.has_snapshot]));
    if (key !== eventsKey) {
      eventsKey = key;
      list.replaceChildren(...events.map((e) => cameraEventItem(e, () => { eventsKey = ""; update(cam); })));
      if (!events.length) list.append(h("li", { class: "muted small" }, "None yet."));
    }
  }
  return { el, update };
}

// --- masks and zones, drawn on the live picture -----------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

function areaEditor(c, picture) {
  let areas = c.zones || { masks: [], zones: [], alert_zones: [] };
  let drawing = [], editing = false;
  const overlay = svg("svg", { class: "areas", viewBox: "0 0 1 1", preserveAspectRatio: "none" });
  const wrap = h("div", { class: "picture-wrap" }, picture, overlay);
  const kind = h("select", { class: "area-kind", "aria-label": "Shape to draw" }, h("option", { value: "mask" }, "Mask (never scores)"), h("option", { value: "zone" }, "Zone"));
  const name = h("input", { class: "area-name", placeholder: "zone name", "aria-label": "Zone name" });
  const threshold = h("input", { class: "area-threshold", type: "number", step: "any", placeholder: "its threshold (optional)", "aria-label": "Zone threshold" });
  const hint = h("span", { class: "muted small" }, "Click the corners on the picture, then Finish shape.");
  const finish = h("button", { class: "secondary area-finish", onclick: () => {
    if (drawing.length < 3) { say("A shape needs at least 3 corners: click on the picture."); return; }
    if (kind.value === "mask") areas.masks.push(drawing);
    else {
      if (!name.value.trim()) { say("Give the zone a name."); return; }
      const zone = { name: name.value.trim(), polygon: drawing };
      if (threshold.value !== "") zone.threshold = Number(threshold.value);
      areas.zones.push(zone);
      name.value = ""; threshold.value = "";
    }
    drawing = []; draw();
  } }, "Finish shape");
  const save = h("button", { class: "area-save", onclick: async () => {
    try { areas = (await api(`/cameras/${c.id}/zones`, { method: "PUT", json: areas })).zones; draw(); say("Masks and zones saved: the camera uses them within a second.", "info"); }
    catch (e) { say(e.message); }
  } }, "Save areas");
  const clear = h("button", { class: "danger", onclick: () => { areas = { masks: [], zones: [], alert_zones: [] }; drawing = []; draw(); } }, "Clear all");
  const controls = h("div", { class: "row area-controls", hidden: true }, kind, name, threshold, finish, save, clear, hint);
  const button = h("button", { class: "secondary area-edit", onclick: () => {
    editing = !editing; controls.hidden = !editing; wrap.classList.toggle("editing", editing);
    button.textContent = editing ? "Done" : "Edit areas"; drawing = []; draw();
  } }, "Edit areas");
  function fit() {  // the overlay over the picture itself (letterboxed inside its box)
    const iw = picture.naturalWidth || 16, ih = picture.naturalHeight || 9;
    const bw = picture.clientWidth, bh = picture.clientHeight;
    const scale = Math.min(bw / iw, bh / ih), w = iw * scale, hh = ih * scale;
    Object.assign(overlay.style, { left: `${(bw - w) / 2}px`, top: `${(bh - hh) / 2}px`, width: `${w}px`, height: `${hh}px` });
  }
  const points = (poly) => poly.map(([x, y]) => `${x},${y}`).join(" ");
  function draw() {
    fit();
    const shapes = [
      ...areas.masks.map((m) => svg("polygon", { class: "mask", points: points(m) })),
      ...areas.zones.flatMap((z) => [svg("polygon", { class: "zone", points: points(z.polygon), "data-zone": z.name }),
        Object.assign(svg("text", { x: z.polygon[0][0] + 0.01, y: z.polygon[0][1] + 0.05, class: "zone-name" }), { textContent: z.name })]),
    ];
    if (drawing.length) shapes.push(svg("polyline", { class: "drawing", points: points(drawing) }), ...drawing.map(([x, y]) => svg("circle", { cx: x, cy: y, r: 0.01, class: "corner" })));
    overlay.replaceChildren(...shapes);
  }
  overlay.addEventListener("click", (e) => {
    if (!editing) return;
    const r = overlay.getBoundingClientRect();
    const round = (v) => Math.round(Math.min(1, Math.max(0, v)) * 1000) / 1000;
    drawing.push([round((e.clientX - r.left) / r.width), round((e.clientY - r.top) / r.height)]);
    draw();
  });
  picture.addEventListener("load", fit);
  window.addEventListener("resize", fit);
  draw();
  return { wrap, controls, button };
}

function cameraEventItem(e, after) {
  const mark = async (review) => {
    try { await api(`/camera-events/${e.id}`, { method: "PATCH", json: { review } }); say(review === "false_alarm" ? "Marked a false alarm: this scene joins the camera's normal memory." : "Confirmed.", "info"); after(); }
    catch (err) { say(err.message); }
  };
  const ended = e.state === "ended";
  return h("li", { class: "event", "data-event": e.id, "data-state": e.state },
    e.has_snapshot ? h("img", { src: `${API}/camera-events/${e.id}/snapshot.jpg`, alt: `Peak frame at ${clock(e.peak_s)}`, loading: "lazy" }) : h("div", { class: "noimg" }),
    h("div", {},
      h("div", { class: "what" }, e.start_wall ? `${when(e.start_wall)} (${(e.end_s - e.start_s).toFixed(1)} s)` : `${clock(e.start_s)} – ${clock(e.end_s)}`, e.kind === "tamper" ? h("span", { class: "state failed" }, `camera ${e.label}`) : (e.label ? ` · ${e.label}` : ""), " ", state(ended ? e.review : "open")),
      h("div", { class: "kv" }, h("span", {}, `peak ${Number(e.peak_score).toFixed(3)}`), h("span", {}, when(e.opened_at))),
      e.reason ? h("p", { class: "small" }, e.reason) : null,
      e.note ? h("p", { class: "small muted" }, e.note) : null,
      h("div", { class: "row" },
        h("button", { class: "good", disabled: !ended || e.review === "confirmed", onclick: () => mark("confirmed") }, "Confirm"),
        h("button", { class: "danger", disabled: !ended || e.review === "false_alarm", onclick: () => mark("false_alarm") }, "False alarm"),
        e.has_clip ? h("a", { href: `${API}/camera-events/${e.id}/clip.mp4`, target: "_blank" }, "Clip") : null)));
}

// --- Models ------------------------------------------------------------------------------------------

async function modelsPage() {
  const models = await api("/models");
  page("Models",
    h("section", { class: "panel" }, h("p", { class: "muted small" }, "What loads offline on this server now, and how to get the rest (run the command on the server)."),
      h("div", { class: "table-wrap" }, h("table", { class: "cards" }, h("thead", {}, h("tr", {}, h("th", {}, "Model"), h("th", {}, "Role"), h("th", {}, "Offline now"),
        h("th", { class: "hide-narrow" }, "Licence"), h("th", {}, "About"))),
      h("tbody", {}, models.map((m) => h("tr", {}, h("td", {}, m.id, m.default_for.length ? h("div", { class: "small muted" }, `default of ${m.default_for.join(", ")}`) : null), h("td", {}, m.role),
        h("td", {}, m.available ? state("done") : h("span", { class: "state failed" }, "missing"), m.available ? "" : h("div", { class: "small muted" }, m.how_to_get)),
        h("td", { class: "hide-narrow" }, m.licence), h("td", { class: "small" }, m.description))))))));
}

// --- routing -----------------------------------------------------------------------------------------

async function route() {
  const [, name = "videos", arg] = location.hash.split("/");
  const current = name === "result" ? "videos" : name;
  for (const a of document.querySelectorAll("nav a[data-page]")) {
    if (a.dataset.page === current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const pages = { videos: videosPage, cameras: camerasPage, events: eventsPage, train: trainPage, models: modelsPage, result: () => resultPage(arg) };
  try { await (pages[name] || videosPage)(); }
  catch (e) { page("Something went wrong", h("p", { class: "error" }, e.message)); }
}

window.addEventListener("hashchange", () => { route(); main.focus(); });
route();
