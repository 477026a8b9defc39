// Metric charts: each <figure data-chart="ID"> is drawn from the JSON in <script id="ID">
// (json_script) with the vendored uPlot (static/vendor/uplot/README.md says why uPlot).
// Axes with labels, the values under the cursor in the legend, drag to zoom on a window,
// double-click to zoom out. Without this script the server's SVG line stays.
(function () {
  var COLORS = ["#1e6fd9", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#0b7285", "#c2255c", "#5c940d"];

  function number(v) {
    if (v == null) return "—";
    var a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : String(+v.toPrecision(6));
  }

  function utc(seconds) {
    return new Date(seconds * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
  }

  function draw(figure) {
    if (figure.getAttribute("data-drawn") || typeof uPlot === "undefined") return;
    var source = document.getElementById(figure.getAttribute("data-chart"));
    var spec = source && JSON.parse(source.textContent);
    if (!spec) return;
    var series = [{ label: spec.x_label, value: function (u, v) { return v == null ? "—" : spec.x_time ? utc(v) : number(v); } }];
    spec.series.forEach(function (s, i) {
      series.push({
        label: s.label,
        stroke: COLORS[i % COLORS.length],
        width: 2,
        spanGaps: false,
        points: { show: true, size: 5 },
        value: function (u, v) { return number(v); },
      });
    });
    var holder = document.createElement("div");
    holder.className = "chart-canvas";
    figure.insertBefore(holder, figure.querySelector("figcaption"));
    var opts = {
      width: Math.max(280, figure.clientWidth),
      height: 260,
      // Times read in UTC, as everywhere else on these pages.
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },
      scales: { x: { time: !!spec.x_time } },
      axes: [
        // Steps are whole numbers: ticks never fall between two.
        spec.x_time
          ? { label: spec.x_label, stroke: "currentColor", grid: { stroke: "rgba(128,128,128,.2)" } }
          : { label: spec.x_label, stroke: "currentColor", grid: { stroke: "rgba(128,128,128,.2)" }, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 100000] },
        { label: spec.y_label, stroke: "currentColor", grid: { stroke: "rgba(128,128,128,.2)" }, size: 60, values: function (u, vals) { return vals.map(number); } },
      ],
      cursor: { drag: { x: true, y: false } },
      series: series,
      hooks: {
        // The window shown, for people reading the DOM (and the browser test).
        setScale: [function (u, key) {
          if (key === "x") figure.setAttribute("data-x-range", u.scales.x.min + "," + u.scales.x.max);
        }],
      },
    };
    var data = [spec.x].concat(spec.series.map(function (s) { return s.values; }));
    var chart = new uPlot(opts, data, holder);
    figure.setAttribute("data-drawn", "true");
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        chart.setSize({ width: Math.max(280, figure.clientWidth), height: 260 });
      }).observe(figure);
    }
  }

  function drawAll(root) {
    root.querySelectorAll("figure[data-chart]").forEach(draw);
  }
  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSwap", function (e) { drawAll(e.target); });
})();
