// sonodream studio: the page's logic, no libraries. Talks to the JSON API
// of `sonodream serve` (see the README) and keeps this session's dreams.
"use strict";

const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("sonodream-token") || "";
let models = [];
let chosenFile = null;

// A token handed over in the URL's fragment (#token=...) never reaches a log.
if (location.hash.startsWith("#token=")) {
  token = decodeURIComponent(location.hash.slice(7));
  sessionStorage.setItem("sonodream-token", token);
  history.replaceState(null, "", location.pathname);
}

function api(path, options = {}) {
  options.headers = Object.assign({}, options.headers, token ? { Authorization: "Bearer " + token } : {});
  return fetch(path, options);
}

// Players, pictures and event streams cannot send headers: the token rides along.
function withToken(path) {
  return token ? path + "?token=" + encodeURIComponent(token) : path;
}

async function errorOf(response) {
  try {
    const body = await response.json();
    if (body && body.error) return body.error;
  } catch (e) { /* not JSON */ }
  return response.status + " " + response.statusText;
}

function option(select, value, text) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = text;
  select.appendChild(o);
}

function currentModel() {
  return models.find((m) => m.name === $("model").value) || models[0];
}

function fillModel() {
  const m = currentModel();
  const layer = $("layer"), cls = $("class");
  layer.textContent = "";
  cls.textContent = "";
  for (const l of m.layers) {
    if (l.type === "dropout" || l.type === "flatten") continue;
    option(layer, l.name, `${l.name} (${l.type}, ${l.channels} channels)`);
  }
  layer.value = m.default_layer;
  for (const c of m.classes) option(cls, c, c.replace(/_/g, " "));
  const d = m.defaults;
  $("octaves").value = d.octaves;
  $("iterations").value = d.iterations;
  $("step").value = d.step;
  $("seed").value = d.seed;
  $("render").value = d.render;
  updateOutputs();
  updateObjective();
}

function updateOutputs() {
  for (const id of ["octaves", "iterations", "step"]) $(id + "-out").textContent = $(id).value;
}

function objective() {
  return document.querySelector("input[name=objective]:checked").value;
}

function updateObjective() {
  const o = objective();
  $("layer-row").hidden = o === "class";
  $("channel-row").hidden = o !== "channel";
  $("class-row").hidden = o !== "class";
  const l = currentModel().layers.find((x) => x.name === $("layer").value);
  if (l) {
    $("channel").max = l.channels - 1;
    $("channel-range").textContent = `0 to ${l.channels - 1}`;
  }
}

function chooseFile(file, label) {
  chosenFile = file;
  $("drop-text").textContent = file ? `${label || file.name} (${(file.size / 1024).toFixed(0)} KB)` : "Drop an audio file here, or choose one";
}

async function start() {
  const r = await api("/api/models");
  if (r.status === 401) {
    $("token-box").hidden = false;
    $("token").focus();
    return;
  }
  if (!r.ok) {
    $("form-error").textContent = "cannot load the models: " + (await errorOf(r));
    return;
  }
  $("token-box").hidden = true;
  models = await r.json();
  $("model").textContent = "";
  for (const m of models) option($("model"), m.name, `${m.name} (${m.classes.length} classes, ${m.sample_rate} Hz)`);
  $("model-row").hidden = models.length < 2;
  fillModel();
  const e = await api("/api/examples");
  if (e.ok) {
    const list = await e.json();
    for (const x of list) option($("example"), x.name, x.name);
    $("examples-row").hidden = list.length === 0;
  }
}

async function pickExample() {
  const name = $("example").value;
  if (!name) return chooseFile(null);
  const r = await api("/api/examples/" + encodeURIComponent(name));
  if (!r.ok) {
    $("form-error").textContent = await errorOf(r);
    return;
  }
  $("audio").value = "";
  chooseFile(new File([await r.blob()], name), name);
}

function describe(fields) {
  const what = fields.objective === "class" ? `class ${fields.class}`
             : fields.objective === "channel" ? `${fields.layer} channel ${fields.channel}` : `layer ${fields.layer}`;
  return `${what}; ${fields.octaves} octaves × ${fields.iterations} iterations, step ${fields.step}, seed ${fields.seed}, ${fields.render}`;
}

async function submit(event) {
  event.preventDefault();
  $("form-error").textContent = "";
  if (!chosenFile) {
    $("form-error").textContent = "Choose a sound first (drop a file, pick one, or pick an example).";
    return;
  }
  const o = objective();
  const fields = { model: $("model").value, objective: o, octaves: $("octaves").value, iterations: $("iterations").value,
                   step: $("step").value, seed: $("seed").value, render: $("render").value };
  if (o !== "class") fields.layer = $("layer").value;
  if (o === "channel") fields.channel = $("channel").value;
  if (o === "class") fields.class = $("class").value;
  const form = new FormData();
  form.append("audio", chosenFile, chosenFile.name);
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  $("dream").disabled = true;
  try {
    const r = await api("/api/dreams", { method: "POST", body: form });
    if (r.status !== 202) {
      $("form-error").textContent = await errorOf(r);
      return;
    }
    const { id } = await r.json();
    follow(addCard(id, chosenFile.name, fields), id);
  } catch (e) {
    $("form-error").textContent = "the server did not answer: " + e.message;
  } finally {
    $("dream").disabled = false;
  }
}

function addCard(id, name, fields) {
  const li = $("dream-card").content.firstElementChild.cloneNode(true);
  li.dataset.id = id;
  li.dataset.state = "queued";
  li.querySelector(".title").textContent = name;
  li.querySelector(".params").textContent = describe(fields);
  li.querySelector(".cancel").addEventListener("click", () => api(`/api/dreams/${id}`, { method: "DELETE" }));
  li.querySelector(".remove").addEventListener("click", async () => {
    await api(`/api/dreams/${id}`, { method: "DELETE" });
    li.remove();
    $("empty").hidden = $("history").children.length > 0;
  });
  $("history").prepend(li);
  $("empty").hidden = true;
  return li;
}

function show(li, status) {
  li.dataset.state = status.state;
  li.className = "dream " + status.state;
  li.querySelector("progress").value = status.progress;
  const state = li.querySelector(".state");
  if (status.state === "queued") state.textContent = `queued, ${status.position === 1 ? "next" : "number " + status.position} in line`;
  else if (status.state === "running") state.textContent = `dreaming, ${Math.round(100 * status.progress)} %`;
  else if (status.state === "failed") state.textContent = "failed: " + status.error;
  else state.textContent = status.state;
  li.querySelector(".cancel").hidden = status.state !== "queued" && status.state !== "running";
  if (status.state !== "done" || !li.querySelector(".result").hidden) return;
  const base = `/api/dreams/${status.id}`;
  const rep = status.report;
  li.querySelector(".picture").src = withToken(base + "/picture");
  li.querySelector(".input").src = withToken(base + "/input");
  li.querySelector(".dream-audio").src = withToken(base + "/audio");
  const stem = li.querySelector(".title").textContent.replace(/\.[^.]*$/, "");
  const download = li.querySelector(".download");
  download.href = withToken(base + "/audio");
  download.download = `${stem}-dream-${status.id.slice(0, 8)}.wav`;
  const picture = li.querySelector(".download-picture");
  picture.href = withToken(base + "/picture");
  picture.download = `${stem}-dream-${status.id.slice(0, 8)}.png`;
  li.querySelector(".numbers").textContent =
    `objective ${rep.objective_before.toPrecision(4)} → ${rep.objective_after.toPrecision(4)}; ` +
    `mean change ${rep.mean_change_db.toFixed(1)} dB; ${rep.seconds.toFixed(2)} s at ${rep.sample_rate} Hz, ` +
    `${rep.channels} channel(s); dreamed in ${rep.dream_seconds.toFixed(1)} s`;
  li.querySelector(".result").hidden = false;
}

const FINAL = ["done", "failed", "cancelled"];

function follow(li, id) {
  const events = new EventSource(withToken(`/api/dreams/${id}/events`));
  events.addEventListener("status", (e) => {
    const status = JSON.parse(e.data);
    show(li, status);
    if (FINAL.includes(status.state)) events.close();
  });
  events.onerror = () => {
    if (FINAL.includes(li.dataset.state)) return;
    events.close();
    poll(li, id); // the stream broke: ask instead
  };
}

async function poll(li, id) {
  while (!FINAL.includes(li.dataset.state)) {
    const r = await api(`/api/dreams/${id}`);
    if (!r.ok) {
      li.querySelector(".state").textContent = await errorOf(r);
      return;
    }
    show(li, await r.json());
    await new Promise((done) => setTimeout(done, 500));
  }
}

function setup() {
  $("model").addEventListener("change", fillModel);
  $("layer").addEventListener("change", updateObjective);
  for (const r of document.querySelectorAll("input[name=objective]")) r.addEventListener("change", updateObjective);
  for (const id of ["octaves", "iterations", "step"]) $(id).addEventListener("input", updateOutputs);
  $("audio").addEventListener("change", () => {
    $("example").value = "";
    chooseFile($("audio").files[0] || null);
  });
  $("example").addEventListener("change", pickExample);
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files.length) {
      $("example").value = "";
      chooseFile(e.dataTransfer.files[0]);
    }
  });
  $("dream-form").addEventListener("submit", submit);
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    token = $("token").value.trim();
    sessionStorage.setItem("sonodream-token", token);
    start();
  });
  start();
}

setup();
