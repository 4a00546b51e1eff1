// citysandbox web console: a thin client of the documented /_sandbox/ API. Every action is one
// fetch of a control verb; an error is the platform's own answer, shown as it came.
"use strict";

const $ = (s) => document.querySelector(s);

function el(tag, props, ...kids) {
  const e = document.createElement(tag);
  Object.assign(e, props || {});
  for (const k of kids) e.append(k instanceof Node ? k : String(k ?? ""));
  return e;
}

// api calls a control verb; a refusal throws the platform's {"error":{code,message}} as text.
async function api(method, path, body) {
  const opt = { method, headers: {} };
  if (body instanceof Blob) {
    // A file, sent as it is (the scan by image).
    opt.headers["Content-Type"] = body.type || "application/octet-stream";
    opt.body = body;
  } else if (body !== undefined) {
    opt.headers["Content-Type"] = "application/json";
    opt.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opt);
  const text = await resp.text();
  let data = null;
  try { data = JSON.parse(text); } catch (_) { /* not JSON */ }
  if (!resp.ok) {
    const e = data && data.error ? `${resp.status} ${data.error.code}: ${data.error.message}` : `${resp.status} ${text}`;
    throw new Error(e);
  }
  return data;
}

// guarded runs fn, showing its error in the panel's error box.
async function guarded(box, fn) {
  $(box).textContent = "";
  try { await fn(); } catch (e) { $(box).textContent = e.message; }
}

// pretty prints an answer two spaces deep, keeping arrays of plain values on one line.
function pretty(v) {
  return JSON.stringify(v, null, 2).replace(/\[\s+([^\[\]{}]*?)\s+\]/g, (_, inner) => "[" + inner.replace(/,\s+/g, ", ") + "]");
}

function formValues(form) {
  const out = {};
  for (const [k, v] of new FormData(form)) if (v !== "") out[k] = v;
  return out;
}

function onSubmit(id, fn) {
  $(id).addEventListener("submit", (ev) => { ev.preventDefault(); fn(ev.target); });
}

function copyButton(text) {
  return el("button", { className: "plain", textContent: "copy", onclick: () => navigator.clipboard && navigator.clipboard.writeText(text) });
}

// ---- apps
async function loadApps() {
  await guarded("#apps-error", async () => {
    const { apps } = await api("GET", "/_sandbox/wechat/apps");
    const tb = $("#apps-list");
    tb.replaceChildren();
    for (const a of apps) {
      tb.append(el("tr", { className: "app" },
        el("td", {}, a.name || ""), el("td", { className: "mono" }, a.appid),
        el("td", {}, a.type + (a.service_type ? " · " + a.service_type : "")),
        el("td", { className: "mono" }, a.secret || ""),
        el("td", {}, copyButton(a.secret || ""), " ", el("button", { className: "plain", textContent: "tokens & quota", onclick: () => showApp(a.appid) }))));
    }
    $("#apps").dataset.loaded = "true";
  });
}

async function showApp(appid) {
  await guarded("#apps-error", async () => {
    const a = await api("GET", "/_sandbox/wechat/apps/" + encodeURIComponent(appid));
    const tokens = el("table", {}, el("tr", {}, el("th", {}, "Kind"), el("th", {}, "Token"), el("th", {}, "Expires"), el("th", {}, "State")));
    for (const t of a.tokens || []) tokens.append(el("tr", {}, el("td", {}, t.kind), el("td", { className: "mono" }, t.access_token), el("td", {}, t.expires_at), el("td", {}, t.state)));
    const quota = el("table", {}, el("tr", {}, el("th", {}, "API"), el("th", {}, "Used today")));
    for (const q of a.quota_today || []) quota.append(el("tr", {}, el("td", { className: "mono" }, q.api), el("td", {}, q.used)));
    $("#app-detail").replaceChildren(el("div", { className: "card" }, el("h2", {}, a.name + " — " + a.appid),
      el("p", {}, "Live tokens"), tokens, el("p", {}, "Today's quota use"), quota));
  });
}

// ---- journal
let source = null;

function journalRow(e) {
  const code = e.errcode ? String(e.errcode) + (e.error_name ? " " + e.error_name : "") : (e.error_name || String(e.status));
  const refused = e.errcode !== 0 || e.status >= 400 || !!e.error_name;
  const tr = el("tr", { className: "entry" + (refused ? " refused" : "") },
    el("td", {}, e.seq), el("td", { className: "mono" }, e.time.replace("T", " ").replace(/\.\d+/, "")),
    el("td", { className: "nowrap", title: e.event || e.method }, e.event || e.method), el("td", { className: "mono" }, e.path + (e.query ? "?" + e.query : "")),
    el("td", { className: "mono" }, e.appid || ""), el("td", { className: "code" }, code),
    el("td", {}, e.validation_error || e.reason || ""));
  tr.dataset.rid = e.id || "";
  tr.dataset.seq = e.seq;
  tr.addEventListener("click", () => {
    if (tr.nextSibling && tr.nextSibling.classList && tr.nextSibling.classList.contains("detail")) { tr.nextSibling.remove(); return; }
    const td = el("td", { colSpan: 7 },
      el("div", { className: "muted" }, `rid ${e.id || "—"} · ${e.platform} ${e.operation || ""} · ${e.cost_in_ms} ms` + (e.fault ? ` · fault ${e.fault}` : "")),
      el("div", {}, "Request"), el("pre", {}, e.request_body || "(empty)"),
      el("div", {}, "Response"), el("pre", {}, e.response_body || "(not kept)"));
    tr.after(el("tr", { className: "detail" }, td));
  });
  return tr;
}

// The journal shows one page: live (the newest entries, and each new one as it comes, over the
// stream), or a page of older ones fetched by cursor (before/after an entry's seq).
let page = { live: true, lowest: 0, highest: 0 };

function journalQuery() {
  const f = formValues($("#journal-filter"));
  if (f.control) delete f.control; else f.control = "false";
  return f;
}

function pageSize() {
  const n = Number($("#journal-filter input[name=limit]").value);
  return Number.isInteger(n) && n > 0 ? n : 200;
}

function showPage(entries) {
  const tb = $("#journal-list");
  tb.replaceChildren();
  for (const e of entries) tb.prepend(journalRow(e));
  page.lowest = entries.length ? entries[0].seq : page.lowest;
  page.highest = entries.length ? entries[entries.length - 1].seq : page.highest;
  $("#journal-page").textContent = entries.length ? `#${page.lowest} – #${page.highest}` : "";
}

function followJournal() {
  if (source) { source.close(); source = null; }
  const f = journalQuery();
  const tb = $("#journal-list");
  tb.replaceChildren();
  $("#journal-error").textContent = "";
  $("#journal-page").textContent = "";
  page = { live: true, lowest: 0, highest: 0 };
  if ((f.errcode && !/^-?\d+$/.test(f.errcode)) || (f.limit && !/^\d+$/.test(f.limit))) {
    // Let the platform say what is wrong with it.
    api("GET", "/_sandbox/requests?" + new URLSearchParams(f)).catch((e) => { $("#journal-error").textContent = e.message; });
    return;
  }
  f.limit = String(pageSize());
  source = new EventSource("/_sandbox/requests/stream?" + new URLSearchParams(f));
  source.addEventListener("open", () => { $("#journal-state").textContent = "live"; $("#journal").dataset.loaded = "true"; });
  source.addEventListener("error", () => { if (source) $("#journal-state").textContent = "reconnecting…"; });
  source.addEventListener("reset", () => { tb.replaceChildren(); page.lowest = page.highest = 0; });
  source.addEventListener("entry", (ev) => {
    const e = JSON.parse(ev.data);
    tb.prepend(journalRow(e));
    const rows = tb.querySelectorAll("tr.entry");
    for (let i = pageSize(); i < rows.length; i++) {
      const next = rows[i].nextSibling;
      if (next && next.classList.contains("detail")) next.remove();
      rows[i].remove();
    }
    const kept = tb.querySelectorAll("tr.entry");
    page.lowest = Number(kept[kept.length - 1].dataset.seq);
    page.highest = Number(kept[0].dataset.seq);
    $("#journal-page").textContent = `#${page.lowest} – #${page.highest}`;
  });
}

// pageJournal leaves the live view for the page before the oldest entry shown (older) or after
// the newest (newer); a newer page that reaches the newest entry goes back to live.
async function pageJournal(older) {
  await guarded("#journal-error", async () => {
    const f = journalQuery();
    const n = pageSize();
    if (older) {
      if (!page.lowest) return;
      f.before = String(page.lowest);
      f.limit = String(n);
    } else {
      if (page.live) return;
      f.after = String(page.highest);
      delete f.limit; // the oldest n after it, so all of them

    }
    const { requests } = await api("GET", "/_sandbox/requests?" + new URLSearchParams(f));
    if (!older && requests.length <= n) { followJournal(); return; }
    if (older && requests.length === 0) { $("#journal-page").textContent = `#${page.lowest} – #${page.highest} · nothing older`; return; }
    if (source) { source.close(); source = null; }
    page.live = false;
    $("#journal-state").textContent = "paused";
    showPage(older ? requests : requests.slice(0, n));
  });
}

// ---- clock
function showClock(c) {
  const text = `${c.now} · unix ${c.unix} · ${c.frozen ? "frozen" : "running"}`;
  $("#clock-view").textContent = text;
  $("#clock-now").textContent = c.now.replace(/\.\d+/, "") + (c.frozen ? " (frozen)" : "");
  $("#clock").dataset.loaded = "true";
}

async function loadClock() {
  await guarded("#clock-error", async () => showClock(await api("GET", "/_sandbox/clock")));
}

function moveClock(body) {
  return guarded("#clock-error", async () => showClock(await api("POST", "/_sandbox/clock", body)));
}

// ---- faults
async function loadFaults() {
  await guarded("#faults-error", async () => {
    const { faults } = await api("GET", "/_sandbox/faults");
    const tb = $("#faults-list");
    tb.replaceChildren();
    for (const f of faults) {
      tb.append(el("tr", { className: "fault" }, el("td", { className: "mono" }, f.id), el("td", { className: "mono" }, f.path || ""),
        el("td", { className: "mono" }, f.appid || ""), el("td", {}, f.errcode || f.error_name || ""), el("td", {}, f.latency_ms ? f.latency_ms + " ms" : ""),
        el("td", {}, f.times || "∞"), el("td", {}, f.hits),
        el("td", {}, el("button", { className: "plain", textContent: "remove", onclick: () => guarded("#faults-error", async () => { await api("DELETE", "/_sandbox/faults?id=" + encodeURIComponent(f.id)); await loadFaults(); }) }))));
    }
    $("#faults").dataset.loaded = "true";
  });
}

function numbers(v, names) {
  for (const n of names) if (v[n] !== undefined && /^-?\d+$/.test(v[n])) v[n] = Number(v[n]);
  return v;
}

// ---- pushes
async function loadPushes() {
  await guarded("#pushes-error", async () => {
    const { deliveries } = await api("GET", "/_sandbox/wechat/push/deliveries");
    const tb = $("#pushes-list");
    tb.replaceChildren();
    for (const d of deliveries.slice().reverse()) {
      const tr = el("tr", { className: "entry push" }, el("td", { className: "mono" }, d.id), el("td", { className: "mono" }, d.appid),
        el("td", {}, d.event), el("td", {}, d.status), el("td", {}, (d.tries || []).length), el("td", { className: "mono" }, d.answer));
      tr.addEventListener("click", () => {
        if (tr.nextSibling && tr.nextSibling.classList && tr.nextSibling.classList.contains("detail")) { tr.nextSibling.remove(); return; }
        const tries = (d.tries || []).map((x) => `try ${x.try} at ${x.at}: HTTP ${x.http_status} in ${x.latency_ms} ms, answered ${JSON.stringify(x.answer)}`).join("\n");
        tr.after(el("tr", { className: "detail" }, el("td", { colSpan: 6 }, el("div", { className: "muted mono" }, d.url), el("pre", {}, d.body), el("pre", {}, tries || "(no try yet)"))));
      });
      tb.append(tr);
    }
    $("#pushes").dataset.loaded = "true";
  });
}

// ---- QR codes
async function loadQRCodes() {
  await guarded("#qrcodes-error", async () => {
    const q = formValues($("#qrcodes-filter"));
    const { qrcodes, total } = await api("GET", "/_sandbox/wechat/qrcodes?" + new URLSearchParams(q));
    $("#qrcodes-total").textContent = `${qrcodes.length} of ${total}`;
    const tb = $("#qrcodes-list");
    tb.replaceChildren();
    const day = (t) => t.replace("T", " ").replace(/\.\d+/, "");
    for (const c of qrcodes) {
      const img = el("img", { className: "qr", src: c.image, alt: "QR code " + c.url, loading: "lazy" });
      const kind = (c.permanent ? "permanent" : "temporary") + (c.live ? "" : " · expired");
      const scan = el("button", { className: "plain", textContent: "scan…", onclick: () => {
        $("#scan-form input[name=url]").value = c.url;
        location.hash = "#scan";
      } });
      tb.append(el("tr", { className: "qrcode" + (c.live ? "" : " refused") },
        el("td", {}, c.live ? el("a", { href: c.image, target: "_blank" }, img) : el("span", { className: "muted" }, "(expired: no image)")),
        el("td", { className: "mono" }, c.appid), el("td", {}, el("div", {}, kind), el("div", { className: "muted mono" }, c.action_name)),
        el("td", { className: "mono" }, c.scene),
        el("td", { className: "mono" }, el("div", {}, c.url), el("div", { className: "muted" }, "ticket " + c.ticket)),
        el("td", {}, el("div", {}, day(c.created_at)), el("div", { className: "muted" }, c.expires_at ? "until " + day(c.expires_at) : "never expires")),
        el("td", {}, c.live ? scan : "", el("div", { style: "margin-top:.4em" }, copyButton(c.url)))));
    }
    $("#qrcodes").dataset.loaded = "true";
  });
}

// ---- City Service applications
function channelList(s) {
  const t = s.trim();
  if (t === "") return undefined;
  return t.split(/[\s,]+/).map((x) => (/^-?\d+$/.test(x) ? Number(x) : x));
}

async function loadCityService() {
  await guarded("#cityservice-error", async () => {
    const { applications } = await api("GET", "/_sandbox/wechat/cityservice/applications");
    const tb = $("#cityservice-list");
    tb.replaceChildren();
    for (const a of applications) {
      const act = (verb, body) => guarded("#cityservice-error", async () => {
        $("#cityservice-result").textContent = "";
        const r = await api("POST", `/_sandbox/wechat/cityservice/applications/${encodeURIComponent(a.id)}/${verb}`, body);
        $("#cityservice-result").textContent = pretty(r);
        await loadCityService();
      });
      const pages = el("input", { name: "page_types", placeholder: "page types", size: 9 });
      const chans = el("input", { name: "src_channels", placeholder: "src_channels", size: 9 });
      const reason = el("input", { name: "reason", placeholder: "reason to reject", size: 14 });
      const approve = () => {
        const body = {};
        const p = channelList(pages.value), c = channelList(chans.value);
        if (p) body.page_types = p;
        if (c) body.src_channels = c;
        return act("approve", body);
      };
      const state = a.status === "approved" ? `approved: pages ${(a.granted_page_types || []).join(" ")}, channels ${(a.granted_src_channels || []).join(" ")}`
        : a.status === "rejected" ? `rejected${a.reject_reason ? ": " + a.reject_reason : ""}` : "pending";
      const actions = a.status !== "pending" ? el("td", { className: "muted" }, a.decided_at ? "decided " + a.decided_at.replace("T", " ").replace(/\.\d+/, "") : "")
        : el("td", {}, pages, " ", chans, " ", el("button", { className: "plain approve", textContent: "approve", onclick: approve }), el("br"),
          reason, " ", el("button", { className: "plain reject", textContent: "reject", onclick: () => act("reject", reason.value ? { reason: reason.value } : {}) }));
      tb.append(el("tr", { className: "csapp" }, el("td", { className: "mono" }, a.id), el("td", { className: "mono" }, a.appid),
        el("td", {}, a.subject_name), el("td", { className: "mono" }, `pages ${a.page_types.join(" ")}`, el("br"), `scenes ${a.jump_scenes.join(" ")}`),
        el("td", { className: "status" }, state), actions));
    }
    if (!applications.length) tb.append(el("tr", {}, el("td", { colSpan: 6, className: "muted" }, "No application yet (POST /_sandbox/wechat/cityservice/applications files one).")));
    $("#cityservice").dataset.loaded = "true";
  });
}

// ---- Jincheng applications
async function loadJincheng() {
  await guarded("#jincheng-error", async () => {
    const { items } = await api("GET", "/_sandbox/jincheng/apps");
    const tb = $("#jincheng-list");
    tb.replaceChildren();
    for (const { app } of items) {
      const reason = el("input", { placeholder: "reason to reject", size: 16 });
      const act = (verb, body) => guarded("#jincheng-error", async () => {
        const r = await api("POST", `/_sandbox/jincheng/apps/${encodeURIComponent(app.appId)}/${verb}`, body);
        $("#jincheng-result").textContent = pretty(r);
        await loadJincheng();
      });
      tb.append(el("tr", { className: "jlbapp" }, el("td", { className: "mono" }, app.appId), el("td", {}, app.appName),
        el("td", { className: "mono" }, app.appCode || ""), el("td", {}, `${app.status} ${app.statusLabel || ""}`),
        el("td", {}, el("button", { className: "plain approve", textContent: "approve", onclick: () => act("approve") }), " ",
          reason, " ", el("button", { className: "plain reject", textContent: "reject", onclick: () => act("reject", { reason: reason.value }) }))));
    }
    $("#jincheng").dataset.loaded = "true";
  });
}

// ---- contract report
async function loadContract() {
  await guarded("#contract-error", async () => {
    const r = await api("GET", "/_sandbox/contract?called=true");
    $("#contract-summary").textContent = `${r.calls} calls · ${r.operations_called} of ${r.operations_total} operations called`;
    const tb = $("#contract-list");
    tb.replaceChildren();
    for (const op of r.operations) {
      tb.append(el("tr", {}, el("td", { className: "mono" }, op.operation), el("td", { className: "mono" }, `${op.method} ${op.path}`),
        el("td", {}, op.calls), el("td", {}, op.succeeded), el("td", { className: "mono" }, (op.errcodes_never_received || []).join(" "))));
    }
    $("#contract").dataset.loaded = "true";
  });
}

// ---- panels
const loaders = { apps: loadApps, journal: () => { if (!source && page.live) followJournal(); }, clock: loadClock, faults: loadFaults, scan: async () => { $("#scan").dataset.loaded = "true"; },
  qrcodes: loadQRCodes, pushes: loadPushes, cityservice: loadCityService, jincheng: loadJincheng, contract: loadContract };

function show() {
  const id = (location.hash || "#apps").slice(1);
  for (const s of document.querySelectorAll("main section")) s.classList.toggle("on", s.id === id);
  for (const a of document.querySelectorAll("header nav a")) a.classList.toggle("on", a.dataset.panel === id);
  if (loaders[id]) loaders[id]();
}

onSubmit("#journal-filter", followJournal);
$("#journal-older").addEventListener("click", () => pageJournal(true));
$("#journal-newer").addEventListener("click", () => pageJournal(false));
$("#journal-live").addEventListener("click", followJournal);
onSubmit("#qrcodes-filter", loadQRCodes);
onSubmit("#clock-advance", (f) => moveClock(formValues(f)));
onSubmit("#clock-set", (f) => moveClock(formValues(f)));
onSubmit("#clock-freeze", () => moveClock({ freeze: true }));
onSubmit("#clock-thaw", () => moveClock({ freeze: false }));
onSubmit("#clock-real", () => moveClock({ real: true }));
onSubmit("#fault-add", (f) => guarded("#faults-error", async () => {
  await api("POST", "/_sandbox/faults", numbers(formValues(f), ["errcode", "latency_ms", "times"]));
  await loadFaults();
}));
onSubmit("#scan-form", (f) => guarded("#scan-error", async () => {
  $("#scan-result").textContent = "";
  const r = await api("POST", "/_sandbox/wechat/scan", formValues(f));
  $("#scan-result").textContent = pretty(r);
}));
onSubmit("#scan-image", (f) => guarded("#scan-error", async () => {
  $("#scan-result").textContent = "";
  const file = f.querySelector("input[type=file]").files[0] || new Blob([]);
  const q = formValues(f);
  delete q.image;
  const r = await api("POST", "/_sandbox/wechat/scan/image?" + new URLSearchParams(q), file);
  $("#scan-result").textContent = pretty(r);
}));
// The simulators' forms: data-path names the verb, its {fields} filled from the form.
for (const form of document.querySelectorAll("form.verb")) {
  onSubmit("#" + form.id, (f) => guarded("#verb-error", async () => {
    $("#verb-result").textContent = "";
    const v = numbers(formValues(f), (f.dataset.numbers || "").split(" "));
    const path = f.dataset.path.replace(/\{(\w+)\}/g, (_, k) => { const x = v[k] || ""; delete v[k]; return encodeURIComponent(x); });
    const r = await api(f.dataset.method, path, f.dataset.method === "DELETE" || f.dataset.method === "GET" ? undefined : v);
    $("#verb-result").textContent = pretty(r);
    // A review just posted: its author can be played at once.
    const posted = r && r.reviews && r.reviews[0];
    if (posted) for (const id of ["#review-get", "#review-revise"]) $(id + " input[name=commentId]").value = posted.comment_id;
  }));
}
window.addEventListener("hashchange", show);
loadClock();
show();
