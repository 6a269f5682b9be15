// Drives Debian's chromium (headless, through playwright-core) against the
// operator's dashboard; run by tests/e2e/test_dashboard.sh. Exits non-zero,
// saying why, when the page does not do what it should.
//
// Environment:
//   PLAYWRIGHT_CORE  the playwright-core package directory (hack/deps.sh installs it)
//   CHROMIUM         the browser (default /usr/bin/chromium)
//   DASH_URL         the operator's dashboard, e.g. http://127.0.0.1:8080/
//   DASH_KEYS        the scalers the page must list (comma-separated "ns/name")
//   DASH_BUDGETS     the ConcurrencyBudgets the page must list (optional)
//   DASH_CHART       the scaler whose chart must show load, forecast and a scale event
//   DASH_LOAD_FILE   a file of load-gen's: writing DASH_LOAD_VALUE there makes it scale
//   DASH_LOAD_VALUE
//   DASH_EVENT       "scaled" (default): the marker of a scale made; "would": of the
//                    scale a dry run would make (nothing is scaled)
//   DASH_OUT         where the screenshots go
//   DASH_HOSTILE     a scaler whose condition quotes markup (an <img onerror> in a
//                    Prometheus error): it must be shown as text, never run (optional)
//   DASH_RESTART     "1": after the first part, print "phase 1 ok" and wait for the
//                    operator to go away and come back (the test restarts it); the
//                    page must reconnect by itself
"use strict";

const path = require("path");
const fs = require("fs");
const { chromium } = require(process.env.PLAYWRIGHT_CORE);

const env = (k, d) => {
  const v = process.env[k] ?? d;
  if (v === undefined) throw new Error(`${k} is not set`);
  return v;
};

const url = env("DASH_URL");
const keys = env("DASH_KEYS").split(",");
const budgets = env("DASH_BUDGETS", "").split(",").filter(Boolean);
const chartKey = env("DASH_CHART");
const out = env("DASH_OUT");
const origin = new URL(url).origin;
const wsOrigin = origin.replace(/^http/, "ws");
const would = env("DASH_EVENT", "scaled") === "would";

function log(msg) {
  console.log(`${new Date().toISOString()} ${msg}`);
}

// The numbers the chart of `key` carries in its data attributes.
function chartFacts(key) {
  const sec = Array.from(document.querySelectorAll("section.scaler")).find(
    (s) => s.dataset.key === key);
  if (!sec) return null;
  const n = (series) => {
    const p = sec.querySelector(`[data-series="${series}"]`);
    return p ? Number(p.dataset.points) : 0;
  };
  const d = (series) => {
    const p = sec.querySelector(`[data-series="${series}"]`);
    return p ? p.getAttribute("d") : "";
  };
  const events = Array.from(sec.querySelectorAll("g.event")).map((e) => ({
    t: Number(e.dataset.t), from: Number(e.dataset.from), to: Number(e.dataset.to),
    would: e.classList.contains("would"),
  }));
  return {
    load: n("load"), forecast: n("forecast"), band: n("band"), capacity: n("capacity"),
    loadPath: d("load"), forecastPath: d("forecast"), events,
    reason: sec.querySelector(".reason").textContent,
  };
}

(async () => {
  const browser = await chromium.launch({
    executablePath: env("CHROMIUM", "/usr/bin/chromium"),
    headless: true,
    // Root in a container: chromium's sandbox needs user namespaces it may not have.
    args: ["--no-sandbox"],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 1200 } });
  let phase = 1;
  const errors = [], foreign = [];
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    // While the operator restarts, the page's reconnect attempts fail, as they should.
    if (phase === 2 && /WebSocket connection to .* failed/.test(m.text())) return;
    errors.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`page error: ${e}`));
  page.on("request", (r) => {
    const u = r.url();
    if (!u.startsWith(origin + "/") && !u.startsWith(wsOrigin + "/") && !u.startsWith("data:"))
      foreign.push(u);
  });
  page.on("requestfailed", (r) => {
    if (phase === 1) errors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });

  const t0 = Date.now();
  const resp = await page.goto(url, { waitUntil: "load" });
  if (!resp || resp.status() !== 200) throw new Error(`GET ${url}: ${resp && resp.status()}`);
  await page.waitForSelector("#conn.up", { timeout: 10000 });
  log(`page loaded and live in ${Date.now() - t0} ms`);

  // The list: every scaler, with its mode, replicas and conditions.
  await page.waitForFunction((ks) => ks.every((k) =>
    document.querySelector(`#scalers tbody tr[data-key="${k}"]`)), keys, { timeout: 30000 });
  const rows = await page.$$eval("#scalers tbody tr", (trs) => trs.map((tr) =>
    Array.from(tr.children).map((td) => td.textContent.trim()).join(" | ")));
  rows.forEach((r) => log(`row: ${r}`));
  if (budgets.length) {
    // Each budget listed, with its members counted (the fifth column).
    await page.waitForFunction((ks) => ks.every((k) => {
      const tr = document.querySelector(`#budgets tbody tr[data-key="${k}"]`);
      return tr && Number(tr.children[4]?.textContent) >= 1;
    }), budgets, { timeout: 30000 });
    const brows = await page.$$eval("#budgets tbody tr", (trs) => trs.map((tr) =>
      Array.from(tr.children).map((td) => td.textContent.trim()).join(" | ")));
    brows.forEach((r) => log(`budget: ${r}`));
  }

  // Text from the cluster is shown as text, never as markup.
  const hostile = process.env.DASH_HOSTILE;
  if (hostile) {
    // The ScalingActive condition's message quotes Prometheus's error (its tooltip).
    await page.waitForFunction((k) => {
      const tr = document.querySelector(`#scalers tbody tr[data-key="${k}"]`);
      return tr && Array.from(tr.querySelectorAll("[title]")).some(
        (e) => e.title.includes("<img src=x onerror=window.pwned=1>"));
    }, hostile, { timeout: 30000 });
    const found = await page.evaluate(() => ({
      imgs: document.querySelectorAll("img").length, pwned: window.pwned === 1 }));
    if (found.imgs || found.pwned)
      throw new Error(`markup from a Prometheus error was rendered: ${JSON.stringify(found)}`);
    log(`${hostile}: markup in a Prometheus error is shown as text`);
  }

  // The chart: points of the load and of the forecast (with its band).
  await page.waitForFunction((k) => {
    const s = Array.from(document.querySelectorAll("section.scaler")).find(
      (x) => x.dataset.key === k);
    const n = (series) => Number(s?.querySelector(`[data-series="${series}"]`)?.dataset.points || 0);
    return n("load") >= 3 && n("forecast") >= 3 && n("band") >= 3;
  }, chartKey, { timeout: 60000 });
  let facts = await page.evaluate(chartFacts, chartKey);
  log(`chart ${chartKey}: ${facts.load} load points, ${facts.forecast} forecast, ` +
    `${facts.band} band, ${facts.capacity} capacity, ${facts.events.length} events; ` +
    `reason: ${facts.reason}`);
  if (!/^M[0-9.]+ [0-9.]+(L[0-9.]+ [0-9.]+)+/.test(facts.loadPath))
    throw new Error(`the load line is not drawn: d="${facts.loadPath.slice(0, 80)}"`);
  if (!/^M[0-9.]+ [0-9.]+(L[0-9.]+ [0-9.]+)+/.test(facts.forecastPath))
    throw new Error(`the forecast line is not drawn: d="${facts.forecastPath.slice(0, 80)}"`);
  await page.screenshot({ path: path.join(out, "dashboard-before.png"), fullPage: true });

  // A scale event: the load rises; the marker must be on the chart seconds after the scale.
  const seen = facts.events.length;
  const lastBefore = seen ? facts.events[seen - 1].t : 0;
  fs.writeFileSync(env("DASH_LOAD_FILE"), env("DASH_LOAD_VALUE") + "\n");
  const tLoad = Date.now() / 1000;
  log(`load set to ${env("DASH_LOAD_VALUE")}`);
  const handle = await page.waitForFunction(({ k, after, sel }) => {
    const s = Array.from(document.querySelectorAll("section.scaler")).find(
      (x) => x.dataset.key === k);
    const e = Array.from(s ? s.querySelectorAll(sel) : []).find(
      (g) => Number(g.dataset.t) > after && Number(g.dataset.to) > Number(g.dataset.from));
    return e ? { t: Number(e.dataset.t), from: e.dataset.from, to: e.dataset.to,
      shown: Date.now() / 1000 } : null;
  }, { k: chartKey, after: lastBefore, sel: would ? "g.event.would" : "g.event:not(.would)" },
  { timeout: 60000, polling: 50 });
  const ev = await handle.jsonValue();
  const lag = ev.shown - ev.t;
  log(`${would ? "would-scale" : "scale"} event ${ev.from} -> ${ev.to} on the chart ${lag.toFixed(2)} s after the scale ` +
    `(${(ev.t - tLoad).toFixed(1)} s after the load rose)`);
  if (lag > 3) throw new Error(`the scale event took ${lag.toFixed(2)} s to reach the chart`);
  facts = await page.evaluate(chartFacts, chartKey);
  await page.waitForTimeout(500);
  await page.screenshot({ path: path.join(out, "dashboard.png"), fullPage: true });
  log(`screenshot ${path.join(out, "dashboard.png")}`);

  if (foreign.length) throw new Error(`requests outside the operator: ${foreign.join(", ")}`);
  if (errors.length) throw new Error(`errors on the page:\n${errors.join("\n")}`);
  log(`phase 1 ok: no console errors, ${keys.length} scalers listed, load and forecast drawn, ` +
    `the scale event shown`);

  if (process.env.DASH_RESTART === "1") {
    phase = 2;
    await page.waitForSelector("#conn.down", { timeout: 60000 });
    const tDown = Date.now();
    log("the operator went away: the page says so");
    await page.waitForSelector("#conn.up", { timeout: 60000 });
    await page.waitForFunction((ks) => ks.every((k) =>
      document.querySelector(`#scalers tbody tr[data-key="${k}"]`)), keys, { timeout: 30000 });
    log(`reconnected by itself ${Date.now() - tDown} ms later, the scalers listed again`);
    await page.screenshot({ path: path.join(out, "dashboard-after-restart.png"), fullPage: true });
    if (errors.length) throw new Error(`errors on the page:\n${errors.join("\n")}`);
    log("phase 2 ok");
  }
  await browser.close();
})().catch((e) => {
  console.error(`FAIL: ${e.stack || e}`);
  process.exit(1);
});
