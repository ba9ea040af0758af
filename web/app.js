// app.js — the northstar dashboard: polls GET /v1/stats, draws the
// north-star metric, request rate and latency over time, lists the recall
// channels, and asks /v1/recommend and /v1/items/{id}/similar on demand.
// Plain JS, no library: the server embeds this file in its binary.
'use strict';

const $ = (id) => document.getElementById(id);
const POLL_MS = 2000;
const fmt = (v, d = 0) => (v === null || v === undefined || !isFinite(v)) ? '–' :
  Number(v).toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

// ---- charts: one line per series on a canvas, y from 0 ----
function drawChart(canvas, series, opts) {
  const dpr = window.devicePixelRatio || 1;
  if (!canvas._h) canvas._h = canvas.height; // the CSS height, from the markup
  const w = canvas.clientWidth;
  canvas.width = Math.max(1, Math.floor(w * dpr));
  canvas.height = Math.floor(canvas._h * dpr);
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const H = canvas._h, L = 44, R = 6, T = 6, B = 16;
  ctx.clearRect(0, 0, w, H);
  let tmin = Infinity, tmax = -Infinity, ymax = 0;
  for (const s of series) for (const p of s.points) {
    if (p[1] === null || !isFinite(p[1])) continue;
    tmin = Math.min(tmin, p[0]); tmax = Math.max(tmax, p[0]); ymax = Math.max(ymax, p[1]);
  }
  ctx.font = '10px system-ui, sans-serif';
  ctx.fillStyle = '#8a93a6';
  if (!isFinite(tmin)) { ctx.fillText('collecting data…', L, H / 2); return; }
  if (tmax - tmin < 10) tmin = tmax - 10;
  ymax = ymax > 0 ? ymax * 1.15 : 1;
  const x = (t) => L + (t - tmin) / (tmax - tmin) * (w - L - R);
  const y = (v) => T + (1 - v / ymax) * (H - T - B);
  ctx.strokeStyle = '#e2e6ee'; ctx.lineWidth = 1;
  for (let k = 0; k <= 2; k++) {
    const v = ymax * k / 2, yy = Math.round(y(v)) + 0.5;
    ctx.beginPath(); ctx.moveTo(L, yy); ctx.lineTo(w - R, yy); ctx.stroke();
    ctx.fillText(opts.fmt(v), 2, yy + 3);
  }
  const span = tmax - tmin;
  ctx.fillText(span >= 120 ? `−${Math.round(span / 60)} min` : `−${Math.round(span)} s`, L, H - 3);
  ctx.fillText('now', w - R - 18, H - 3);
  for (const s of series) {
    ctx.strokeStyle = s.color; ctx.lineWidth = 2; ctx.beginPath();
    let pen = false;
    for (const p of s.points) {
      if (p[1] === null || !isFinite(p[1])) { pen = false; continue; }
      if (pen) ctx.lineTo(x(p[0]), y(p[1])); else ctx.moveTo(x(p[0]), y(p[1]));
      pen = true;
    }
    ctx.stroke();
    if (s.label) {
      const last = s.points.filter((p) => p[1] !== null).pop();
      if (last) { ctx.fillStyle = s.color; ctx.fillText(s.label, Math.min(x(last[0]) - 24, w - R - 28), y(last[1]) - 4); ctx.fillStyle = '#8a93a6'; }
    }
  }
}

// ---- polling ----
let last = null;
function render(s) {
  last = s;
  $('conn').textContent = 'live'; $('conn').className = 'pill ok';
  $('meta').textContent = `v${s.version} · up ${fmtDuration(s.uptime_s)} · ${fmt(s.http.requests)} requests` +
    (s.http.server_errors ? ` · ${fmt(s.http.server_errors)} errors` : '');
  const n = s.north_star;
  $('ns-name').textContent = `— ${n.name} over ${n.window}`;
  $('ns-value').textContent = n.denominator ? fmt(n.value, 4) : '–';
  $('ns-frac').textContent = `${fmt(n.numerator)} ${numName(n.name)} / ${fmt(n.denominator)} in the last ${n.window}`;
  const r = s.rates;
  $('rps').textContent = fmt(r.rps, 1);
  $('rps-sub').textContent = `${fmt(r.recs_per_s, 1)} recommendations/s · ${fmt(s.http.inflight)} in flight`;
  $('p50').textContent = fmt(r.p50_ms, 2);
  $('p99').textContent = fmt(r.p99_ms, 2);
  $('events').textContent = fmt(s.events_ingested);
  $('events-sub').textContent = `${fmt(r.eps, 1)} events/s · ${fmt(s.recommendations)} recommendations · ${fmt(s.cold_start)} cold-start`;
  $('users').textContent = fmt(s.users);
  $('items').textContent = fmt(s.items);
  $('store-events').textContent = fmt(s.events);
  $('ranker').textContent = `ranker ${s.ranker} · ${s.channels.length} recall channels`;
  const rt = s.retrain;
  let rtxt = rt.running ? 'retraining now…' : (rt.ok + rt.failed ? `retrains: ${rt.ok} ok, ${rt.failed} failed` : 'no retrain yet');
  if (!rt.running && rt.last_s !== undefined) rtxt += ` · last took ${fmt(rt.last_s, 1)} s` + (rt.last_error ? ` · error: ${rt.last_error}` : '');
  $('retrain').textContent = rtxt;
  $('retrain').title = rt.models ? `model bundle: ${rt.models}` : 'no model bundle (serve --models DIR)';
  renderChannels(s.channels);
  drawChart($('ch-ns'), [{ color: '#2f6fec', points: s.history.map((p) => [p.t, p.north_star]) }], { fmt: (v) => v.toFixed(3) });
  drawChart($('ch-rps'), [{ color: '#2f6fec', points: s.history.map((p) => [p.t, p.rps]) }], { fmt: (v) => v.toFixed(0) });
  drawChart($('ch-lat'), [
    { color: '#e8912d', label: 'p99', points: s.history.map((p) => [p.t, p.p99_ms]) },
    { color: '#2f6fec', label: 'p50', points: s.history.map((p) => [p.t, p.p50_ms]) }], { fmt: (v) => v.toFixed(1) });
}

function numName(name) { return name === 'ctr' ? 'clicks' : 'numerator'; }
function fmtDuration(s) {
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

const COLORS = ['#2f6fec', '#e8912d', '#1f9d55', '#9b59b6', '#d64545', '#16a2b8', '#7f8c8d', '#c0a000', '#e84393', '#34495e'];
const chanColor = {};
function colorOf(name) {
  if (!(name in chanColor)) chanColor[name] = COLORS[Object.keys(chanColor).length % COLORS.length];
  return chanColor[name];
}
function tag(name) { const c = colorOf(name); return `<span class="tag" style="background:${c}22;color:${c}">${esc(name)}</span>`; }

function renderChannels(chs) {
  const total = chs.reduce((a, c) => a + c.served, 0) || 1;
  $('channels').tBodies[0].innerHTML = chs.map((c) =>
    `<tr><td>${tag(c.name)}</td><td class="num">${fmt(c.candidates)}</td><td class="num">${fmt(c.served)}</td>` +
    `<td><div class="bar" style="width:${(100 * c.served / total).toFixed(1)}%;background:${colorOf(c.name)}"></div></td></tr>`).join('');
}

// The token typed in the box goes with every request: the admin token
// also opens the read routes of a server started with a read token.
function auth() {
  const t = $('token').value.trim();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

async function poll() {
  try {
    const r = await fetch('/v1/stats', { cache: 'no-store', headers: auth() });
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    render(await r.json());
  } catch (e) {
    $('conn').textContent = 'offline'; $('conn').className = 'pill bad';
  }
  setTimeout(poll, POLL_MS);
}

// ---- recommendations and similar items ----
async function getJSON(url) {
  const r = await fetch(url, { cache: 'no-store', headers: auth() });
  const j = await r.json();
  if (!r.ok) throw new Error(j.error ? j.error.message : `HTTP ${r.status}`);
  return j;
}

function itemCells(it) {
  const cats = (it.categories || []).join(', ');
  return `<td><code>${esc(it.id)}</code></td><td title="${esc(it.title || '')}">${esc(it.title || '')}<br><span class="cat">${esc(cats)}</span></td>`;
}

async function recommend(user) {
  $('rec-info').textContent = 'asking…';
  try {
    const j = await getJSON(`/v1/recommend/${encodeURIComponent(user)}?n=10&page=dashboard`);
    const recall = Object.entries(j.recall).map(([k, v]) => `${k} ${v}`).join(', ');
    $('rec-info').textContent = `${j.cold_start ? 'cold start · ' : ''}${j.candidates} candidates (${recall}), ranker ${j.ranker}, ` +
      `recall ${j.timing_ms.recall.toFixed(2)} ms + rank ${j.timing_ms.rank.toFixed(2)} ms`;
    $('recs').tBodies[0].innerHTML = j.items.map((it, i) =>
      `<tr class="click" data-item="${esc(it.id)}"><td>${i + 1}</td>${itemCells(it)}<td>${it.channels.map(tag).join('')}</td>` +
      `<td class="num">${Number(it.score).toFixed(4)}</td></tr>`).join('');
  } catch (e) {
    $('rec-info').innerHTML = `<span class="err">${esc(e.message)}</span>`;
    $('recs').tBodies[0].innerHTML = '';
  }
}

async function similar(item) {
  $('sim-info').textContent = 'asking…';
  $('item').value = item;
  try {
    const j = await getJSON(`/v1/items/${encodeURIComponent(item)}/similar?n=10`);
    $('sim-info').textContent = `${j.similar.length} items similar to ${j.item}`;
    $('sims').tBodies[0].innerHTML = j.similar.map((it, i) =>
      `<tr class="click" data-item="${esc(it.id)}"><td>${i + 1}</td>${itemCells(it)}<td>${tag(it.source)}</td>` +
      `<td class="num">${Number(it.score).toFixed(4)}</td></tr>`).join('');
  } catch (e) {
    $('sim-info').innerHTML = `<span class="err">${esc(e.message)}</span>`;
    $('sims').tBodies[0].innerHTML = '';
  }
}

// POST /admin/retrain with the token the server was started with (printed by `northstar demo`).
async function retrain(token) {
  try {
    const r = await fetch('/admin/retrain', { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
    const j = await r.json();
    $('retrain').innerHTML = r.ok ? 'retraining started…' : `<span class="err">${esc(j.error ? j.error.message : `HTTP ${r.status}`)}</span>`;
  } catch (e) {
    $('retrain').innerHTML = `<span class="err">${esc(e.message)}</span>`;
  }
}

$('f-retrain').addEventListener('submit', (e) => { e.preventDefault(); retrain($('token').value.trim()); });
$('f-rec').addEventListener('submit', (e) => { e.preventDefault(); const u = $('user').value.trim(); if (u) recommend(u); });
$('f-sim').addEventListener('submit', (e) => { e.preventDefault(); const i = $('item').value.trim(); if (i) similar(i); });
for (const id of ['recs', 'sims'])
  $(id).addEventListener('click', (e) => { const tr = e.target.closest('tr[data-item]'); if (tr) similar(tr.dataset.item); });
window.addEventListener('resize', () => { if (last) render(last); });

// Start: ?user=...&item=... fill the boxes (handy for links and screenshots).
const q = new URLSearchParams(location.search);
$('user').value = q.get('user') || 'u1';
$('item').value = q.get('item') || '';
poll();
recommend($('user').value).then(() => {
  const first = document.querySelector('#recs tr[data-item]');
  const it = $('item').value || (first && first.dataset.item);
  if (it) similar(it);
});
