/* cityindex explorer: renders the data embedded in this page (no network, no library).
 * The page computes nothing beyond sorting and filtering: every score, rank, band, flag,
 * strength and driver comes from the audit (cityindex.unit_views via cityindex.report.explorer).
 * Every string taken from the data is inserted with textContent / setAttribute, never as HTML.
 */
(function () {
  "use strict";
  var T0 = performance.now();
  var DATA = JSON.parse(document.getElementById("explorer-data").textContent);
  var T_PARSE = performance.now();
  var SVGNS = "http://www.w3.org/2000/svg";
  var COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf"];
  var MAX_SEL = 6;

  // ------------------------------------------------------------------ helpers
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) {
      for (var k in attrs) {
        if (Object.prototype.hasOwnProperty.call(attrs, k) && attrs[k] !== null && attrs[k] !== undefined) {
          if (k === "class") e.className = attrs[k]; else e.setAttribute(k, attrs[k]);
        }
      }
    }
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function svg(tag, attrs) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs) {
      if (Object.prototype.hasOwnProperty.call(attrs, k)) e.setAttribute(k, attrs[k]);
    }
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function $(id) { return document.getElementById(id); }
  function isNum(v) { return typeof v === "number" && isFinite(v); }
  function fmt(v, d) {
    if (!isNum(v)) return "–";
    if (d === undefined && Number.isInteger(v)) d = 0;
    if (d === undefined) d = Math.abs(v) >= 100 ? 1 : (Math.abs(v) >= 1 ? 2 : 3);
    return v.toLocaleString("en-US", {minimumFractionDigits: d, maximumFractionDigits: d});
  }
  function rk(v) { return isNum(v) ? String(Math.floor(v + 0.5)) : "–"; }
  function pct(v) { return isNum(v) ? Math.round(v * 100) + " %" : "–"; }

  // ------------------------------------------------------------------ data access
  var IDX = null;          // the current index block of DATA
  var N = 0;               // units
  var NODE = {};           // code -> node
  var SEARCH = [];         // lower-cased "name code" per unit
  var POS = {};            // unit code -> position

  function useIndex(i) {
    IDX = DATA.indices[i];
    N = IDX.units.code.length;
    NODE = {};
    IDX.nodes.forEach(function (n) { NODE[n.code] = n; });
    SEARCH = new Array(N);
    POS = {};
    for (var u = 0; u < N; u++) {
      SEARCH[u] = (String(IDX.units.name[u]) + " " + String(IDX.units.code[u])).toLowerCase();
      POS[IDX.units.code[u]] = u;
    }
  }
  function aggregates() { return IDX.nodes.filter(function (n) { return n.level > 1 && !n.empty; }); }
  function subAggregates() { return aggregates().filter(function (n) { return n.code !== IDX.root; }); }
  function nodeName(code) { var n = NODE[code]; return n && n.name ? n.name : code; }
  function groupNames() { return Object.keys(IDX.groups || {}); }
  function rootBlock() { return IDX.scores[IDX.root]; }

  // ------------------------------------------------------------------ state and URL fragment
  var state = null;
  function defaults() {
    return {i: 0, q: "", g: {}, f: [], s: {col: "rank", dir: 1}, p: 0, n: 50, sel: [], u: null, o: []};
  }
  function encode() {
    var p = new URLSearchParams();
    p.set("i", DATA.indices[state.i].code);
    if (state.q) p.set("q", state.q);
    Object.keys(state.g).forEach(function (g) { if (state.g[g] !== "") p.append("g", g + ":" + state.g[g]); });
    state.f.forEach(function (f) { p.append("f", [f.node, f.m, f.op, f.v].join(":")); });
    if (!(state.s.col === "rank" && state.s.dir === 1)) p.set("s", state.s.col + ":" + (state.s.dir > 0 ? "asc" : "desc"));
    if (state.p) p.set("p", String(state.p));
    if (state.n !== 50) p.set("n", String(state.n));
    if (state.sel.length) p.set("sel", state.sel.join(","));
    if (state.u !== null) p.set("u", state.u);
    if (state.o.length) p.set("o", state.o.join(","));
    return p.toString();
  }
  function decode(hash) {
    var s = defaults();
    var p = new URLSearchParams(hash.replace(/^#/, ""));
    var code = p.get("i");
    DATA.indices.forEach(function (b, i) { if (b.code === code) s.i = i; });
    useIndex(s.i);
    s.q = p.get("q") || "";
    p.getAll("g").forEach(function (v) {
      var k = v.indexOf(":");
      if (k > 0 && IDX.groups && IDX.groups[v.slice(0, k)]) s.g[v.slice(0, k)] = v.slice(k + 1);
    });
    p.getAll("f").forEach(function (v) {
      var parts = v.split(":");
      if (parts.length >= 4 && NODE[parts[0]]) {
        s.f.push({node: parts[0], m: parts[1], op: parts[2] === "le" ? "le" : "ge", v: parts.slice(3).join(":")});
      }
    });
    var so = (p.get("s") || "").split(":");
    if (so[0]) s.s = {col: so[0], dir: so[1] === "desc" ? -1 : 1};
    s.p = Math.max(0, parseInt(p.get("p") || "0", 10) || 0);
    var n = parseInt(p.get("n") || "50", 10);
    s.n = [25, 50, 100, 250].indexOf(n) >= 0 ? n : 50;
    s.sel = (p.get("sel") || "").split(",").filter(function (c) { return c !== "" && POS[c] !== undefined; }).slice(0, MAX_SEL);
    var u = p.get("u");
    s.u = u !== null && POS[u] !== undefined ? u : null;
    s.o = (p.get("o") || "").split(",").filter(function (c) { return NODE[c] !== undefined; });
    return s;
  }
  function pushState() {
    var h = encode();
    if (("#" + h) !== location.hash && !(h === "" && location.hash === "")) {
      history.replaceState(null, "", h ? "#" + h : location.pathname + location.search);
    }
  }

  // ------------------------------------------------------------------ columns of the table
  function columns() {
    var cols = [{key: "sel", label: "", title: "select to compare (2–6)", text: true, nosort: true},
                {key: "rank", label: "rank", title: "nominal rank (1 = best)"},
                {key: "name", label: "name", title: "name (code)", text: true}];
    groupNames().forEach(function (g) { cols.push({key: "group:" + g, label: g, text: true, title: g}); });
    cols.push({key: "score", label: "score", title: IDX.root + ": nominal score"});
    if (IDX.band) {
      cols.push({key: "band", label: IDX.band.label + " band", title: IDX.band.label + " methodological rank band (" + IDX.band.n + " Monte Carlo replications)", nosort: true});
      cols.push({key: "width", label: "band width", title: "width of the " + IDX.band.label + " rank band (places)"});
      cols.push({key: "median", label: "median rank", title: "median rank over the replications"});
    }
    cols.push({key: "observed", label: "observed", title: "share of the unit's indicators observed before imputation"});
    cols.push({key: "flags", label: "flags", text: true, title: "availability and band flags"});
    subAggregates().forEach(function (n) {
      cols.push({key: "node:" + n.code, label: n.code, title: (n.name || n.code) + " (level " + n.level + "): score"});
    });
    return cols;
  }
  function value(u, key) {
    var r = rootBlock();
    if (key === "rank") return r.rank[u];
    if (key === "name") return String(IDX.units.name[u]).toLowerCase();
    if (key === "score") return r.score[u];
    if (key === "width") return r.width ? r.width[u] : null;
    if (key === "median") return r.median ? r.median[u] : null;
    if (key === "observed") return IDX.observed_share[u];
    if (key === "flags") return IDX.flags[u];
    if (key.indexOf("group:") === 0) { var g = IDX.groups[key.slice(6)]; return g ? g[u] : null; }
    if (key.indexOf("node:") === 0) { var b = IDX.scores[key.slice(5)]; return b ? b.score[u] : null; }
    return null;
  }

  // ------------------------------------------------------------------ filtering and sorting
  function filterValue(f, u) {
    var n = NODE[f.node];
    if (!n) return null;
    if (n.level === 1) {
      var ind = IDX.indicators[f.node];
      if (!ind) return null;
      if (f.m === "normalised") return ind.norm[u];
      return ind.observed[u] ? ind.raw[u] : ind.imputed[u];   // the data value (imputed where missing)
    }
    var b = IDX.scores[f.node];
    if (!b) return null;
    return f.m === "rank" ? b.rank[u] : b.score[u];
  }
  function visibleUnits() {
    var q = state.q.trim().toLowerCase();
    var groups = Object.keys(state.g).filter(function (g) { return state.g[g] !== ""; });
    var filters = state.f.filter(function (f) { return f.v !== "" && isFinite(parseFloat(f.v)); });
    var out = [];
    for (var u = 0; u < N; u++) {
      if (q && SEARCH[u].indexOf(q) < 0) continue;
      var ok = true;
      for (var j = 0; j < groups.length && ok; j++) {
        var col = IDX.groups[groups[j]];
        if (!col || String(col[u]) !== state.g[groups[j]]) ok = false;
      }
      for (var k = 0; k < filters.length && ok; k++) {
        var f = filters[k], v = filterValue(f, u), t = parseFloat(f.v);
        if (!isNum(v) || (f.op === "ge" ? v < t : v > t)) ok = false;
      }
      if (ok) out.push(u);
    }
    var key = state.s.col, dir = state.s.dir;
    var vals = new Array(N);
    for (var i = 0; i < out.length; i++) vals[out[i]] = value(out[i], key);
    var rank = rootBlock().rank;
    out.sort(function (a, b) {
      var x = vals[a], y = vals[b];
      var xm = x === null || x === undefined || (typeof x === "number" && !isFinite(x)) || x === "";
      var ym = y === null || y === undefined || (typeof y === "number" && !isFinite(y)) || y === "";
      if (xm !== ym) return xm ? 1 : -1;            // missing values last, either direction
      if (!xm && x !== y) {
        if (typeof x === "number" && typeof y === "number") return dir * (x - y);
        return dir * (String(x) < String(y) ? -1 : 1);
      }
      return (rank[a] - rank[b]) || (a - b);
    });
    return out;
  }

  // ------------------------------------------------------------------ rendering: chrome
  function renderTabs() {
    var nav = $("index-tabs");
    clear(nav);
    if (DATA.indices.length < 2) return;
    DATA.indices.forEach(function (b, i) {
      var btn = el("button", {type: "button", "aria-pressed": String(i === state.i), "data-index": b.code}, b.code);
      btn.title = b.name || b.code;
      btn.addEventListener("click", function () {
        if (i === state.i) return;
        var keepN = state.n;
        state = defaults(); state.i = i; state.n = keepN;
        useIndex(i);
        renderAll();
      });
      nav.appendChild(btn);
    });
  }
  function renderHeader() {
    var noun = IDX.noun || ["unit", "units"];
    $("subtitle").textContent = (IDX.name ? IDX.name + " (" + IDX.code + ")" : IDX.code) + " · " +
      N.toLocaleString("en-US") + " " + noun[1] + " · " + IDX.nodes.filter(function (n) { return n.level === 1; }).length +
      " indicators" + (IDX.band ? " · " + IDX.band.label + " rank bands from " + IDX.band.n.toLocaleString("en-US") +
      " Monte Carlo replications over the uncertainty space" : " · no uncertainty analysis: no bands");
    var about = $("about");
    clear(about);
    about.appendChild(el("p", null, "Made by cityindex " + DATA.version +
      ". Rank 1 = best. The " + (IDX.band ? IDX.band.label : "5–95 %") + " band is the range of a unit's rank over the " +
      "methodological alternatives of the uncertainty space (a methodological band, not a confidence interval). " +
      "Strengths and weaknesses use observed values only (ranked among the units that observed the indicator); " +
      "imputed values are shown in italics. This page works offline and sends nothing anywhere."));
  }
  function renderControls() {
    $("search").value = state.q;
    var gf = $("group-filters");
    clear(gf);
    groupNames().forEach(function (g) {
      var seen = {}, vals = [];
      IDX.groups[g].forEach(function (v) { if (v !== null && v !== "" && !seen[v]) { seen[v] = 1; vals.push(String(v)); } });
      vals.sort();
      var sel = el("select", {"data-group": g, id: "group-" + groupNames().indexOf(g), "aria-label": g});
      sel.appendChild(el("option", {value: ""}, "all (" + g + ")"));
      vals.forEach(function (v) { var o = el("option", {value: v}, v); sel.appendChild(o); });
      sel.value = state.g[g] || "";
      sel.addEventListener("change", function () { state.g[g] = sel.value; state.p = 0; renderBody(); });
      var lab = el("label", null, g + " ");
      lab.appendChild(sel);
      gf.appendChild(lab);
    });
    renderFilters();
    $("page-size").value = String(state.n);
  }
  function renderFilters() {
    var box = $("threshold-filters");
    clear(box);
    state.f.forEach(function (f, k) {
      var row = el("div", {class: "filter"});
      var nodeSel = el("select", {"aria-label": "threshold node", class: "f-node"});
      IDX.nodes.forEach(function (n) {
        if (n.empty) return;
        var indent = n.level === 1 ? "· " : "";
        nodeSel.appendChild(el("option", {value: n.code}, indent + n.code + (n.name ? " — " + n.name : "")));
      });
      nodeSel.value = f.node;
      var mSel = el("select", {"aria-label": "measure", class: "f-measure"});
      var opts = NODE[f.node] && NODE[f.node].level === 1 ? [["value", "value"], ["normalised", "normalised"]] : [["score", "score"], ["rank", "rank"]];
      opts.forEach(function (o) { mSel.appendChild(el("option", {value: o[0]}, o[1])); });
      if (!opts.some(function (o) { return o[0] === f.m; })) f.m = opts[0][0];
      mSel.value = f.m;
      var opSel = el("select", {"aria-label": "operator", class: "f-op"});
      opSel.appendChild(el("option", {value: "ge"}, "≥"));
      opSel.appendChild(el("option", {value: "le"}, "≤"));
      opSel.value = f.op;
      var inp = el("input", {type: "number", step: "any", "aria-label": "threshold", class: "f-value"});
      inp.value = f.v;
      var rm = el("button", {type: "button", "aria-label": "remove threshold", class: "f-remove"}, "×");
      nodeSel.addEventListener("change", function () { f.node = nodeSel.value; f.m = ""; state.p = 0; renderFilters(); renderBody(); });
      mSel.addEventListener("change", function () { f.m = mSel.value; state.p = 0; renderBody(); });
      opSel.addEventListener("change", function () { f.op = opSel.value; state.p = 0; renderBody(); });
      inp.addEventListener("input", function () { f.v = inp.value; state.p = 0; renderBody(); });
      rm.addEventListener("click", function () { state.f.splice(k, 1); state.p = 0; renderFilters(); renderBody(); });
      row.appendChild(el("span", null, "threshold"));
      [nodeSel, mSel, opSel, inp, rm].forEach(function (x) { row.appendChild(x); });
      box.appendChild(row);
    });
  }

  // ------------------------------------------------------------------ rendering: table
  function bandSvg(lo, hi, nominal, w, h) {
    var s = svg("svg", {width: w, height: h, class: "band-svg", role: "img"});
    if (!isNum(lo) || !isNum(hi)) return s;
    var x = function (r) { return 2 + (w - 4) * (r - 1) / Math.max(1, N - 1); };
    s.appendChild(svg("line", {x1: 2, x2: w - 2, y1: h / 2, y2: h / 2, stroke: "#e3e8ee"}));
    s.appendChild(svg("line", {x1: x(lo), x2: x(hi), y1: h / 2, y2: h / 2, stroke: "#1f4e79", "stroke-width": 2}));
    if (isNum(nominal)) s.appendChild(svg("circle", {cx: x(nominal), cy: h / 2, r: 2.5, fill: "#e07b00"}));
    var t = svg("title", {});
    t.textContent = "rank band " + rk(lo) + "–" + rk(hi) + (isNum(nominal) ? ", nominal " + rk(nominal) : "");
    s.appendChild(t);
    return s;
  }
  function renderTableHead(cols) {
    var thead = $("units").tHead;
    clear(thead);
    var tr = el("tr");
    cols.forEach(function (c) {
      var th = el("th", {title: c.title || null, "data-col": c.key, scope: "col"}, c.label);
      if (c.text) th.className = "text";
      if (!c.nosort) {
        if (state.s.col === c.key) th.className += (state.s.dir > 0 ? " sorted-asc" : " sorted-desc");
        th.setAttribute("aria-sort", state.s.col === c.key ? (state.s.dir > 0 ? "ascending" : "descending") : "none");
        th.addEventListener("click", function () {
          if (state.s.col === c.key) state.s.dir = -state.s.dir; else state.s = {col: c.key, dir: 1};
          state.p = 0;
          renderBody();
        });
      } else {
        th.style.cursor = "default";
      }
      tr.appendChild(th);
    });
    thead.appendChild(tr);
  }
  function renderRows(cols, units) {
    var tbody = $("units").tBodies[0];
    var frag = document.createDocumentFragment();
    var r = rootBlock();
    units.forEach(function (u) {
      var code = IDX.units.code[u];
      var tr = el("tr", {"data-unit": code});
      if (state.sel.indexOf(code) >= 0) tr.className = "selected";
      cols.forEach(function (c) {
        var td;
        if (c.key === "sel") {
          td = el("td", {class: "text"});
          var cb = el("input", {type: "checkbox", "aria-label": "compare " + IDX.units.name[u], class: "pick"});
          cb.checked = state.sel.indexOf(code) >= 0;
          cb.disabled = !cb.checked && state.sel.length >= MAX_SEL;
          cb.addEventListener("change", function () { toggleSel(code); });
          td.appendChild(cb);
        } else if (c.key === "name") {
          td = el("td", {class: "text name"});
          var b = el("button", {type: "button", class: "drill", title: "drill down: " + code}, IDX.units.name[u]);
          b.addEventListener("click", function () { openDrill(code); });
          td.appendChild(b);
        } else if (c.key === "band") {
          td = el("td", {class: "text"});
          td.appendChild(document.createTextNode(rk(r.q5[u]) + "–" + rk(r.q95[u]) + " "));
          td.appendChild(bandSvg(r.q5[u], r.q95[u], r.rank[u], 90, 10));
        } else if (c.key === "flags") {
          td = el("td", {class: "text"});
          String(IDX.flags[u] || "").split(";").forEach(function (f) { if (f) td.appendChild(el("span", {class: "flag"}, f)); });
        } else if (c.key.indexOf("group:") === 0) {
          var gv = value(u, c.key);
          td = el("td", {class: "text"}, gv === null || gv === undefined ? "–" : gv);
        } else if (c.key === "rank" || c.key === "median" || c.key === "width") {
          td = el("td", null, rk(value(u, c.key)));
        } else if (c.key === "observed") {
          td = el("td", null, pct(value(u, c.key)));
        } else {
          td = el("td", null, fmt(value(u, c.key)));
        }
        td.setAttribute("data-col", c.key);
        tr.appendChild(td);
      });
      frag.appendChild(tr);
    });
    clear(tbody);
    tbody.appendChild(frag);
  }
  var lastView = [];
  function renderBody() {
    var cols = columns();
    renderTableHead(cols);
    lastView = visibleUnits();
    var pages = Math.max(1, Math.ceil(lastView.length / state.n));
    if (state.p >= pages) state.p = pages - 1;
    var start = state.p * state.n;
    renderRows(cols, lastView.slice(start, start + state.n));
    var noun = IDX.noun || ["unit", "units"];
    $("count").textContent = lastView.length.toLocaleString("en-US") + " of " + N.toLocaleString("en-US") + " " + noun[1];
    $("page-info").textContent = lastView.length ? "rows " + (start + 1) + "–" + Math.min(start + state.n, lastView.length) +
      " · page " + (state.p + 1) + " of " + pages : "no match";
    $("prev").disabled = state.p <= 0;
    $("next").disabled = state.p >= pages - 1;
    pushState();
  }
  function toggleSel(code) {
    var k = state.sel.indexOf(code);
    if (k >= 0) state.sel.splice(k, 1);
    else if (state.sel.length < MAX_SEL) state.sel.push(code);
    renderBody();
    renderCompare();
  }

  // ------------------------------------------------------------------ compare
  function dotWhisker(block, units, w) {
    // one row per unit: nominal rank (dot) and band (whisker), on a rank axis 1..N
    var rowH = 12, top = 4, h = top + rowH * units.length + 14;
    var s = svg("svg", {width: w, height: h, role: "img", class: "dw"});
    var x = function (r) { return 8 + (w - 16) * (r - 1) / Math.max(1, N - 1); };
    s.appendChild(svg("line", {x1: 8, x2: w - 8, y1: h - 12, y2: h - 12, stroke: "#b8c4cf"}));
    [1, Math.round(N / 2), N].forEach(function (t) {
      var tx = svg("text", {x: x(t), y: h - 2, "text-anchor": t === 1 ? "start" : (t === N ? "end" : "middle")});
      tx.textContent = String(t);
      s.appendChild(tx);
    });
    units.forEach(function (u, i) {
      var y = top + rowH * i + rowH / 2, c = COLORS[i % COLORS.length];
      var lo = block.q5 ? block.q5[u] : null, hi = block.q95 ? block.q95[u] : null;
      if (isNum(lo) && isNum(hi)) {
        s.appendChild(svg("line", {x1: x(lo), x2: x(hi), y1: y, y2: y, stroke: c, "stroke-width": 2}));
        s.appendChild(svg("line", {x1: x(lo), x2: x(lo), y1: y - 3, y2: y + 3, stroke: c}));
        s.appendChild(svg("line", {x1: x(hi), x2: x(hi), y1: y - 3, y2: y + 3, stroke: c}));
      }
      if (isNum(block.rank[u])) {
        var dot = svg("circle", {cx: x(block.rank[u]), cy: y, r: 3.5, fill: c, stroke: "#fff"});
        var t = svg("title", {});
        t.textContent = IDX.units.name[u] + ": rank " + rk(block.rank[u]) + (isNum(lo) ? ", band " + rk(lo) + "–" + rk(hi) : "");
        dot.appendChild(t);
        s.appendChild(dot);
      }
    });
    return s;
  }
  function legend(units) {
    var d = el("div", {class: "legend"});
    units.forEach(function (u, i) {
      var sp = el("span");
      sp.appendChild(el("span", {class: "swatch", style: "background:" + COLORS[i % COLORS.length]}));
      sp.appendChild(document.createTextNode(" " + IDX.units.name[u]));
      d.appendChild(sp);
    });
    return d;
  }
  function indicatorCell(code, u) {
    var ind = IDX.indicators[code];
    var td = el("td");
    if (!ind) return td;
    if (ind.observed[u]) {
      td.textContent = fmt(ind.raw[u]) + " · rank " + rk(ind.rank[u]) + "/" + ind.of;
    } else {
      td.appendChild(el("span", {class: "imputed", title: "missing in the data; imputed value"}, "imputed " + fmt(ind.imputed[u])));
    }
    return td;
  }
  function renderCompare() {
    var hint = $("compare-hint"), chips = $("compare-chips"), body = $("compare-body");
    clear(chips); clear(body);
    var units = state.sel.map(function (c) { return POS[c]; }).filter(function (u) { return u !== undefined; });
    var noun = IDX.noun || ["unit", "units"];
    hint.textContent = units.length < 2 ? "Tick 2–6 " + noun[1] + " in the table to compare them at every level of the framework." :
      units.length + " " + noun[1] + " side by side: nominal rank (dot) and " + (IDX.band ? IDX.band.label + " rank band (whisker)" : "rank") +
      " at every level; indicators with their value and rank among the units that observed them.";
    units.forEach(function (u, i) {
      var chip = el("span", {class: "chip", "data-unit": IDX.units.code[u]});
      chip.appendChild(el("span", {class: "swatch", style: "background:" + COLORS[i % COLORS.length]}));
      chip.appendChild(document.createTextNode(IDX.units.name[u]));
      var x = el("button", {type: "button", "aria-label": "remove " + IDX.units.name[u]}, "×");
      x.addEventListener("click", function () { toggleSel(IDX.units.code[u]); });
      chip.appendChild(x);
      chips.appendChild(chip);
    });
    if (units.length < 2) return;
    body.appendChild(legend(units));
    var tbl = el("table", {class: "cmp-table", id: "compare-table"});
    var hr = el("tr");
    hr.appendChild(el("th", null, "level"));
    hr.appendChild(el("th", null, "rank: nominal (dot), band (whisker)"));
    units.forEach(function (u, i) {
      var th = el("th", {style: "border-bottom:3px solid " + COLORS[i % COLORS.length]}, IDX.units.name[u]);
      hr.appendChild(th);
    });
    var thead = el("thead"); thead.appendChild(hr); tbl.appendChild(thead);
    var tb = el("tbody");
    IDX.nodes.forEach(function (n) {
      if (n.empty) return;
      var tr = el("tr", {class: "l" + Math.min(n.level, 2), "data-node": n.code});
      tr.appendChild(el("td", {title: n.code}, (n.level === 1 ? "" : "") + (n.name || n.code)));
      if (n.level > 1) {
        var b = IDX.scores[n.code];
        var tdp = el("td", {class: "plot"});
        if (b) tdp.appendChild(dotWhisker(b, units, 280));
        tr.appendChild(tdp);
        units.forEach(function (u) {
          tr.appendChild(el("td", null, b ? fmt(b.score[u]) + " · rank " + rk(b.rank[u]) +
            (b.q5 ? " (" + rk(b.q5[u]) + "–" + rk(b.q95[u]) + ")" : "") : "–"));
        });
      } else {
        tr.appendChild(el("td", {class: "plot muted"}, "indicator"));
        units.forEach(function (u) { tr.appendChild(indicatorCell(n.code, u)); });
      }
      tb.appendChild(tr);
    });
    tbl.appendChild(tb);
    var wrap = el("div", {class: "table-wrap"}); wrap.appendChild(tbl);
    body.appendChild(wrap);
    body.appendChild(el("h3", null, "Strengths and weaknesses (observed values only)"));
    var cards = el("div", {class: "cards", id: "compare-cards"});
    units.forEach(function (u, i) {
      var card = el("div", {class: "card", style: "border-top-color:" + COLORS[i % COLORS.length], "data-unit": IDX.units.code[u]});
      card.appendChild(el("b", null, IDX.units.name[u]));
      [["strengths", "Strengths"], ["weaknesses", "Weaknesses"]].forEach(function (p) {
        card.appendChild(el("div", {class: "muted"}, p[1]));
        var ul = el("ul", {class: p[0]});
        var list = IDX[p[0]] ? IDX[p[0]][u] : [];
        if (!list || !list.length) ul.appendChild(el("li", {class: "muted"}, "none (too few observed indicators)"));
        (list || []).forEach(function (c) {
          var ind = IDX.indicators[c];
          ul.appendChild(el("li", null, nodeName(c) + (ind ? " — rank " + rk(ind.rank[u]) + " of " + ind.of : "")));
        });
        card.appendChild(ul);
      });
      cards.appendChild(card);
    });
    body.appendChild(cards);
    if (IDX.history) {
      body.appendChild(el("h3", null, "History: rank over the years"));
      body.appendChild(historyChart(IDX.root, units, "rank"));
    }
  }

  // ------------------------------------------------------------------ drill-down
  function openDrill(code) {
    state.u = code;
    state.o = [];
    renderDrill();
    pushState();
    $("drill").scrollIntoView({block: "start"});
  }
  function children(code) { return IDX.nodes.filter(function (n) { return n.parent === code; }); }
  function renderDrill() {
    var sec = $("drill"), body = $("drill-body");
    clear(body);
    if (state.u === null || POS[state.u] === undefined) { sec.hidden = true; return; }
    sec.hidden = false;
    var u = POS[state.u];
    $("drill-title").textContent = IDX.units.name[u] + " (" + state.u + ")";
    var meta = [];
    groupNames().forEach(function (g) { var v = IDX.groups[g][u]; if (v !== null && v !== "") meta.push(g + ": " + v); });
    meta.push("indicators observed: " + pct(IDX.observed_share[u]));
    if (IDX.flags[u]) meta.push("flags: " + String(IDX.flags[u]).split(";").join(", "));
    $("drill-meta").textContent = meta.join(" · ");
    var close = el("button", {type: "button", id: "drill-close"}, "close");
    close.addEventListener("click", function () { state.u = null; state.o = []; renderDrill(); pushState(); });
    body.appendChild(close);
    var expandAll = el("button", {type: "button", id: "drill-expand"}, "expand all");
    expandAll.addEventListener("click", function () {
      state.o = IDX.nodes.filter(function (n) { return n.level > 1; }).map(function (n) { return n.code; });
      renderDrill(); pushState();
    });
    body.appendChild(document.createTextNode(" "));
    body.appendChild(expandAll);
    if (IDX.drivers && IDX.drivers[u] && IDX.drivers[u].length) {
      body.appendChild(el("p", {id: "drill-drivers"}, "What drives the rank band (total Sobol index of this unit's rank): " +
        IDX.drivers[u].map(function (d) { return d[0] + " " + fmt(d[1], 2); }).join(", ") + "."));
    }
    var tbl = el("table", {class: "tree", id: "drill-tree"});
    var hr = el("tr");
    ["level", "score / value", "rank", IDX.band ? IDX.band.label + " band" : "band", "normalised", "note"].forEach(function (h, i) {
      hr.appendChild(el("th", null, i === 0 ? "" : h));
    });
    hr.firstChild.textContent = "node";
    var thead = el("thead"); thead.appendChild(hr); tbl.appendChild(thead);
    var tb = el("tbody");
    function addRow(n, depth) {
      var tr = el("tr", {class: "lvl" + n.level, "data-node": n.code});
      var td = el("td", {class: "node", style: "padding-left:" + (0.4 + 1.3 * depth) + "em"});
      var kids = children(n.code);
      var open = n.code === IDX.root || state.o.indexOf(n.code) >= 0;
      if (kids.length && n.code !== IDX.root) {
        var t = el("button", {type: "button", class: "toggle", "aria-expanded": String(open), "aria-label": (open ? "collapse " : "expand ") + (n.name || n.code)}, open ? "▾" : "▸");
        t.addEventListener("click", function () {
          var k = state.o.indexOf(n.code);
          if (k >= 0) state.o.splice(k, 1); else state.o.push(n.code);
          renderDrill(); pushState();
        });
        td.appendChild(t);
      } else {
        td.appendChild(el("span", {class: "toggle", style: "display:inline-block;width:1.6em"}));
      }
      td.appendChild(document.createTextNode((n.name || n.code) + " "));
      td.appendChild(el("span", {class: "muted"}, "(" + n.code + ")"));
      tr.appendChild(td);
      if (n.empty) {
        tr.appendChild(el("td", {class: "muted", colspan: "5"}, "no open indicator (skipped)"));
      } else if (n.level > 1) {
        var b = IDX.scores[n.code];
        tr.appendChild(el("td", {class: "num"}, b ? fmt(b.score[u]) : "–"));
        tr.appendChild(el("td", {class: "num"}, b ? rk(b.rank[u]) : "–"));
        var bt = el("td");
        if (b && b.q5) { bt.appendChild(document.createTextNode(rk(b.q5[u]) + "–" + rk(b.q95[u]) + " ")); bt.appendChild(bandSvg(b.q5[u], b.q95[u], b.rank[u], 90, 10)); }
        tr.appendChild(bt);
        tr.appendChild(el("td"));
        tr.appendChild(el("td", {class: "muted"}, "weight " + fmt(n.weight, 3) + " in parent"));
      } else {
        var ind = IDX.indicators[n.code];
        if (ind && ind.observed[u]) {
          tr.appendChild(el("td", {class: "num raw"}, fmt(ind.raw[u]) + (n.unit ? " " + n.unit : "")));
          tr.appendChild(el("td", {class: "num"}, rk(ind.rank[u]) + " / " + ind.of));
          tr.appendChild(el("td"));
          tr.appendChild(el("td", {class: "num"}, fmt(ind.norm[u])));
          tr.appendChild(el("td", {class: "muted"}, "observed"));
        } else if (ind) {
          tr.appendChild(el("td", {class: "num imputed", title: "missing in the data; imputed value"}, fmt(ind.imputed[u]) + (n.unit ? " " + n.unit : "")));
          tr.appendChild(el("td", {class: "num muted"}, "–"));
          tr.appendChild(el("td"));
          tr.appendChild(el("td", {class: "num imputed"}, fmt(ind.norm[u])));
          tr.appendChild(el("td", {class: "imputed"}, "imputed (missing in the data)"));
        } else {
          tr.appendChild(el("td", {colspan: "5"}));
        }
      }
      tb.appendChild(tr);
      if (open) kids.forEach(function (k) { addRow(k, depth + 1); });
    }
    addRow(NODE[IDX.root], 0);
    tbl.appendChild(tb);
    var wrap = el("div", {class: "table-wrap"}); wrap.appendChild(tbl);
    body.appendChild(wrap);
    if (IDX.history) {
      body.appendChild(el("h3", null, "History"));
      var hw = el("div", {id: "drill-history"});
      hw.appendChild(historyChart(IDX.root, [u], "rank"));
      hw.appendChild(historyChart(IDX.root, [u], "score"));
      body.appendChild(hw);
    }
  }

  // ------------------------------------------------------------------ history (multi-year data)
  function historyChart(node, units, what) {
    var H = IDX.history, block = H.nodes[node];
    var w = 420, h = 190, L = 40, R = 24, T = 18, B = 26;
    var s = svg("svg", {width: w, height: h, class: "chart history-" + what, role: "img"});
    var title = svg("text", {x: L, y: 12}); title.textContent = nodeName(node) + ": " + what + (what === "rank" && block.q5 ? " with " + (IDX.band ? IDX.band.label : "") + " band" : "");
    s.appendChild(title);
    if (!block) return s;
    var years = H.years, ny = years.length;
    var x = function (i) { return L + (w - L - R) * (ny > 1 ? i / (ny - 1) : 0.5); };
    var lo = Infinity, hi = -Infinity;
    units.forEach(function (u) {
      for (var i = 0; i < ny; i++) {
        [block[what][i][u], what === "rank" && block.q5 ? block.q5[i][u] : null, what === "rank" && block.q95 ? block.q95[i][u] : null].forEach(function (v) {
          if (isNum(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
        });
      }
    });
    if (!isFinite(lo)) return s;
    if (hi === lo) { hi = lo + 1; }
    var y = function (v) { // rank: 1 at the top
      var f = (v - lo) / (hi - lo);
      return what === "rank" ? T + (h - T - B) * f : T + (h - T - B) * (1 - f);
    };
    [lo, hi].forEach(function (v) {
      var t = svg("text", {x: L - 4, y: y(v) + 3, "text-anchor": "end"}); t.textContent = what === "rank" ? rk(v) : fmt(v); s.appendChild(t);
    });
    years.forEach(function (yr, i) {
      var t = svg("text", {x: x(i), y: h - 8, "text-anchor": "middle"}); t.textContent = String(yr); s.appendChild(t);
    });
    units.forEach(function (u, k) {
      var c = COLORS[k % COLORS.length];
      if (what === "rank" && block.q5) {
        var up = [], dn = [];
        for (var i = 0; i < ny; i++) {
          if (isNum(block.q5[i][u]) && isNum(block.q95[i][u])) { up.push(x(i) + "," + y(block.q5[i][u])); dn.unshift(x(i) + "," + y(block.q95[i][u])); }
        }
        if (up.length) s.appendChild(svg("polygon", {points: up.concat(dn).join(" "), fill: c, "fill-opacity": 0.15, stroke: "none", class: "band"}));
      }
      var pts = [];
      for (var j = 0; j < ny; j++) if (isNum(block[what][j][u])) pts.push(x(j) + "," + y(block[what][j][u]));
      if (pts.length) s.appendChild(svg("polyline", {points: pts.join(" "), fill: "none", stroke: c, "stroke-width": 2}));
      for (var m = 0; m < ny; m++) {
        var v = block[what][m][u];
        if (!isNum(v)) continue;
        var d = svg("circle", {cx: x(m), cy: y(v), r: 3, fill: c, class: "pt"});
        var tt = svg("title", {}); tt.textContent = IDX.units.name[u] + " " + years[m] + ": " + what + " " + (what === "rank" ? rk(v) : fmt(v)) +
          (what === "rank" && block.q5 && isNum(block.q5[m][u]) ? " (band " + rk(block.q5[m][u]) + "–" + rk(block.q95[m][u]) + ")" : "");
        d.appendChild(tt);
        s.appendChild(d);
      }
    });
    return s;
  }

  // ------------------------------------------------------------------ wiring
  function renderAll() {
    renderTabs();
    renderHeader();
    renderControls();
    renderBody();
    renderCompare();
    renderDrill();
  }
  $("search").addEventListener("input", function () { state.q = $("search").value; state.p = 0; renderBody(); });
  $("add-filter").addEventListener("click", function () {
    var first = subAggregates()[0] || NODE[IDX.root];
    state.f.push({node: first.code, m: "score", op: "ge", v: ""});
    renderFilters();
  });
  $("reset").addEventListener("click", function () { var i = state.i; state = defaults(); state.i = i; useIndex(i); renderAll(); });
  $("prev").addEventListener("click", function () { if (state.p > 0) { state.p--; renderBody(); } });
  $("next").addEventListener("click", function () { state.p++; renderBody(); });
  $("page-size").addEventListener("change", function () { state.n = parseInt($("page-size").value, 10); state.p = 0; renderBody(); });
  window.addEventListener("hashchange", function () {
    if (location.hash.replace(/^#/, "") === encode()) return;
    state = decode(location.hash);
    renderAll();
  });

  state = decode(location.hash);
  renderAll();
  var T_RENDER = performance.now();
  window.cityindexExplorer = {
    timings: {parse_ms: T_PARSE - T0, first_render_ms: T_RENDER - T0,
              since_navigation_ms: T_RENDER},
    state: function () { return JSON.parse(JSON.stringify(state)); },
    visible: function () { return lastView.length; }
  };
})();
