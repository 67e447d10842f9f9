/* The planners' dashboard: review selector, filters, status counts, language switch, charts,
 * sortable tables, print.
 *
 * Static pages, no request leaves the machine. The page state (language, review, domain and
 * status filters) lives in the URL fragment (#lang=en&review=mid_term&domain=eldercare) and travels
 * with every link marked data-keep-state (links marked data-keep-lang, to another plan, keep the
 * language only), so switching the language or opening a KPI keeps the view; the language is also
 * remembered in localStorage. The review a plan opens on is its default (#dashboard-meta
 * default_review: the final review once the plan's target years have passed); the fragment names
 * the review only when it differs. Elements with data-review="<view>" show for that view only.
 * Bilingual labels: an element with data-en="English" shows its Chinese text by default;
 * attributes have data-en-<name>.
 */
(function () {
  "use strict";

  var KEYS = ["lang", "review", "domain", "status", "kpi", "at"];
  var LANG_STORE = "daxing-kpi-dashboard-lang";

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function readJSON(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  var META = readJSON("dashboard-meta") || {};
  var REVIEWS = META.reviews || ["latest"];
  var DEFAULT_REVIEW = META.default_review || "latest";
  var STATUSES = readJSON("dashboard-statuses") || {};
  var UI = readJSON("dashboard-ui") || {};
  var CARDS = readJSON("card-states");
  var KPI_STATES = readJSON("kpi-states");
  var FIGURES = readJSON("kpi-figures");
  var PLOT_CONFIG = readJSON("plot-config") || { displayModeBar: false, responsive: true };

  function parseHash() {
    var out = {};
    var h = location.hash.replace(/^#/, "");
    if (!h) return out;
    h.split("&").forEach(function (part) {
      var i = part.indexOf("=");
      if (i < 0) return;
      var k = decodeURIComponent(part.slice(0, i));
      if (KEYS.indexOf(k) >= 0) out[k] = decodeURIComponent(part.slice(i + 1));
    });
    return out;
  }

  function storedLang() {
    try { return window.localStorage.getItem(LANG_STORE); } catch (e) { return null; }
  }

  var state = { lang: storedLang() === "en" ? "en" : "zh", review: DEFAULT_REVIEW, domain: "", status: "", kpi: "", at: "" };

  function readState() {
    var h = parseHash();
    state.review = DEFAULT_REVIEW;
    KEYS.forEach(function (k) { if (h[k] !== undefined) state[k] = h[k]; });
    if (state.lang !== "en") state.lang = "zh";
    if (REVIEWS.indexOf(state.review) < 0) state.review = DEFAULT_REVIEW;
  }

  function hashFor(extra) {
    var s = {};
    KEYS.forEach(function (k) { s[k] = state[k]; });
    Object.keys(extra || {}).forEach(function (k) { s[k] = extra[k]; });
    var parts = [];
    if (s.lang === "en") parts.push("lang=en");
    if (s.review && s.review !== DEFAULT_REVIEW) parts.push("review=" + encodeURIComponent(s.review));
    if (s.domain) parts.push("domain=" + encodeURIComponent(s.domain));
    if (s.status) parts.push("status=" + encodeURIComponent(s.status));
    if (s.kpi) parts.push("kpi=" + encodeURIComponent(s.kpi));
    if (s.at) parts.push("at=" + encodeURIComponent(s.at));
    return parts.join("&");
  }

  function saveState() {
    var h = hashFor({ kpi: "", at: "" });
    var url = location.href.split("#")[0] + (h ? "#" + h : "");
    try {
      history.replaceState(null, "", url);
    } catch (e) {
      location.replace("#" + h);
    }
    try { window.localStorage.setItem(LANG_STORE, state.lang); } catch (e) { /* storage off */ }
    updateLinks();
  }

  function updateLinks() {
    $$("a[data-keep-state]").forEach(function (a) {
      if (!a.hasAttribute("data-base-href")) a.setAttribute("data-base-href", a.getAttribute("href"));
      var base = a.getAttribute("data-base-href");
      var i = base.indexOf("#");
      var own = {};
      if (i >= 0) {
        base.slice(i + 1).split("&").forEach(function (part) {
          var j = part.indexOf("=");
          if (j > 0) own[part.slice(0, j)] = decodeURIComponent(part.slice(j + 1));
        });
        base = base.slice(0, i);
      }
      var h = hashFor({ kpi: own.kpi || "", at: own.at || "" });
      a.setAttribute("href", base + (h ? "#" + h : ""));
    });
    $$("a[data-keep-lang]").forEach(function (a) {  // another plan: its own default view, the same language
      if (!a.hasAttribute("data-base-href")) a.setAttribute("data-base-href", a.getAttribute("href"));
      var base = a.getAttribute("data-base-href").split("#")[0];
      a.setAttribute("href", base + (state.lang === "en" ? "#lang=en" : ""));
    });
  }

  /* -- views: elements shown for one review only ------------------------------------------------ */

  function showView() {
    $$("[data-review]").forEach(function (el) {
      if (el.tagName === "OPTION") return;
      el.hidden = el.getAttribute("data-review") !== state.review;
    });
  }

  /* -- language --------------------------------------------------------------------------- */

  function setText(el, text) {
    if (!el || !text) return;
    el.setAttribute("data-zh", text.zh);
    el.setAttribute("data-en", text.en);
    el.textContent = state.lang === "en" ? text.en : text.zh;
  }

  function applyLang() {
    var en = state.lang === "en";
    document.documentElement.lang = en ? "en" : "zh-CN";
    $$("[data-en]").forEach(function (el) {
      if (!el.hasAttribute("data-zh")) el.setAttribute("data-zh", el.textContent);
      el.textContent = en ? el.getAttribute("data-en") : el.getAttribute("data-zh");
    });
    ["aria-label", "title"].forEach(function (attr) {
      $$("[data-en-" + attr + "]").forEach(function (el) {
        var zh = "data-zh-" + attr;
        if (!el.hasAttribute(zh)) el.setAttribute(zh, el.getAttribute(attr) || "");
        el.setAttribute(attr, en ? el.getAttribute("data-en-" + attr) : el.getAttribute(zh));
      });
    });
    var sw = $("#lang-switch");
    if (sw && UI.language_switch) {
      sw.textContent = UI.language_switch[state.lang];
      sw.setAttribute("lang", en ? "zh-CN" : "en");
    }
  }

  function setBadge(el, status) {
    if (!el) return;
    el.className.split(/\s+/).forEach(function (c) {
      if (c.indexOf("status-") === 0 && c !== "status-badge") el.classList.remove(c);
    });
    el.classList.add("status-" + status);
    var use = $("use", el);
    if (use) use.setAttribute("href", "#icon-" + status);
    setText($(".status-text", el), STATUSES[status]);
  }

  /* -- overview ------------------------------------------------------------------------------ */

  function renderOverview() {
    var cards = $$(".kpi-card[data-kpi-id]");  // a target without a KPI yet (待建指标) has no states
    var counts = {};
    Object.keys(STATUSES).forEach(function (s) { counts[s] = 0; });
    var shown = 0;
    cards.forEach(function (card) {
      var states = CARDS[card.getAttribute("data-kpi-id")] || {};
      var st = states[state.review] || states.latest;
      if (!st) return;
      card.setAttribute("data-status", st.status);
      if (st.value === null) card.removeAttribute("data-value"); else card.setAttribute("data-value", String(st.value));
      if (st.year === null) card.removeAttribute("data-year"); else card.setAttribute("data-year", String(st.year));
      $(".kpi-value", card).textContent = st.value_text;
      setText($(".period", card), st.period);
      setBadge($(".status-badge", card), st.status);
      setText($(".gap", card), st.gap || { zh: "", en: "" });
      setText($(".value-note", card), st.value_note || { zh: "", en: "" });
      setText($(".completion", card), st.completion || { zh: "", en: "" });
      var inDomain = !state.domain || card.getAttribute("data-domain") === state.domain;
      var show = inDomain && (!state.status || st.status === state.status);
      card.hidden = !show;
      if (inDomain) counts[st.status] = (counts[st.status] || 0) + 1;
      if (show) shown += 1;
    });
    $$(".plan-section").forEach(function (sec) {
      sec.hidden = $$(".kpi-card:not([hidden])", sec).length === 0;
    });
    $$(".chip").forEach(function (chip) {
      var s = chip.getAttribute("data-status");
      $(".chip-count", chip).textContent = String(counts[s] || 0);
      chip.setAttribute("aria-pressed", state.status === s ? "true" : "false");
      chip.parentNode.hidden = !counts[s] && state.status !== s;
    });
    showView();
    var shownEl = $("#shown-count");
    if (shownEl && UI.shown_count) {
      var fill = function (t) { return t.replace("{shown}", shown).replace("{total}", cards.length); };
      setText(shownEl, { zh: fill(UI.shown_count.zh), en: fill(UI.shown_count.en) });
    }
    var none = $("#no-match");
    if (none) none.hidden = shown > 0;
  }

  function visibleLinks() {
    return $$(".kpi-card:not([hidden]) .kpi-link").filter(function (a) { return !a.closest("[hidden]"); });
  }

  function moveFocus(current, key) {
    var links = visibleLinks();
    var i = links.indexOf(current);
    if (i < 0) return;
    var target = null;
    if (key === "ArrowRight") target = links[i + 1];
    else if (key === "ArrowLeft") target = links[i - 1];
    else if (key === "Home") target = links[0];
    else if (key === "End") target = links[links.length - 1];
    else {
      var r = current.closest(".kpi-card").getBoundingClientRect();
      var best = null, bestScore = Infinity;
      links.forEach(function (a) {
        var q = a.closest(".kpi-card").getBoundingClientRect();
        var dy = key === "ArrowDown" ? q.top - r.top : r.top - q.top;
        if (dy <= 4) return;
        var score = dy * 10 + Math.abs(q.left - r.left);
        if (score < bestScore) { bestScore = score; best = a; }
      });
      target = best;
    }
    if (target) {
      target.focus();
      target.closest(".kpi-card").scrollIntoView({ block: "nearest" });
    }
  }

  function initOverview() {
    var review = $("#review-select"), domain = $("#domain-select"), status = $("#status-select");
    review.value = state.review;
    domain.value = state.domain;
    if (domain.value !== state.domain) state.domain = domain.value = "";
    status.value = state.status;
    if (status.value !== state.status) state.status = status.value = "";
    review.addEventListener("change", function () { state.review = review.value; renderOverview(); saveState(); });
    domain.addEventListener("change", function () { state.domain = domain.value; renderOverview(); saveState(); });
    status.addEventListener("change", function () { state.status = status.value; renderOverview(); saveState(); });
    $$(".chip").forEach(function (chip) {
      chip.addEventListener("click", function () {
        var s = chip.getAttribute("data-status");
        state.status = state.status === s ? "" : s;
        status.value = state.status;
        renderOverview();
        saveState();
      });
    });
    document.addEventListener("keydown", function (ev) {
      var t = ev.target;
      if (!t || !t.classList || !t.classList.contains("kpi-link")) return;
      if (["ArrowRight", "ArrowLeft", "ArrowDown", "ArrowUp", "Home", "End"].indexOf(ev.key) < 0) return;
      ev.preventDefault();
      moveFocus(t, ev.key);
    });
    renderOverview();
    if (state.kpi) {  // back from a KPI page: that KPI's card again
      var card = $(".kpi-card[data-kpi-id='" + state.kpi.replace(/'/g, "") + "']");
      if (card && !card.hidden) {
        card.scrollIntoView({ block: "center" });
        $(".kpi-link", card).focus({ preventScroll: true });
      }
      state.kpi = "";
    }
  }

  /* -- KPI page -------------------------------------------------------------------------------- */

  function clone(x) { return JSON.parse(JSON.stringify(x)); }

  function drawCharts() {
    if (!window.Plotly || !FIGURES) return;
    var trend = document.getElementById("trend-chart");
    if (trend && FIGURES.trend) {
      var f = clone(FIGURES.trend[state.lang]);
      f.data.forEach(function (tr) { if (tr.meta && tr.meta.review) tr.visible = tr.meta.review === state.review; });
      window.Plotly.react(trend, f.data, f.layout, PLOT_CONFIG);
    }
    var towns = document.getElementById("towns-chart");
    var tf = FIGURES.towns && FIGURES.towns[state.review];
    if (towns && tf) {
      var g = clone(tf[state.lang]);
      window.Plotly.react(towns, g.data, g.layout, PLOT_CONFIG);
    }
    if (towns) towns.hidden = !tf;
    [trend, towns].forEach(scalableForPrint);
  }

  /* A plotly chart drawn for the screen keeps its pixel width; for print the style sheet scales its
     SVG layers to the page width, which needs their viewBox and the chart's aspect ratio. */
  function scalableForPrint(chart) {
    if (!chart) return;
    var box = $(".svg-container", chart);
    if (!box) return;
    var w = box.offsetWidth || parseFloat(box.style.width), h = box.offsetHeight || parseFloat(box.style.height);
    if (!w || !h) return;
    box.style.setProperty("--plot-w", String(w));
    box.style.setProperty("--plot-h", String(h));
    $$("svg.main-svg", chart).forEach(function (svg) {
      svg.setAttribute("viewBox", "0 0 " + w + " " + h);
      svg.setAttribute("preserveAspectRatio", "xMinYMin meet");
    });
  }

  /* -- printing the towns/streets x KPIs table: in pieces of a few KPI columns, as shown --------------- */

  var PRINT_COLUMNS = 6;  // KPI columns per printed piece: A4 portrait holds the town name, targets met and six KPIs

  function buildPrintMatrix() {
    $$(".matrix-print").forEach(function (el) { el.parentNode.removeChild(el); });
    var wrap = $$(".matrix-wrap").filter(function (w) { return !w.hidden; })[0];
    if (!wrap) return;
    var table = $("table", wrap);
    var head = $$("thead th", table), rows = $$("tbody tr", table);
    var fixed = head.filter(function (th) { return !th.classList.contains("kpi-col"); }).length;
    var out = document.createElement("div");
    out.className = "matrix-print";
    var cap = $("caption", table);
    if (cap) { var p = document.createElement("p"); p.className = "note"; p.textContent = cap.textContent; out.appendChild(p); }
    for (var start = fixed; start < head.length; start += PRINT_COLUMNS) {
      var piece = document.createElement("table");
      piece.className = "matrix";
      var thead = document.createElement("thead"), tr = document.createElement("tr");
      var cols = [0].concat(start === fixed ? [1] : []);
      for (var c = start; c < Math.min(start + PRINT_COLUMNS, head.length); c++) cols.push(c);
      cols.forEach(function (c) {
        var th = document.createElement("th");
        th.className = head[c].className;
        th.innerHTML = (head[c].querySelector("button") || head[c]).innerHTML;
        tr.appendChild(th);
      });
      thead.appendChild(tr);
      piece.appendChild(thead);
      var body = document.createElement("tbody");
      rows.forEach(function (row) {
        var r = document.createElement("tr");
        cols.forEach(function (c) { r.appendChild(row.children[c].cloneNode(true)); });
        body.appendChild(r);
      });
      piece.appendChild(body);
      out.appendChild(piece);
    }
    wrap.parentNode.insertBefore(out, wrap.nextSibling);
  }

  function initPrint() {
    if (!$(".matrix-wrap")) return;
    window.addEventListener("beforeprint", buildPrintMatrix);
    if (window.matchMedia) {
      var mq = window.matchMedia("print");
      var onChange = function (e) { if (e.matches) buildPrintMatrix(); };
      if (mq.addEventListener) mq.addEventListener("change", onChange); else if (mq.addListener) mq.addListener(onChange);
    }
  }

  /* -- sortable tables (the towns/streets x KPIs table) --------------------------------------------- */

  function sortValue(cell, type) {
    if (!cell) return null;
    var v = cell.getAttribute("data-sort");
    if (v === null || v === "") return null;
    if (type === "number") { var n = parseFloat(v); return isNaN(n) ? null : n; }
    return cell.textContent.trim();
  }

  function initSortable(table) {
    var heads = $$("thead th", table);
    heads.forEach(function (th, col) {
      var btn = $("button.sort", th);
      if (!btn) return;
      btn.addEventListener("click", function () {
        var type = btn.getAttribute("data-sort-type") || "number";
        var now = th.getAttribute("aria-sort");
        var first = btn.getAttribute("data-sort-first") || "ascending";
        var dir = now === first ? (first === "ascending" ? "descending" : "ascending") : first;
        heads.forEach(function (h) { h.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", dir);
        var body = $("tbody", table);
        var rows = $$("tr", body);
        var sign = dir === "ascending" ? 1 : -1;
        rows.sort(function (a, b) {
          var x = sortValue(a.children[col], type), y = sortValue(b.children[col], type);
          if (x === null && y === null) return 0;
          if (x === null) return 1;  // no value: always last
          if (y === null) return -1;
          if (type === "number") return sign * (x - y);
          return sign * x.localeCompare(y, state.lang === "en" ? "en" : "zh-CN");
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  }

  function renderKpi() {
    var st = KPI_STATES[state.review] || KPI_STATES.latest;
    $$("[data-field]").forEach(function (el) {
      var v = st[el.getAttribute("data-field")];
      if (v === undefined) return;
      if (v && typeof v === "object") setText(el, v); else el.textContent = v === null ? "—" : String(v);
    });
    setBadge($(".headline .status-badge"), st.status);
    var header = $(".kpi-header");
    if (header) header.setAttribute("data-status", st.status);
    showView();
    drawCharts();
  }

  function initKpi() {
    var review = $("#review-select");
    if (review) {
      review.value = state.review;
      review.addEventListener("change", function () { state.review = review.value; renderKpi(); saveState(); });
    }
    renderKpi();
  }

  function initPlain() {  // a page with per-view blocks and no chart (a town/street page)
    var review = $("#review-select");
    if (review) {
      review.value = state.review;
      review.addEventListener("change", function () { state.review = review.value; showView(); saveState(); });
    }
    showView();
  }

  /* -- start ------------------------------------------------------------------------------------ */

  function render() {
    applyLang();
    if (CARDS) renderOverview();
    if (KPI_STATES) renderKpi();
    if (!CARDS && !KPI_STATES) showView();
    updateLinks();
  }

  function start() {
    readState();
    applyLang();
    if (CARDS) initOverview();
    if (KPI_STATES) initKpi();
    if (!CARDS && !KPI_STATES) initPlain();
    $$("table.sortable").forEach(initSortable);
    initPrint();
    var pr = $("#print-button");
    if (pr) pr.addEventListener("click", function () { window.print(); });
    applyLang();
    updateLinks();
    if (state.at) {  // back to a part of the page (#at=towns-overview)
      var target = document.getElementById(state.at);
      if (target) target.scrollIntoView({ block: "start" });
      state.at = "";
    }
    var sw = $("#lang-switch");
    if (sw) {
      sw.addEventListener("click", function () {
        state.lang = state.lang === "en" ? "zh" : "en";
        render();
        saveState();
      });
    }
    window.addEventListener("hashchange", function () {
      readState();
      var sel = $("#review-select");
      if (sel) sel.value = state.review;
      render();
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
