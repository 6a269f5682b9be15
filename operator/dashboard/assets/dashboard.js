// Foresight's dashboard: one WebSocket (/ws) carries the operator's state,
// then every change; this script mirrors the store's rings
// (operator/dashboard/dashboard.h) and draws them as SVG. No framework.
"use strict";

(function () {
  // A point: [t, load, forecast, upper, lower, leadTime, capacity, replicas, desired];
  // an event: [t, from, to, applied].
  const T = 0, LOAD = 1, FC = 2, UP = 3, LO = 4, LEAD = 5, CAP = 6;
  const SVGNS = "http://www.w3.org/2000/svg";
  const W = 900, H = 240, PAD_L = 48, PAD_R = 12, PAD_T = 10, PAD_B = 22;
  // Condition types in the status' order, and which status is the good one.
  // Types this page does not know are shown as they are, True as the good one.
  const GOOD = { Ready: true, AbleToScale: true, ScalingActive: true, ScalingLimited: false,
    ForecastReady: true, FallbackActive: false, Throttled: false, AlertsReady: true };
  const SHORT = { Ready: "Ready", AbleToScale: "Able", ScalingActive: "Active",
    ScalingLimited: "Limited", ForecastReady: "Forecast", FallbackActive: "Fallback",
    Throttled: "Throttled", AlertsReady: "Alerts" };
  // Reasons that are a choice of the spec, not a fault.
  const NEUTRAL = { ForecastDisabled: true, NoBudget: true, AlertsDisabled: true };

  let scalers = new Map(); // key -> {key, namespace, name, spacing, status, points, events}
  let budgets = new Map();
  let caps = { points: 720, events: 64 };
  let seq = 0;
  let ws = null, retry = 1000, dirty = new Set(), listDirty = true, timer = null;

  function wsURL() {
    const dir = location.pathname.replace(/[^/]*$/, "");
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + dir + "ws";
  }

  function setConn(up, text) {
    const el = document.getElementById("conn");
    el.textContent = text;
    el.className = "conn " + (up ? "up" : "down");
  }

  function connect() {
    ws = new WebSocket(wsURL(), "foresight-dashboard");
    ws.onopen = function () {
      retry = 1000;
      setConn(true, "live");
    };
    ws.onmessage = function (ev) {
      apply(JSON.parse(ev.data));
    };
    ws.onclose = function () {
      // The operator restarted, or dropped us for falling behind: start again
      // from a fresh state, a little later each time (at most every 10 s).
      setConn(false, "reconnecting in " + Math.round(retry / 1000) + " s");
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }

  function pushCapped(arr, v, cap) {
    arr.push(v);
    if (arr.length > cap) arr.splice(0, arr.length - cap);
  }

  function apply(m) {
    if (m.type === "state") {
      scalers = new Map(m.scalers.map(function (s) { return [s.key, s]; }));
      budgets = new Map(m.budgets.map(function (b) { return [b.key, b]; }));
      caps = m.caps;
      seq = m.seq;
      document.getElementById("charts").replaceChildren();
      scalers.forEach(function (s) { dirty.add(s.key); });
      listDirty = true;
      schedule();
      return;
    }
    if (m.seq <= seq) return; // already in the state we started from
    seq = m.seq;
    if (m.type === "scaler") {
      scalers.set(m.scaler.key, m.scaler);
      dirty.add(m.scaler.key);
    } else if (m.type === "sample") {
      const s = scalers.get(m.key);
      if (!s) return;
      s.status = m.status;
      if (m.point) {
        if (m.replace) s.points.pop();
        pushCapped(s.points, m.point, caps.points);
      }
      if (m.event) pushCapped(s.events, m.event, caps.events);
      dirty.add(m.key);
    } else if (m.type === "forget") {
      scalers.delete(m.key);
      const el = document.getElementById(chartId(m.key));
      if (el) el.remove();
    } else if (m.type === "budget") {
      budgets.set(m.budget.key, m.budget);
    } else if (m.type === "forgetBudget") {
      budgets.delete(m.key);
    }
    listDirty = true;
    schedule();
  }

  // Redraws at most every 100 ms, however many messages arrive.
  function schedule() {
    if (!timer) timer = setTimeout(render, 100);
  }

  function fmt(v) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    const a = Math.abs(v);
    if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
    if (a >= 1e4) return (v / 1e3).toFixed(1) + "k";
    if (a >= 100) return v.toFixed(0);
    if (a >= 10) return v.toFixed(1);
    return v.toFixed(2);
  }

  function clock(t) {
    const d = new Date(t * 1000);
    return d.toTimeString().slice(0, 8);
  }

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function chartId(key) {
    return "scaler-" + key.replace(/[^A-Za-z0-9_-]/g, "_");
  }

  function badges(status) {
    const td = el("td");
    (status.conditions || []).forEach(function (c) {
      const good = c.type in GOOD ? GOOD[c.type] : true;
      const kind = NEUTRAL[c.reason] ? "off" : c.status === good ? "ok" : "bad";
      const b = el("span", { class: "badge " + kind, "data-type": c.type,
        title: c.type + "=" + (c.status ? "True" : "False") + " (" + c.reason + "): " + c.message },
      (c.status ? "" : "not ") + (SHORT[c.type] || c.type));
      td.appendChild(b);
    });
    return td;
  }

  function renderList() {
    const body = document.querySelector("#scalers tbody");
    const keys = Array.from(scalers.keys()).sort();
    const rows = keys.map(function (key) {
      const s = scalers.get(key), st = s.status;
      const tr = el("tr", { "data-key": key });
      const name = el("td");
      name.appendChild(el("a", { href: "#" + chartId(key) }, key));
      tr.appendChild(name);
      tr.appendChild(el("td", {}, st.target));
      tr.appendChild(el("td", {}, st.mode + (st.dryRun ? " (--dry-run)" : "")));
      tr.appendChild(el("td", { class: "num" }, st.decided ? st.current + " → " + st.desired +
        " (" + st.min + "–" + st.max + ")" : "–"));
      tr.appendChild(badges(st));
      tr.appendChild(el("td", {}, st.decided ? st.limitedBy : "–"));
      return tr;
    });
    body.replaceChildren.apply(body, rows);
    document.getElementById("no-scalers").hidden = keys.length > 0;
    document.getElementById("dryrun").hidden = !keys.some(function (k) {
      return scalers.get(k).status.dryRun;
    });

    const bbody = document.querySelector("#budgets tbody");
    const bkeys = Array.from(budgets.keys()).sort();
    bbody.replaceChildren.apply(bbody, bkeys.map(function (key) {
      const b = budgets.get(key), tr = el("tr", { "data-key": key });
      tr.appendChild(el("td", {}, key));
      if (!b.valid) {
        tr.appendChild(el("td", { colspan: 7, class: "error" }, b.invalid));
        return tr;
      }
      tr.appendChild(el("td", { class: "num" }, fmt(b.used) + " / " + fmt(b.capacity)));
      tr.appendChild(el("td", { class: "num" }, fmt(b.allocated)));
      tr.appendChild(el("td", { class: "num" }, fmt(b.requested)));
      tr.appendChild(el("td", { class: "num" }, String(b.members)));
      tr.appendChild(el("td", { class: "num" }, String(b.scalingUp)));
      tr.appendChild(el("td", { title: b.saturatedReason }, b.saturated || "–"));
      tr.appendChild(el("td", {}, b.overcommitted || "–"));
      return tr;
    }));
    document.getElementById("no-budgets").hidden = bkeys.length > 0;
  }

  // An SVG path through (x, y) pairs, broken where a value is missing.
  function linePath(pts, xf, yf, step) {
    let d = "", pen = false;
    pts.forEach(function (p) {
      const x = xf(p), y = yf(p);
      if (y === null) {
        pen = false;
        return;
      }
      if (!pen) d += "M" + x.toFixed(1) + " " + y.toFixed(1);
      else if (step) d += "H" + x.toFixed(1) + "V" + y.toFixed(1);
      else d += "L" + x.toFixed(1) + " " + y.toFixed(1);
      pen = true;
    });
    return d;
  }

  function num(v) {
    return v === null || v === undefined || !isFinite(v) ? null : v;
  }

  function drawChart(s, box) {
    const pts = s.points, evs = s.events, now = Date.now() / 1000;
    let t0 = Infinity, t1 = -Infinity, vmax = 0;
    pts.forEach(function (p) {
      const ft = p[T] + (num(p[LEAD]) || 0);
      t0 = Math.min(t0, p[T]);
      t1 = Math.max(t1, p[T], num(p[FC]) !== null ? ft : p[T]);
      [p[LOAD], p[FC], p[UP], p[CAP]].forEach(function (v) {
        if (num(v) !== null) vmax = Math.max(vmax, v);
      });
    });
    if (!isFinite(t0)) { t0 = now - 60; t1 = now; }
    t1 = Math.max(t1, Math.min(now, t0 + 3600 * 24));
    if (t1 - t0 < 10) t0 = t1 - 10;
    vmax = vmax > 0 ? vmax * 1.1 : 1;
    const xw = W - PAD_L - PAD_R, yh = H - PAD_T - PAD_B;
    const x = function (t) { return PAD_L + (t - t0) / (t1 - t0) * xw; };
    const y = function (v) { return PAD_T + yh - v / vmax * yh; };
    const out = svg("svg", { class: "chart", viewBox: "0 0 " + W + " " + H,
      preserveAspectRatio: "none", role: "img",
      "aria-label": "load, forecast and capacity of " + s.key });

    // Grid: four values, five times.
    for (let i = 0; i <= 4; i++) {
      const v = vmax / 1.1 * i / 4, yy = y(v);
      out.appendChild(svg("line", { class: "grid", x1: PAD_L, x2: W - PAD_R, y1: yy, y2: yy }));
      out.appendChild(svg("text", { class: "axis", x: PAD_L - 6, y: yy + 4, "text-anchor": "end" },
        fmt(v)));
    }
    for (let i = 0; i <= 4; i++) {
      const t = t0 + (t1 - t0) * i / 4;
      out.appendChild(svg("text", { class: "axis", x: x(t), y: H - 6,
        "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle" }, clock(t)));
    }

    // The forecast band: upper then lower (or the forecast) backwards, per run of points.
    const fpts = pts.filter(function (p) { return num(p[FC]) !== null && num(p[UP]) !== null; });
    if (fpts.length) {
      const ft = function (p) { return x(p[T] + (num(p[LEAD]) || 0)); };
      let d = "";
      fpts.forEach(function (p, i) {
        d += (i ? "L" : "M") + ft(p).toFixed(1) + " " + y(p[UP]).toFixed(1);
      });
      for (let i = fpts.length - 1; i >= 0; i--) {
        const p = fpts[i], lo = num(p[LO]) !== null ? p[LO] : p[FC];
        d += "L" + ft(p).toFixed(1) + " " + y(lo).toFixed(1);
      }
      out.appendChild(svg("path", { class: "band", d: d + "Z", "data-series": "band",
        "data-points": fpts.length }));
    }
    out.appendChild(svg("path", { class: "capacity", "data-series": "capacity",
      "data-points": pts.filter(function (p) { return num(p[CAP]) !== null; }).length,
      d: linePath(pts, function (p) { return x(p[T]); },
        function (p) { return num(p[CAP]) === null ? null : y(p[CAP]); }, true) }));
    out.appendChild(svg("path", { class: "forecast", "data-series": "forecast",
      "data-points": fpts.length,
      d: linePath(pts, function (p) { return x(p[T] + (num(p[LEAD]) || 0)); },
        function (p) { return num(p[FC]) === null ? null : y(p[FC]); }, false) }));
    out.appendChild(svg("path", { class: "load", "data-series": "load",
      "data-points": pts.filter(function (p) { return num(p[LOAD]) !== null; }).length,
      d: linePath(pts, function (p) { return x(p[T]); },
        function (p) { return num(p[LOAD]) === null ? null : y(p[LOAD]); }, false) }));
    if (now > t0 && now < t1)
      out.appendChild(svg("line", { class: "now", x1: x(now), x2: x(now), y1: PAD_T,
        y2: PAD_T + yh }));

    // Scale events: a dotted line and a triangle pointing the way it went.
    const g = svg("g", { class: "events", "data-events": evs.length });
    evs.forEach(function (e) {
      if (e[0] < t0) return;
      const ex = x(e[0]), up = e[2] > e[1];
      const ev = svg("g", { class: "event " + (up ? "up" : "down") + (e[3] ? "" : " would"),
        "data-t": e[0], "data-from": e[1], "data-to": e[2] });
      ev.appendChild(svg("title", {}, (e[3] ? "scaled" : "would scale") + " from " + e[1] +
        " to " + e[2] + " at " + clock(e[0])));
      ev.appendChild(svg("line", { x1: ex, x2: ex, y1: PAD_T, y2: PAD_T + yh }));
      ev.appendChild(svg("path", { d: up
        ? "M" + (ex - 6) + " " + (PAD_T + 12) + "L" + (ex + 6) + " " + (PAD_T + 12) + "L" + ex + " " + PAD_T + "Z"
        : "M" + (ex - 6) + " " + PAD_T + "L" + (ex + 6) + " " + PAD_T + "L" + ex + " " + (PAD_T + 12) + "Z" }));
      g.appendChild(ev);
    });
    out.appendChild(g);
    box.replaceChildren(out);
  }

  function renderScaler(key) {
    const s = scalers.get(key);
    if (!s) return;
    const id = chartId(key);
    let sec = document.getElementById(id);
    if (!sec) {
      sec = el("section", { class: "scaler", id: id, "data-key": key });
      sec.appendChild(el("h3"));
      sec.appendChild(el("p", { class: "facts" }));
      sec.appendChild(el("div", { class: "plot" }));
      const legend = el("div", { class: "legend" });
      legend.appendChild(el("span", { class: "k-load" }, "— observed load"));
      legend.appendChild(el("span", { class: "k-forecast" }, "- - forecast (band: its interval)"));
      legend.appendChild(el("span", { class: "k-capacity" }, "— capacity of the replicas"));
      sec.appendChild(legend);
      sec.appendChild(el("p", { class: "reason" }));
      // Keep the charts in key order.
      const box = document.getElementById("charts");
      const after = Array.from(box.children).find(function (c) { return c.dataset.key > key; });
      box.insertBefore(sec, after || null);
    }
    const st = s.status;
    sec.querySelector("h3").textContent = key + " → " + st.target;
    sec.querySelector(".facts").textContent = st.decided
      ? st.metric + ": observed " + fmt(st.load) + ", forecast " + fmt(st.forecast) +
        " (" + fmt(st.lower) + "–" + fmt(st.upper) + ") in " + fmt(st.leadTime) + " s; " +
        st.current + " replicas × " + fmt(st.targetPerReplica) + " = " +
        fmt(st.current * st.targetPerReplica) + "; desired " + st.desired +
        " (" + st.min + "–" + st.max + "), limited by " + st.limitedBy + "; mode " + st.mode +
        (st.dryRun ? " (--dry-run)" : "")
      : "not evaluated: see below";
    const reason = sec.querySelector(".reason");
    reason.textContent = st.reason;
    reason.className = "reason" + (st.decided ? "" : " error");
    drawChart(s, sec.querySelector(".plot"));
  }

  function render() {
    timer = null;
    if (listDirty) renderList();
    listDirty = false;
    dirty.forEach(renderScaler);
    dirty.clear();
  }

  connect();
})();
