// The comparison page: one chart per metric key with one line per run (x by step or by time
// since each run started), and parallel coordinates of the config values that differ and the
// final metrics. The data is GET /v1/runs/compare, fetched once (downsampled by the server).
(() => {
  const box = document.getElementById("compare-charts");
  if (!box || typeof uPlot === "undefined") return;
  const panel = document.getElementById("compare-charts-panel");
  const plots = [];
  let body = null;

  function drawCharts() {
    plots.forEach((plot) => plot.destroy());
    plots.length = 0;
    box.replaceChildren();
    const byTime = ui.x() === "time";
    for (const [group, keys] of Object.entries(body.groups)) {
      for (const key of keys) {
        const lines = body.runs.map((run, i) => {
          const points = body.series[run.id][key] || [];
          const times = body.times[run.id][key] || [];
          return { label: run.name, color: PortalCharts.color(i), y: points.map((p) => p[1]),
                   x: byTime ? times : points.map((p) => p[0]) };
        }).filter((line) => line.x.length);
        if (!lines.length) continue;
        const chart = document.createElement("div");
        chart.className = "chart"; chart.dataset.key = key; chart.dataset.group = group;
        box.append(chart);
        plots.push(PortalCharts.draw(chart, { title: key, xLabel: byTime ? "s" : "step", lines,
                                              smoothing: ui.smoothing(), log: ui.log() }));
      }
    }
  }

  // ---- parallel coordinates: an axis per differing numeric config value and per final metric ----
  const SVG = "http://www.w3.org/2000/svg";
  const el = (name, attrs, text) => {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  };

  function axes() {
    const found = [];
    for (const diff of body.config_diff) {
      const values = body.runs.map((r) => diff.values[r.id]);
      if (values.every((v) => v == null || typeof v === "number" || typeof v === "boolean")) {
        found.push({ label: diff.key, values: values.map((v) => (v == null ? null : Number(v))) });
      } else if (values.every((v) => v == null || typeof v === "string")) {
        const words = [...new Set(values.filter((v) => v != null))].sort();
        found.push({ label: diff.key, values: values.map((v) => (v == null ? null : words.indexOf(v))), words });
      }
    }
    const final = document.getElementById("parallel").dataset.final || "final {key}";
    for (const key of body.keys) {
      found.push({ label: final.replace("{key}", key), values: body.runs.map((r) => (key in r.final ? r.final[key] : null)) });
    }
    return found.slice(0, 16);
  }

  function drawParallel() {
    const host = document.getElementById("parallel");
    if (!host) return;
    const list = axes();
    if (list.length < 2) return;
    const width = Math.max(host.clientWidth, 120 * list.length), height = 300, top = 30, bottom = 30;
    const gap = (width - 80) / (list.length - 1);
    const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" });
    const ys = list.map((axis) => {
      const known = axis.values.filter((v) => v != null);
      const low = Math.min(...known), high = Math.max(...known);
      return (v) => (v == null ? null : top + (height - top - bottom) * (high === low ? 0.5 : 1 - (v - low) / (high - low)));
    });
    body.runs.forEach((run, r) => {
      const points = list.map((axis, a) => [40 + a * gap, ys[a](axis.values[r])]).filter((p) => p[1] != null);
      const line = el("polyline", { points: points.map((p) => p.join(",")).join(" "), fill: "none",
                                    stroke: PortalCharts.color(r), "stroke-width": 2, opacity: 0.8 });
      line.append(el("title", {}, run.name));
      svg.append(line);
    });
    list.forEach((axis, a) => {
      const x = 40 + a * gap;
      const known = axis.values.filter((v) => v != null);
      svg.append(el("line", { x1: x, x2: x, y1: top, y2: height - bottom, stroke: "#6b7280" }));
      svg.append(el("text", { x, y: top - 10, "text-anchor": "middle", class: "axis-label" }, axis.label));
      const label = (v) => (axis.words ? axis.words[v] : PortalCharts.fmt(v));
      svg.append(el("text", { x: x + 4, y: top + 4 }, label(Math.max(...known))));
      svg.append(el("text", { x: x + 4, y: height - bottom + 14 }, label(Math.min(...known))));
    });
    host.replaceChildren(svg);
    host.dataset.axes = String(list.length);
  }

  const ui = PortalCharts.controls(panel, () => body && drawCharts());
  PortalCharts.resizeAll(() => plots);
  fetch(box.dataset.url, { credentials: "same-origin" }).then((r) => r.json()).then((data) => {
    body = data;
    drawCharts();
    drawParallel();
  });
})();
