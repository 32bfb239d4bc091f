// tern's dashboard: polls the JSON endpoints beside it and redraws. Everything that came
// from the network is put in the page with textContent (never parsed as HTML), so a name
// holding markup shows as text.
"use strict";

const KEEP_LINES = 10000; // query-log lines kept here, as many as tern keeps
const SHOW_LINES = 200; // rows drawn after filtering, newest first
const COLORS = { NOERROR: "#1a7f37", NXDOMAIN: "#0969da", SERVFAIL: "#cf222e", REFUSED: "#9a6700" };
const OTHER_COLORS = ["#8250df", "#bf3989", "#57606a", "#1b7c83"];

// Measured for the browser test: bytes fetched and ms spent rendering, per view.
window.ternStats = { bytes: {}, renderMs: {}, polls: 0 };

function $(id) { return document.getElementById(id); }

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function row(cells) {
  const tr = el("tr");
  for (const c of cells) tr.appendChild(c instanceof Node ? c : el("td", c));
  return tr;
}

function fmt(x, digits) {
  if (x === null || x === undefined) return "–";
  return typeof x === "number" ? x.toFixed(digits === undefined ? 1 : digits) : String(x);
}

async function getJSON(path) {
  const r = await fetch(path, { cache: "no-store" });
  if (!r.ok) throw new Error(path + ": " + r.status);
  const text = await r.text();
  window.ternStats.bytes[path.split("?")[0]] = text.length;
  return JSON.parse(text);
}

function timed(view, draw) {
  const t0 = performance.now();
  draw();
  window.ternStats.renderMs[view] = performance.now() - t0;
}

function color(label, i) {
  return COLORS[label] || OTHER_COLORS[i % OTHER_COLORS.length];
}

function drawChart(series) {
  const canvas = $("chart");
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  canvas.width = w * dpr; canvas.height = h * dpr;
  const g = canvas.getContext("2d");
  g.scale(dpr, dpr);
  g.clearRect(0, 0, w, h);
  const pad = { l: 48, r: 8, t: 8, b: 18 };
  const n = series.t.length;
  let max = 1;
  for (const v of series.qps) max = Math.max(max, v);
  const x = (i) => pad.l + (n <= 1 ? 0 : (i / (n - 1)) * (w - pad.l - pad.r));
  const y = (v) => h - pad.b - (v / max) * (h - pad.t - pad.b);
  g.strokeStyle = "#eaeef2"; g.fillStyle = "#57606a"; g.font = "11px system-ui";
  for (let k = 0; k <= 4; k++) {
    const v = (max * k) / 4;
    g.beginPath(); g.moveTo(pad.l, y(v)); g.lineTo(w - pad.r, y(v)); g.stroke();
    g.fillText(v.toFixed(v < 10 ? 1 : 0), 4, y(v) + 4);
  }
  if (n > 1) g.fillText(Math.round(series.t[n - 1] - series.t[0]) + " s", pad.l, h - 4);
  const line = (values, stroke, width) => {
    g.strokeStyle = stroke; g.lineWidth = width; g.beginPath();
    values.forEach((v, i) => (i ? g.lineTo(x(i), y(v)) : g.moveTo(x(i), y(v))));
    g.stroke();
  };
  line(series.qps, "#24292f", 2);
  const legend = $("legend");
  legend.replaceChildren();
  const item = (label, c) => {
    const s = el("span"); const i = el("i"); i.style.background = c;
    s.appendChild(i); s.appendChild(document.createTextNode(label)); legend.appendChild(s);
  };
  item("queries/s", "#24292f");
  series.rcodes.forEach(([label, values], i) => {
    line(values, color(label, i), 1.2);
    item(label + "/s", color(label, i));
  });
}

function renderTraffic(t) {
  drawChart(t.series);
  const stats = $("stats");
  stats.replaceChildren();
  const stat = (value, label) => {
    const d = el("div"); d.appendChild(el("b", value)); d.appendChild(el("span", label));
    stats.appendChild(d);
  };
  const last = t.series.qps.length ? t.series.qps[t.series.qps.length - 1] : 0;
  stat(fmt(last), "queries/s, last second");
  const win = Math.round(t.window_s) + " s";
  stat(t.hit_ratio === null ? "–" : (100 * t.hit_ratio).toFixed(1) + " %", "cache hits, last " + win);
  stat(fmt(t.latency.p50_ms, 2) + " / " + fmt(t.latency.p90_ms, 2) + " / " + fmt(t.latency.p99_ms, 2),
    "latency p50/p90/p99 ms (≤), last " + win);
  if (t.cache_entries !== null) stat(t.cache_entries, "cache entries");
  for (const [name, value] of t.totals) stat(value, name.replace(/_/g, " "));
  const reasons = $("reasons");
  reasons.replaceChildren();
  if (!t.servfail_reasons.length) reasons.appendChild(row([el("td", "none", "dim")]));
  for (const [reason, n] of t.servfail_reasons) reasons.appendChild(row([reason, n]));
}

function renderCluster(services) {
  const box = $("services");
  box.replaceChildren();
  if (!services.length) { box.appendChild(el("p", "no services", "dim")); return; }
  for (const s of services) {
    const h = el("h3", s.name);
    h.appendChild(el("span", "  " + (s.balance || "no balance policy") + (s.failed_open ? " · failed open" : ""),
      s.failed_open ? "failed-open" : "dim"));
    box.appendChild(h);
    const table = el("table");
    table.appendChild(row(["instance", "address", "weight", "health", "check RTT ms", "last error"].map((x) => el("th", x))));
    for (const i of s.instances) {
      const tr = row([i.name, i.address + ":" + i.port, i.weight,
        el("td", i.checked ? i.health : i.health + " (unchecked)", i.health),
        fmt(i.rtt_ms, 2), el("td", i.last_error || "", "err")]);
      tr.dataset.instance = i.name;
      tr.dataset.health = i.health;
      table.appendChild(tr);
    }
    box.appendChild(table);
  }
}

// The zones answered without configuration (RFC 6761, RFC 6303) are many and never change:
// behind a checkbox, sorted.
let lastZones = [];
function renderZones(zones) {
  lastZones = zones;
  const builtin = zones.filter((z) => z.source === "builtin").sort((a, b) => (a.origin < b.origin ? -1 : 1));
  $("z-builtin-label").textContent = "show " + builtin.length + " builtin";
  const shown = zones.filter((z) => z.source !== "builtin").concat($("z-builtin").checked ? builtin : []);
  const body = $("zone-rows");
  body.replaceChildren();
  const span = (s) => (s % 86400 === 0 ? s / 86400 + "d" : s % 3600 === 0 ? s / 3600 + "h" : s % 60 === 0 ? s / 60 + "m" : s + "s");
  for (const z of shown) {
    body.appendChild(row([z.origin + (z.signed ? " (signed)" : ""),
      z.serial === null ? el("td", "not served", "unhealthy") : z.serial,
      z.records === null ? "–" : z.records,
      z.timers ? z.timers.map(span).join(" / ") : "–", el("td", z.source, "err")]));
    // Replication on a line of its own under the zone: the panel is narrow.
    if (z.refresh || z.secondaries.length) body.appendChild(row([replication(z)]));
  }
}

// A duration in seconds as people say it: "12 s", "3m", "23h", "2d".
function ago(s) {
  if (s < 60) return Math.round(s) + " s";
  if (s < 3600) return Math.round(s / 60) + "m";
  if (s < 172800) return Math.round(s / 3600) + "h";
  return Math.round(s / 86400) + "d";
}

// A secondary's refresh state and a primary's secondaries, one line each.
function replication(z) {
  const td = el("td", undefined, "replication");
  td.colSpan = 5;
  td.dataset.replication = "";
  const line = (text, cls) => td.appendChild(el("div", text, cls));
  const r = z.refresh;
  if (r) {
    let text = r.error === null
      ? (r.checked_ago_s === null ? "not checked yet"
        : "refreshed " + ago(r.checked_ago_s) + " ago from " + r.primary + " (serial " + r.serial + ")")
      : "failing since " + ago(r.failing_for_s) + " ago (last error: " + r.error + ")";
    if (r.transferred_ago_s !== null) text += " · " + r.kind + " " + ago(r.transferred_ago_s) + " ago";
    if (r.next_in_s !== null) text += r.next_in_s > 0 ? " · next in " + ago(r.next_in_s) : " · checking";
    if (r.expired) text += " · expired";
    else if (r.expires_in_s !== null) text += " · expires in " + ago(r.expires_in_s);
    line(text, r.expired ? "unhealthy" : r.error === null ? undefined : "warn");
  }
  for (const s of z.secondaries) {
    const text = s.transferred_ago_s === null
      ? s.address + ": notified, no transfer yet"
      : s.address + ": " + s.kind + " " + ago(s.transferred_ago_s) + " ago, serial " + s.serial +
        (s.current ? " (current)" : " (behind)");
    line(text, s.transferred_ago_s === null ? "dim" : s.current ? "healthy" : "warn");
  }
  return td;
}

function renderUpstreams(servers) {
  const body = $("upstream-rows");
  body.replaceChildren();
  if (!servers.length) body.appendChild(row([el("td", "none asked yet", "dim")]));
  for (const s of servers) {
    body.appendChild(row([s.server, s.queries, s.timeouts, fmt(s.srtt_ms), fmt(s.rto_ms, 0),
      s.losses === undefined ? "–" : s.losses, el("td", s.standing || "–", s.standing)]));
  }
}

const queryLog = { next: 0, lines: [], enabled: true };

function renderQueries() {
  const body = $("query-rows");
  body.replaceChildren();
  if (!queryLog.enabled) {
    body.appendChild(row([el("td", "the query log is off ([log] queries)", "dim")]));
    $("query-count").textContent = "";
    return;
  }
  const name = $("f-name").value.trim().toLowerCase();
  const rcode = $("f-rcode").value.trim().toUpperCase();
  const client = $("f-client").value.trim();
  let shown = 0;
  for (let k = queryLog.lines.length - 1; k >= 0 && shown < SHOW_LINES; k--) {
    const q = queryLog.lines[k];
    if (name && !String(q.qname).toLowerCase().includes(name)) continue;
    if (rcode && !String(q.rcode).startsWith(rcode)) continue;
    if (client && !String(q.client).includes(client)) continue;
    const from = q.hit_path ? "hit path" : q.cache ? "cache" : q.upstream ? q.upstream + " upstream"
      : q.flags && q.flags.aa ? "zone" : "";
    const tr = row([String(q.time).slice(11, 23), q.client, q.qname, q.qtype, q.rcode, q.latency_us, from,
      q.ede ? q.ede.code + " " + q.ede.name + (q.ede.text ? ": " + q.ede.text : "") : ""]);
    tr.className = "query";
    body.appendChild(tr);
    shown++;
  }
  $("query-count").textContent = "(" + shown + " shown of " + queryLog.lines.length + " kept)";
}

async function pollQueries() {
  const q = await getJSON("/api/queries?since=" + queryLog.next);
  queryLog.enabled = q.enabled;
  // A restarted tern numbers its lines from 0 again.
  if (q.next < queryLog.next) { queryLog.next = 0; queryLog.lines = []; return; }
  queryLog.next = q.next;
  if (q.lines.length) {
    queryLog.lines = queryLog.lines.concat(q.lines);
    if (queryLog.lines.length > KEEP_LINES) queryLog.lines = queryLog.lines.slice(-KEEP_LINES);
  }
  timed("queries", renderQueries);
}

let polls = 0;
async function poll() {
  try {
    const jobs = [
      getJSON("/api/traffic").then((t) => timed("traffic", () => renderTraffic(t))),
      getJSON("/api/cluster").then((c) => timed("cluster", () => renderCluster(c))),
      getJSON("/api/upstreams").then((u) => timed("upstreams", () => renderUpstreams(u))),
      pollQueries(),
    ];
    // Zones change rarely: every fifth poll.
    if (polls % 5 === 0) jobs.push(getJSON("/api/zones").then((z) => timed("zones", () => renderZones(z))));
    await Promise.all(jobs);
    $("status").textContent = "live · " + new Date().toLocaleTimeString();
    $("status").className = "";
  } catch (e) {
    $("status").textContent = "not answering (" + e.message + "); retrying";
    $("status").className = "stale";
  }
  polls++;
  window.ternStats.polls = polls;
  setTimeout(poll, 1000);
}

$("z-builtin").addEventListener("change", () => renderZones(lastZones));
for (const id of ["f-name", "f-rcode", "f-client"]) $(id).addEventListener("input", () => timed("queries", renderQueries));
poll();
