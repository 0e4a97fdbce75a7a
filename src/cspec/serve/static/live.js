// cspec serve: live mode. The microphone at the model's rate (the browser resamples) goes to /api/live in 20 ms
// blocks, each with a timestamp; the enhanced blocks come back with it, are played, and the latency is shown.
"use strict";

const BLOCK_SECONDS = 0.02;
let LIVE = null;

function median(xs) {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function liveSet(id, text) { document.getElementById(id).textContent = text; }

function liveShow() {
  const L = LIVE;
  if (!L) return;
  const rtt = median(L.rtts), server = median(L.server);
  const block = 1000 * L.block / L.rate;
  liveSet("live-block", `${block.toFixed(1)} ms`);
  if (L.algo !== null) liveSet("live-algo", `${L.algo.toFixed(1)} ms`);
  if (!Number.isNaN(rtt)) {
    liveSet("live-rtt", `${rtt.toFixed(1)} ms (median of ${L.rtts.length})`);
    liveSet("live-server", `${server.toFixed(2)} ms`);
    const total = block + rtt + (L.algo || 0);
    const el = document.getElementById("live-latency");
    el.textContent = `${total.toFixed(1)} ms`;
    el.dataset.ms = total.toFixed(2);
  }
  const rec = document.getElementById("live-received");
  rec.textContent = `${(L.received / L.rate).toFixed(2)} s`;
  rec.dataset.samples = String(L.received);
  rec.dataset.rms = L.received ? Math.sqrt(L.energy / L.received).toFixed(5) : "0";
}

function livePlay(samples) {
  const L = LIVE;
  if (!samples.length) return;
  const buffer = L.ctx.createBuffer(1, samples.length, L.rate);
  buffer.copyToChannel(samples, 0);
  const src = L.ctx.createBufferSource();
  src.buffer = buffer;
  src.connect(L.ctx.destination);
  const at = Math.max(L.next, L.ctx.currentTime + 0.03);  // a 30 ms jitter buffer
  src.start(at);
  L.next = at + buffer.duration;
}

function onLiveMessage(e) {
  const L = LIVE;
  if (!L) return;
  if (typeof e.data === "string") {
    const msg = JSON.parse(e.data);
    if (msg.type === "ready") { L.algo = msg.algorithmic_ms; liveShow(); }
    if (msg.type === "error") showError(document.getElementById("live-error"), msg.error);
    return;
  }
  const head = new DataView(e.data, 0, 16);
  const t = head.getFloat64(0, true), server = head.getFloat64(8, true);
  const samples = new Float32Array(e.data.slice(16));
  if (t >= 0) {
    L.rtts.push(performance.now() - t);
    L.server.push(server);
    if (L.rtts.length > 200) { L.rtts.shift(); L.server.shift(); }
  }
  L.received += samples.length;
  for (const v of samples) L.energy += v * v;
  livePlay(samples);
  liveShow();
}

async function liveStart() {
  const err = document.getElementById("live-error");
  showError(err, "");
  const model = document.getElementById("live-model").value;
  const rate = (MODELS.rates && MODELS.rates[model]) || 16000;
  try {
    const mic = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
    const ctx = new AudioContext({ sampleRate: rate, latencyHint: "interactive" });
    await ctx.audioWorklet.addModule("/static/capture-worklet.js");
    const block = Math.round(BLOCK_SECONDS * rate);
    const node = new AudioWorkletNode(ctx, "cspec-capture", { processorOptions: { blockFrames: block } });
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/api/live?model=${encodeURIComponent(model)}&rate=${rate}`);
    ws.binaryType = "arraybuffer";
    LIVE = { ctx, mic, ws, node, rate, block, algo: null, rtts: [], server: [], received: 0, energy: 0, next: 0 };
    ws.onmessage = onLiveMessage;
    ws.onclose = () => liveStop(false);
    node.port.onmessage = (m) => {
      if (ws.readyState !== WebSocket.OPEN) return;
      const out = new ArrayBuffer(8 + 4 * m.data.length);
      new DataView(out).setFloat64(0, performance.now(), true);
      new Float32Array(out, 8).set(m.data);
      ws.send(out);
    };
    ctx.createMediaStreamSource(mic).connect(node);
    document.getElementById("live-start").disabled = true;
    document.getElementById("live-stop").disabled = false;
  } catch (e) {
    showError(err, `live: ${e.message}`);
    liveStop(false);
  }
}

function liveStop(sendStop = true) {
  const L = LIVE;
  if (!L) return;
  LIVE = null;
  if (sendStop && L.ws.readyState === WebSocket.OPEN) L.ws.send(JSON.stringify({ type: "stop" }));
  L.mic.getTracks().forEach((t) => t.stop());
  L.node.port.onmessage = null;
  setTimeout(() => L.ctx.close(), 500);
  document.getElementById("live-start").disabled = false;
  document.getElementById("live-stop").disabled = true;
}

window.addEventListener("DOMContentLoaded", () => {
  document.getElementById("live-start").addEventListener("click", liveStart);
  document.getElementById("live-stop").addEventListener("click", () => liveStop(true));
});
