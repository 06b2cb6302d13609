// Headroom dashboard: polls /stats (the same summary `headroom perf` prints) and redraws; no libraries.
"use strict";

const POLL_MS = 2000; // fresh enough to watch an agent work, cheap for the proxy
const SVG_NS = "http://www.w3.org/2000/svg";

// Formatting rules shared with headroom/cli/perf.py (fmt_int, fmt_pct, fmt_usd, fmt_ms): same digits in both.
const fmtInt = (n) => (n === null || n === undefined ? "–" : String(Math.trunc(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ","));
const fmtPct = (p) => (p === null || p === undefined ? "–" : p.toFixed(2) + " %");
const fmtUsd = (x) => (x === null || x === undefined ? "unknown" : "$" + x.toFixed(4));
const fmtMs = (x) => (x === null || x === undefined ? "–" : x.toFixed(1));
const fmtRatio = (x) => (x === null || x === undefined ? "–" : "x" + x.toFixed(3));

// perf.py's _fmt_num: thousands separators and a fixed number of decimals.
const fmtNum = (x, d = 1) => (x === null || x === undefined ? "–"
  : x.toFixed(d).replace(/^(-?\d+)/, (w) => w.replace(/\B(?=(\d{3})+(?!\d))/g, ",")));

const $ = (id) => document.getElementById(id);
function setText(id, text) { const el = $(id); if (el) el.textContent = text; }

function cell(row, text, tag = "td") {
  const c = document.createElement(tag);
  c.textContent = text;
  row.appendChild(c);
  return c;
}

function fillTable(id, items, columns) {
  const body = document.querySelector(`#${id} tbody`);
  const rows = items.map((item) => {
    const tr = document.createElement("tr");
    columns.forEach((col) => cell(tr, col(item)));
    return tr;
  });
  body.replaceChildren(...rows);
}

function periodFromHash() {
  const m = /since=([0-9a-z.]+)/i.exec(location.hash);
  return m ? m[1] : "24h";
}

function bucketLabel(s) {
  if (s % 86400 === 0) return s / 86400 === 1 ? "day" : `${s / 86400} days`;
  if (s % 3600 === 0) return s / 3600 === 1 ? "hour" : `${s / 3600} hours`;
  return `${s / 60} min`;
}

function drawChart(series, period) {
  const svg = $("chart");
  const W = 800, H = 220, left = 56, bottom = 22, top = 8;
  const nodes = [];
  const el = (name, attrs, text) => {
    const n = document.createElementNS(SVG_NS, name);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
    if (text !== undefined) n.textContent = text;
    nodes.push(n);
    return n;
  };
  const step = series.bucket_seconds;
  const points = series.points;
  const end = period.until;
  const start = period.since !== null ? period.since : (points.length ? points[0].t : end - step);
  const first = Math.floor(start / step) * step;
  const slots = Math.max(1, Math.ceil((end - first) / step));
  const max = Math.max(1, ...points.map((p) => p.tokens_before));
  const plotW = W - left - 4, plotH = H - bottom - top;
  const bw = plotW / slots;
  el("line", { x1: left, y1: top + plotH, x2: W - 4, y2: top + plotH, class: "axis" });
  el("text", { x: left - 6, y: top + 10, "text-anchor": "end" }, fmtInt(max));
  el("text", { x: left - 6, y: top + plotH, "text-anchor": "end" }, "0");
  for (const p of points) {
    const i = Math.min(slots - 1, Math.max(0, Math.round((p.t - first) / step)));
    const x = left + i * bw + bw * 0.1, w = Math.max(1, bw * 0.8);
    const hb = (p.tokens_before / max) * plotH, ha = (Math.max(0, p.tokens_after) / max) * plotH;
    const saved = p.tokens_before ? ((100 * (p.tokens_before - p.tokens_after)) / p.tokens_before).toFixed(2) : "–";
    const tip = `${new Date(p.t * 1000).toLocaleString()}: ${p.requests} requests, ${fmtInt(p.tokens_before)} → ${fmtInt(p.tokens_after)} tokens (${saved} % saved)`;
    el("rect", { x, y: top + plotH - hb, width: w, height: hb, class: "before" }).appendChild(
      Object.assign(document.createElementNS(SVG_NS, "title"), { textContent: tip }));
    el("rect", { x, y: top + plotH - ha, width: w, height: ha, class: "after" });
  }
  const fmtT = (t) => new Date(t * 1000).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  el("text", { x: left, y: H - 6, "text-anchor": "start" }, fmtT(first));
  el("text", { x: W - 4, y: H - 6, "text-anchor": "end" }, fmtT(end));
  svg.replaceChildren(...nodes);
  setText("bucket", bucketLabel(step));
}

function render(s) {
  const t = s.totals, u = t.usage;
  setText("requests", fmtInt(t.requests));
  setText("compressed-requests", fmtInt(t.compressed_requests));
  setText("bypass", fmtInt(t.bypass));
  setText("saved-pct-request", fmtPct(t.saved_pct_of_request));
  setText("tokens-saved", fmtInt(t.tokens_saved));
  setText("tokens-before", fmtInt(t.tokens_before));
  setText("tokens-after", fmtInt(t.tokens_after));
  setText("saved-pct-tools", fmtPct(t.saved_pct_of_tool_outputs));
  setText("tool-tokens-saved", fmtInt(t.tool_tokens_saved));
  setText("tool-tokens-before", fmtInt(t.tool_tokens_before));
  setText("tool-tokens-after", fmtInt(t.tool_tokens_after));
  setText("usd-saved", fmtUsd(t.usd_saved));
  setText("usd-spent", fmtUsd(t.usd_spent));
  // The same two numbers as `headroom perf` (cli/perf.py bill_line, breaks_line), each with its label.
  setText("tokens-removed", fmtInt(t.tokens_removed));
  setText("tokens-removed-new", fmtInt(t.tokens_removed_new));
  setText("cache-breaks-headroom", fmtInt(t.cache_breaks_headroom));
  setText("cache-breaks-client", fmtInt(t.cache_breaks_client));
  setText("usd-cache-breaks", fmtUsd(t.usd_cache_breaks));
  setText("token-ratio", fmtRatio(t.token_ratio));
  const unpriced = t.unpriced_requests ? `; ${t.unpriced_requests} request(s) of unpriced models not counted` : "";
  setText("pricing-note", `list prices as of ${s.pricing.as_of}${unpriced}`);
  setText("cache-read-share", fmtPct(u.cache_read_share_pct));
  setText("usage-input", fmtInt(u.input));
  setText("usage-cache-read", fmtInt(u.cache_read));
  setText("usage-output", fmtInt(u.output));
  setText("retrievals", fmtInt(t.retrievals));
  setText("fail-open", fmtInt(t.fail_open));
  setText("errors", fmtInt(t.errors));
  setText("ledger-dropped", fmtInt(s.ledger.dropped_total));
  // The same words as `headroom perf` (cli/perf.py needed_line).
  const n = s.needed;
  setText("needed-total", fmtInt(n.total));
  setText("needed-line", `dropped, then needed: ${fmtInt(n.total)} (retrieved ${fmtInt(n.retrieved)}, ` +
    `re-read ${fmtInt(n.reread)}, guessed ${fmtInt(n.guessed)})`);
  setText("reexpanded", fmtInt(n.reexpanded));
  for (const tr of document.querySelectorAll("#latency tbody tr")) {
    const d = s.latency_ms[tr.dataset.stage];
    tr.querySelector(".p50").textContent = fmtMs(d.p50);
    tr.querySelector(".p95").textContent = fmtMs(d.p95);
    tr.querySelector(".max").textContent = fmtMs(d.max);
    tr.querySelector(".count").textContent = fmtInt(d.count);
  }
  fillTable("per-model", s.per_model, [
    (m) => m.model, (m) => fmtInt(m.requests), (m) => fmtInt(m.tokens_before), (m) => fmtInt(m.tokens_after),
    (m) => fmtPct(m.saved_pct_of_request), (m) => fmtPct(m.saved_pct_of_tool_outputs),
    (m) => fmtPct(m.usage.cache_read_share_pct), (m) => fmtUsd(m.usd_saved), (m) => fmtRatio(m.token_ratio),
  ]);
  fillTable("per-type", s.per_content_type, [
    (c) => c.content_type, (c) => fmtInt(c.units), (c) => fmtInt(c.tokens_before), (c) => fmtInt(c.tokens_after),
    (c) => fmtPct(c.saved_pct), (c) => fmtMs(c.ms), (c) => Object.keys(c.compressors).join(", "),
  ]);
  fillTable("recent", s.recent || [], [
    (r) => new Date(r.ts * 1000).toLocaleTimeString(), (r) => r.model || "(unknown)",
    (r) => fmtInt(r.tokens_before), (r) => fmtInt(r.tokens_after), (r) => fmtInt(r.tool_tokens_before),
    (r) => fmtInt(r.tool_tokens_after), (r) => fmtMs(r.compress_ms), (r) => fmtMs(r.ttfb_ms), (r) => fmtMs(r.upstream_ms),
    (r) => (r.status === null ? "–" : String(r.status)),
    (r) => [r.bypass && "bypass", r.fail_open && "fail-open", r.error && "error", r.retrievals && `${r.retrievals} retrieval(s)`,
      r.needed_reread && `${r.needed_reread} re-read`, r.needed_guessed && `${r.needed_guessed} guessed`,
      r.reexpanded && `${r.reexpanded} re-expanded`, r.shaped && "shaped", r.output_arm === "control" && "unshaped (control)",
      r.turn_kind === "mechanical" && "mechanical"]
      .filter(Boolean).join(" "),
  ]);
  renderTeam(s.team);
  renderHoldout(s.compress_holdout);
  renderShaping(s.output_shaping);
  drawChart(s.series, s.period);
  $("empty").hidden = t.requests !== 0;
  document.body.dataset.loaded = "1";
}

// perf's per-user and per-replica tables (cli/perf.py): the same columns, the same digits.
const groupColumns = (name) => [
  (g) => g[name], (g) => fmtInt(g.requests), (g) => fmtInt(g.tokens_before), (g) => fmtInt(g.tokens_after),
  (g) => fmtInt(g.tokens_saved), (g) => fmtInt(g.tool_tokens_before), (g) => fmtInt(g.tool_tokens_after),
  (g) => fmtInt(g.retrievals),
];

// Shown only when the proxy writes to a shared ledger (summary.team is null otherwise); a database that does
// not answer keeps the panel, says so, and keeps no old figures on show.
function renderTeam(team) {
  $("team").hidden = !team;
  if (!team) return;
  const ok = team.state === "ok";
  $("team-unavailable").hidden = ok;
  $("team-figures").hidden = !ok;
  if (!ok) {
    setText("team-error", team.detail || team.error);
    setText("team-status", team.url);
    return;
  }
  const t = team.totals;
  const asOf = new Date(team.as_of * 1000).toLocaleTimeString();
  setText("team-status", `${team.url} · ${team.per_replica.length} replica(s), ${team.per_user.length} user(s) · ` +
    `read at ${asOf}${team.stale ? " (the database is slow to answer: older figures)" : ""}`);
  setText("team-requests", fmtInt(t.requests));
  setText("team-saved-pct-request", fmtPct(t.saved_pct_of_request));
  setText("team-tokens-before", fmtInt(t.tokens_before));
  setText("team-tokens-after", fmtInt(t.tokens_after));
  setText("team-saved-pct-tools", fmtPct(t.saved_pct_of_tool_outputs));
  setText("team-usd-saved", fmtUsd(t.usd_saved));
  setText("team-dropped", fmtInt(team.dropped_total));
  fillTable("team-replicas", team.per_replica, groupColumns("replica"));
  fillTable("team-users", team.per_user, groupColumns("user"));
}

// Shown only when the period has control rows (summary.compress_holdout is null otherwise).
function renderHoldout(h) {
  $("holdout").hidden = !h;
  if (!h) return;
  const arms = [["Compressed (treatment)", h.arms.treatment], ["Uncompressed (control)", h.arms.control]];
  fillTable("holdout-arms", arms, [
    ([name]) => name, ([, a]) => fmtInt(a.requests), ([, a]) => fmtNum(a.avg_input_tokens),
    ([, a]) => fmtNum(a.avg_output_tokens), ([, a]) => fmtPct(a.cache_read_share_pct),
    ([, a]) => fmtNum(a.retrievals_per_request, 3),
  ]);
  const d = h.input_tokens_difference, pct = h.input_tokens_difference_pct;
  setText("holdout-diff", d === null ? "– (an arm has no provider-reported usage yet)"
    : (d >= 0 ? "+" : "") + fmtNum(d) + (pct === null ? "" : ` (${pct >= 0 ? "+" : ""}${pct.toFixed(2)} %)`));
  setText("holdout-note", h.note);
}

// The words perf prints for one group (headroom/cli/perf.py shaping_line): never a percentage without its interval.
function signed(x, digits) {
  return (x >= 0 ? "+" : "") + fmtNum(x, digits);
}
function shapingLine(g) {
  if (!g.enough) return g.status;
  let line = `${signed(g.difference, 1)} tokens/turn [${signed(g.difference_ci_low, 1)}, ${signed(g.difference_ci_high, 1)}]`;
  if (g.difference_pct !== null) {
    line += `, ${signed(g.difference_pct, 1)} % [${signed(g.difference_pct_ci_low, 1)}, ${signed(g.difference_pct_ci_high, 1)}]`;
  }
  return line;
}
function meanCi(a) {
  return a.mean === null ? "–" : `${fmtNum(a.mean)} [${fmtNum(a.ci_low)}, ${fmtNum(a.ci_high)}]`;
}

// Shown only when the output shaper ran in the period (summary.output_shaping is null otherwise).
function renderShaping(o) {
  $("shaping").hidden = !o;
  if (!o) return;
  fillTable("shaping-groups", o.groups, [
    (g) => g.model, (g) => g.turn_kind, (g) => fmtInt(g.shaped.turns), (g) => meanCi(g.shaped),
    (g) => fmtPct(g.shaped.cache_read_share_pct), (g) => fmtInt(g.control.turns), (g) => meanCi(g.control),
    (g) => fmtPct(g.control.cache_read_share_pct), (g) => shapingLine(g),
  ]);
  setText("shaping-shaped", fmtInt(o.shaped_requests));
  setText("shaping-interval", `${o.interval}; at least ${o.min_turns} turns per arm before a figure is shown.`);
  setText("shaping-note", o.note);
}

let timer = null;
async function poll() {
  clearTimeout(timer);
  const period = $("period").value;
  try {
    const resp = await fetch(`/stats?since=${encodeURIComponent(period)}`, { cache: "no-store" });
    if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
    render(await resp.json());
    $("offline").hidden = true;
    const st = $("status");
    st.dataset.state = "live";
    st.textContent = "live · updated " + new Date().toLocaleTimeString();
  } catch (e) {
    $("offline").hidden = false;
    const st = $("status");
    st.dataset.state = "offline";
    st.textContent = "proxy not answering";
  }
  timer = setTimeout(poll, POLL_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  const sel = $("period");
  const wanted = periodFromHash();
  if (![...sel.options].some((o) => o.value === wanted)) sel.add(new Option(wanted, wanted));
  sel.value = wanted;
  sel.addEventListener("change", () => { history.replaceState(null, "", `#since=${sel.value}`); poll(); });
  poll();
});
