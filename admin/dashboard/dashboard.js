// mysqlmux dashboard: polls /dashboard.json every second and redraws. No dependencies.
"use strict";

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function fmt(n, digits) {
  if (n === undefined || n === null) return "–";
  return Number(n).toLocaleString("en-US", { maximumFractionDigits: digits === undefined ? 0 : digits });
}

function setText(id, text) { document.getElementById(id).textContent = text; }

function row(cells) {
  const tr = el("tr");
  cells.forEach(c => {
    if (c instanceof Node) { const td = el("td"); td.appendChild(c); tr.appendChild(td); }
    else tr.appendChild(el("td", c));
  });
  return tr;
}

function bar(used, cap) {
  const b = el("span", undefined, "bar"), f = el("span");
  f.style.width = (cap > 0 ? Math.min(100, 100 * used / cap) : 0) + "%";
  b.appendChild(f);
  return b;
}

function fill(tbodyParent, rows) {
  const tbody = document.querySelector(tbodyParent + " tbody");
  tbody.replaceChildren(...rows);
}

// chart draws one polyline per key of pts into svg, scaled to the largest value.
function chart(id, pts, keys, colors) {
  const svg = document.getElementById(id);
  const w = 600, h = 160;
  let top = 0;
  pts.forEach(p => keys.forEach(k => { top = Math.max(top, p[k]); }));
  top = top > 0 ? top * 1.1 : 1;
  const n = Math.max(pts.length - 1, 1);
  svg.replaceChildren();
  keys.forEach((k, i) => {
    const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", colors[i]);
    line.setAttribute("stroke-width", "2");
    line.setAttribute("vector-effect", "non-scaling-stroke");
    line.setAttribute("points", pts.map((p, j) => (w * j / n).toFixed(1) + "," + (h - h * p[k] / top).toFixed(1)).join(" "));
    svg.appendChild(line);
  });
  return top / 1.1;
}

function render(d) {
  const last = d.series.length ? d.series[d.series.length - 1] : {};
  setText("status", (d.paused ? "PAUSED · " : "") + "updated " + new Date(d.time).toLocaleTimeString());
  setText("clients", fmt(d.clients));
  setText("active", fmt(d.states.active));
  setText("qps", fmt(last.qps, 1));
  setText("p99", last.p99_ms === undefined ? "–" : fmt(last.p99_ms, 2) + " ms");
  setText("statements", fmt(d.totals.statements));
  setText("refused", fmt(d.totals.clients_refused));
  setText("timeouts", fmt(d.totals.acquire_timeouts));

  fill("#pools", d.pools.map(p => {
    const tr = row([p.backend, fmt(p.in_use) + " / " + fmt(p.max_connections), bar(p.in_use, p.max_connections),
      fmt(p.idle), fmt(p.waiting), fmt(p.wait_count), fmt(p.timeouts)]);
    tr.dataset.backend = p.backend;
    ["backend", "in_use", "bar", "idle", "waiting", "wait_count", "timeouts"].forEach((c, i) => tr.children[i].classList.add(c));
    if (!p.up) tr.children[0].classList.add("down");
    return tr;
  }));

  const states = Object.keys(d.states).sort().map(s => row(["clients " + s, fmt(d.states[s])]));
  const pins = Object.keys(d.pinned).sort().filter(r => d.pinned[r] > 0).map(r => row(["pinned: " + r, fmt(d.pinned[r])]));
  fill("#clientstates", states.concat(pins.length ? pins : [row(["pinned", "0"])]));

  const qmax = chart("qpschart", d.series, ["qps"], ["#3b82f6"]);
  setText("qpsmax", "max " + fmt(qmax, 1) + "/s");
  const lmax = chart("latchart", d.series, ["p50_ms", "p95_ms", "p99_ms"], ["#10b981", "#f59e0b", "#ef4444"]);
  setText("latmax", "max " + fmt(lmax, 2) + " ms");

  if (!d.digests_on) {
    fill("#digests", [row(["digests are off ([admin] digests = false)", "", "", "", "", "", ""])]);
  } else {
    fill("#digests", d.digests.map(g => {
      const tr = row([g.digest_text, fmt(g.count), fmt(g.sum_time_ms, 1), fmt(g.avg_time_ms, 3),
        fmt(g.max_time_ms, 3), fmt(g.rows_sent), fmt(g.errors)]);
      tr.children[0].className = "text";
      return tr;
    }));
  }
}

async function poll() {
  try {
    const r = await fetch("dashboard.json", { cache: "no-store" });
    if (!r.ok) throw new Error(r.status + " " + r.statusText);
    render(await r.json());
  } catch (e) {
    setText("status", "error: " + e.message);
  }
  setTimeout(poll, 1000);
}

poll();
