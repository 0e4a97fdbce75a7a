// cspec serve: the page. Plain JS, no build step; talks to the API documented in docs/serve.md.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
let MODELS = null;

function showError(el, message) {
  el.textContent = message || "";
  el.hidden = !message;
}

async function jsonOrError(response) {
  let body = null;
  try { body = await response.json(); } catch (e) { /* not JSON */ }
  if (!response.ok) throw new Error((body && body.error) || `HTTP ${response.status}`);
  return body;
}

function fillSelect(select, names, chosen) {
  select.replaceChildren(...names.map((n) => new Option(n, n, false, n === chosen)));
}

function onTask() {
  const task = $("#task").value;
  const isRebuild = task === "reconstruct";
  $("#model-label").hidden = isRebuild;
  $("#method-label").hidden = !isRebuild;
  if (!isRebuild) fillSelect($("#model"), MODELS[task], MODELS.defaults[task]);
  const none = !isRebuild && MODELS[task].length === 0;
  showError($("#error"), none ? `No ${task} model on this server yet (start it with --model-dir FOLDER).` : "");
}

async function loadModels() {
  MODELS = await jsonOrError(await fetch("/api/models"));
  fillSelect($("#method"), MODELS.reconstruct, MODELS.defaults.reconstruct);
  fillSelect($("#live-model"), MODELS.live, MODELS.defaults.live);
  $("#limits").textContent = `Up to ${(MODELS.limits.max_upload / 1e6).toFixed(0)} MB per file; ` +
    "wav, flac, ogg, mp3, aiff ...";
  onTask();
}

function addPlayer(root, label, url) {
  const div = document.createElement("div");
  div.className = "player";
  const title = document.createElement("span");
  title.textContent = label;
  const audio = document.createElement("audio");
  audio.controls = true;
  audio.preload = "auto";
  audio.src = url;
  audio.dataset.role = label;
  div.append(title, audio);
  root.append(div);
}

function fmt(v) { return v === undefined ? "-" : Number(v).toFixed(2); }

function render(card, job) {
  const r = job.result, files = r.files;
  const players = $(".players", card);
  addPlayer(players, "input", files["input.wav"]);
  for (const name of r.outputs) addPlayer(players, name.replace(/\.wav$/, ""), files[name]);
  const rows = Object.entries(r.scores).map(([label, s]) => {
    const tr = document.createElement("tr");
    const cells = s.error ? [label, s.error] : [label, fmt(s.sig), fmt(s.bak), fmt(s.ovrl), fmt(s.p808)];
    for (const c of cells) { const td = document.createElement("td"); td.textContent = c; tr.append(td); }
    if (s.error) tr.lastChild.colSpan = 4;
    return tr;
  });
  $(".scores tbody", card).replaceChildren(...rows);
  $(".fig-spec", card).src = files["spectrogram.png"];
  $(".fig-phase", card).src = files["phase.png"];
  const a = $(".download", card);
  a.href = files[r.download] + "?download=1";
  a.textContent = `Download ${r.download_name}`;
  $(".body", card).hidden = false;
}

async function runJob(blob, name) {
  const card = $("#result-template").content.firstElementChild.cloneNode(true);
  $(".name", card).textContent = `${name}: ${$("#task").selectedOptions[0].textContent}`;
  $("#results").prepend(card);
  const bar = $(".bar", card), stage = $(".stage", card), err = $(".error", card);
  const form = new FormData();
  form.append("file", blob, name);
  form.append("task", $("#task").value);
  form.append($("#task").value === "reconstruct" ? "method" : "model",
    ($("#task").value === "reconstruct" ? $("#method") : $("#model")).value);
  try {
    let job = await jsonOrError(await fetch("/api/jobs", { method: "POST", body: form }));
    while (job.state === "queued" || job.state === "running") {
      bar.style.width = `${Math.round(100 * job.progress)}%`;
      stage.textContent = job.stage;
      await new Promise((ok) => setTimeout(ok, 250));
      job = await jsonOrError(await fetch(`/api/jobs/${job.id}`));
    }
    if (job.state === "error") throw new Error(job.error);
    bar.style.width = "100%";
    stage.textContent = `done: ${job.result.seconds} s at ${job.result.sample_rate} Hz`;
    card.classList.add("done");
    render(card, job);
  } catch (e) {
    stage.textContent = "failed";
    card.classList.add("failed");
    showError(err, e.message);
  }
}

function runFiles(files) { for (const f of files) runJob(f, f.name); }

// A float32 WAV file of mono samples, for recordings (libsndfile reads it; browsers' webm it does not).
function wavBlob(samples, rate) {
  const head = new DataView(new ArrayBuffer(44));
  const put = (o, s) => { for (let i = 0; i < 4; i++) head.setUint8(o + i, s.charCodeAt(i)); };
  put(0, "RIFF"); head.setUint32(4, 36 + samples.length * 4, true); put(8, "WAVE");
  put(12, "fmt "); head.setUint32(16, 16, true); head.setUint16(20, 3, true); head.setUint16(22, 1, true);
  head.setUint32(24, rate, true); head.setUint32(28, rate * 4, true); head.setUint16(32, 4, true);
  head.setUint16(34, 32, true); put(36, "data"); head.setUint32(40, samples.length * 4, true);
  return new Blob([head.buffer, samples.buffer], { type: "audio/wav" });
}

let recording = null;
async function toggleRecord() {
  const button = $("#record"), status = $("#record-status");
  if (recording) {
    const { ctx, stream, chunks } = recording;
    recording = null;
    stream.getTracks().forEach((t) => t.stop());
    await ctx.close();
    const n = chunks.reduce((s, c) => s + c.length, 0);
    const all = new Float32Array(n);
    let o = 0;
    for (const c of chunks) { all.set(c, o); o += c.length; }
    button.textContent = "Record from the microphone";
    status.textContent = `recorded ${(n / ctx.sampleRate).toFixed(1)} s`;
    if (n > 0) runJob(wavBlob(all, ctx.sampleRate), "recording.wav");
    return;
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
    const ctx = new AudioContext();
    await ctx.audioWorklet.addModule("/static/capture-worklet.js");
    const node = new AudioWorkletNode(ctx, "cspec-capture", { processorOptions: { blockFrames: 4096 } });
    const chunks = [];
    node.port.onmessage = (e) => {
      chunks.push(e.data);
      // blocks still in flight after "stop" must not overwrite the "recorded" line
      if (recording && recording.chunks === chunks) status.textContent = `recording ${(chunks.length * 4096 / ctx.sampleRate).toFixed(1)} s`;
    };
    ctx.createMediaStreamSource(stream).connect(node);
    recording = { ctx, stream, chunks };
    button.textContent = "Stop and process";
  } catch (e) {
    showError($("#error"), `microphone: ${e.message}`);
  }
}

window.addEventListener("DOMContentLoaded", () => {
  loadModels().catch((e) => showError($("#error"), `cannot list the models: ${e.message}`));
  $("#task").addEventListener("change", onTask);
  $("#file").addEventListener("change", (e) => { runFiles(e.target.files); e.target.value = ""; });
  const drop = $("#drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); runFiles(e.dataTransfer.files); });
  $("#record").addEventListener("click", toggleRecord);
});
