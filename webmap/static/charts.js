/*
 * citymap's charts: fixed code that draws the chart specs a page carries as JSON, with Apache ECharts
 * (served by the app: /vendor/echarts/echarts.common.min.js). A page holds, for each chart,
 *   <div class="chart" data-chart="ID"></div>  and  <script type="application/json" id="ID">{spec}</script>
 * (a data block: never run). Nothing in a spec becomes HTML or a script: names reach the page as text
 * (ECharts draws on a canvas; the tooltips are DOM nodes filled with textContent), and a bar links only
 * to a path of this app.
 *
 * Spec: {kind: "bar" | "hbar" | "line" | "stack", title, categories: [..], series: [{name, values, color,
 *        kind, axis}], unit, unit2 (of axis 1), max, height (px), links: [path per category], empty (text when
 *        there is nothing)}
 */
(function () {
  "use strict";

  var SAFE_PATH = /^\/(?![\/\\])[A-Za-z0-9._~\/-]*(\?[A-Za-z0-9._~=&%+,:-]*)?(#[A-Za-z0-9_-]*)?$/;
  var drawn = [];

  function text(value) {
    return value === null || value === undefined ? "" : String(value);
  }

  function number(value, unit) {
    if (value === null || value === undefined || value === "") return "—";
    var shown = typeof value === "number" && (unit === "%" || !Number.isInteger(value)) ? value.toFixed(1) : String(value);
    return shown + (unit ? " " + unit : "");
  }

  function tooltipNode(params, spec) {
    var rows = Array.isArray(params) ? params : [params];
    var box = document.createElement("div");
    var head = document.createElement("b");
    head.textContent = text(rows.length ? rows[0].name : "");
    box.appendChild(head);
    rows.forEach(function (row) {
      var line = document.createElement("div");
      var swatch = document.createElement("span");
      swatch.className = "chart-swatch";
      swatch.style.background = text(row.color);
      line.appendChild(swatch);
      line.appendChild(document.createTextNode(text(row.seriesName) + "：" + number(row.value, spec.unit)));
      box.appendChild(line);
    });
    return box;
  }

  // how many lines the title takes in a box of this width (it wraps instead of running off a phone's screen)
  var measure = document.createElement("canvas").getContext("2d");
  function titleLines(title, width) {
    if (!title) return 0;
    measure.font = "bold 14px sans-serif";
    // CJK glyphs of the page's font run wider than the canvas's default: a fifth more, to be safe
    return Math.max(1, Math.ceil(1.2 * measure.measureText(title).width / Math.max(width - 8, 80)));
  }

  function option(spec, width) {
    var horizontal = spec.kind === "hbar";
    var lines = titleLines(text(spec.title), width);
    // a ranking's names take at most two fifths of the box (long ones are cut; the tooltip has them whole)
    var categoryAxis = {type: "category", data: spec.categories || [], inverse: horizontal,
                        axisLabel: horizontal ? {width: Math.round(0.4 * width), overflow: "truncate"}
                                              : {hideOverlap: true}};
    var valueAxis = {type: "value", max: spec.max === undefined ? null : spec.max,
                     name: text(spec.unit), nameTextStyle: {align: horizontal ? "left" : "right"}};
    var series = (spec.series || []).map(function (s) {
      var kind = s.kind || (spec.kind === "line" ? "line" : "bar");
      var out = {name: text(s.name), type: kind, data: s.values || [], itemStyle: {color: s.color || null},
                 emphasis: {focus: "series"}, yAxisIndex: s.axis === 1 && !horizontal ? 1 : 0};
      if (kind === "line") { out.showSymbol = (s.values || []).length < 40; out.lineStyle = {width: 2}; }
      if (spec.kind === "stack") out.stack = "all";
      if (horizontal) out.label = {show: true, position: "right", formatter: function (p) {
        return number(p.value, spec.unit === "%" ? "%" : "");
      }};
      return out;
    });
    return {
      animation: false,
      title: spec.title ? {text: text(spec.title), left: 0,
                           textStyle: {fontSize: 14, lineHeight: 18, width: Math.max(width - 8, 80), overflow: "break"}}
                        : undefined,
      // the legend at the foot: a title that wraps on a phone never runs into it
      legend: series.length > 1 ? {bottom: 0, left: 0} : undefined,
      grid: {left: horizontal ? 8 : 36, right: horizontal ? 48 : 16, top: lines * 20 + 36,
             bottom: series.length > 1 ? 30 : 8, containLabel: true},
      tooltip: {trigger: "axis", axisPointer: {type: horizontal ? "shadow" : "line"}, renderMode: "html",
                formatter: function (params) { return tooltipNode(params, spec); }},
      xAxis: horizontal ? valueAxis : categoryAxis,
      // a series on axis 1 (another unit, e.g. a z-score beside counts) gets its own axis on the right
      yAxis: horizontal ? categoryAxis : ((spec.series || []).some(function (s) { return s.axis === 1; })
        ? [valueAxis, {type: "value", name: text(spec.unit2), splitLine: {show: false}}] : valueAxis),
      series: series,
    };
  }

  function emptyNote(node, message) {
    var note = document.createElement("p");
    note.className = "chart-empty";
    note.textContent = text(message);
    node.appendChild(note);
  }

  function draw(node) {
    var source = document.getElementById(node.getAttribute("data-chart"));
    if (!source) return;
    var spec = JSON.parse(source.textContent);
    var empty = !(spec.categories || []).length || !(spec.series || []).length;
    if (empty) {
      emptyNote(node, spec.empty || "—");
      node.setAttribute("data-chart-drawn", "empty");
      return;
    }
    var width = node.clientWidth || 600;
    node.style.height = ((spec.height || 280) + 18 * Math.max(titleLines(text(spec.title), width) - 1, 0)) + "px";
    var chart = echarts.init(node, null, {renderer: "canvas", locale: document.documentElement.lang === "en" ? "EN" : "ZH"});
    chart.setOption(option(spec, width));
    var links = spec.links || [];
    chart.on("click", function (event) {
      var href = text(links[event.dataIndex]);
      if (SAFE_PATH.test(href)) window.location.assign(href);
    });
    if (links.length) node.style.cursor = "pointer";
    window.addEventListener("resize", function () { chart.resize(); });
    node.setAttribute("data-chart-drawn", "true");
    drawn.push({id: node.getAttribute("data-chart"), series: spec.series.length, points: spec.categories.length});
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-chart]"), function (node) {
      try { draw(node); } catch (err) {
        node.setAttribute("data-chart-drawn", "error");
        emptyNote(node, err.message);
      }
    });
    document.body.setAttribute("data-charts-drawn", String(drawn.length));
  }

  window.citymapCharts = {drawn: drawn};
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
