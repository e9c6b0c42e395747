// Chart helpers shared by the run page and the comparison: uPlot charts of metric series with
// hover values, EMA smoothing and a log scale, and the controls that drive them.
window.PortalCharts = (() => {
  // the portal's line colours (portal/runs/views.py), read from the page by `controls`
  let COLORS = ["#3853d8"];
  const HEIGHT = 240;

  const fmt = (v) => (v == null ? "—" : v === 0 ? "0" : Math.abs(v) >= 1e5 || Math.abs(v) < 1e-3
    ? v.toExponential(2) : String(+v.toPrecision(5)));

  // exponential moving average, as TensorBoard's smoothing slider: 0 leaves the values as they are
  function ema(values, alpha) {
    if (!alpha) return values;
    let last = null;
    return values.map((v) => {
      if (v == null) return null;
      last = last == null ? v : alpha * last + (1 - alpha) * v;
      return last;
    });
  }

  // uPlot draws on one x array: lines with their own x values are spread over the union of them
  function align(lines) {
    const xs = [...new Set(lines.flatMap((l) => l.x))].sort((a, b) => a - b);
    const at = new Map(xs.map((x, i) => [x, i]));
    const data = [xs];
    for (const line of lines) {
      const column = new Array(xs.length).fill(null);
      line.x.forEach((x, i) => { column[at.get(x)] = line.y[i]; });
      data.push(column);
    }
    return data;
  }

  // a log scale cannot show zero or below: those points are left out rather than breaking the axis
  const positive = (column) => column.map((v) => (v != null && v > 0 ? v : null));

  // one chart: `lines` are [{label, x, y, color}]; `box` is emptied and holds it
  function draw(box, { title, xLabel, lines, smoothing, log }) {
    const data = align(lines.map((l) => ({ x: l.x, y: ema(l.y, smoothing) })));
    if (log) for (let i = 1; i < data.length; i++) data[i] = positive(data[i]);
    const opts = {
      title, width: box.clientWidth || 600, height: HEIGHT,
      scales: { x: { time: false }, y: log ? { distr: 3 } : {} },
      series: [{ label: xLabel, value: (u, v) => fmt(v) }, ...lines.map((l, i) => ({
        label: l.label, stroke: l.color || color(i), width: 1.5, spanGaps: true,
        value: (u, v) => fmt(v),
      }))],
      axes: [{ label: xLabel }, { size: 64, values: (u, vals) => vals.map(fmt) }],
      legend: { live: true },
    };
    if (box.plot) box.plot.destroy(); // its window listeners go too: a live page redraws for hours
    box.replaceChildren();
    const plot = box.plot = new uPlot(opts, data, box);
    box.dataset.lines = String(lines.length);
    box.dataset.points = String(data[0].length);
    accessible(plot, box, title, lines);
    return plot;
  }

  // For the keyboard and screen readers: legend entries are toggle buttons (Enter or Space, as a
  // click), and a table below the chart says in words what each line shows. `words` are the
  // page's (data-words on the charts' box), in the reader's language.
  function accessible(plot, box, title, lines) {
    const rows = [...plot.root.querySelectorAll(".u-legend tr.u-series")];
    const first = rows.length - lines.length;  // the x value's row, when the legend has one
    rows.slice(first).forEach((row, i) => {
      const entry = row.querySelector("th");
      const sync = () => entry.setAttribute("aria-pressed", String(plot.series[i + 1].show));
      entry.tabIndex = 0;
      entry.setAttribute("role", "button");
      sync();
      entry.addEventListener("click", () => setTimeout(sync));
      entry.addEventListener("keydown", (event) => {
        if (event.key !== "Enter" && event.key !== " ") return;
        event.preventDefault();
        entry.click();
      });
    });
    const words = { table: "Values of the {chart} chart", key: "Metric", steps: "Steps", last: "Last", min: "Lowest",
                    max: "Highest", ...JSON.parse(document.querySelector("[data-words]")?.dataset.words || "{}") };
    const details = document.createElement("details");
    details.className = "chart-data";
    const summary = document.createElement("summary");
    summary.textContent = words.table.replace("{chart}", title || "");
    const table = document.createElement("table");
    const cell = (tag, text) => Object.assign(document.createElement(tag), { textContent: text });
    const head = document.createElement("tr");
    head.append(...["key", "steps", "last", "min", "max"].map((w) => cell("th", words[w])));
    table.append(head, ...lines.map((line) => {
      const values = line.y.filter((v) => v != null);
      const tr = document.createElement("tr");
      tr.append(cell("th", line.label), cell("td", line.x.length ? `${line.x[0]}–${line.x[line.x.length - 1]}` : "—"),
        cell("td", fmt(values[values.length - 1])), cell("td", values.length ? fmt(Math.min(...values)) : "—"),
        cell("td", values.length ? fmt(Math.max(...values)) : "—"));
      return tr;
    }));
    const wrap = Object.assign(document.createElement("div"), { className: "table-wrap" });
    wrap.append(table);
    details.append(summary, wrap);
    box.append(details);
  }

  // the smoothing slider, log switch and x-axis choice inside `root`; `changed` runs on each change
  function controls(root, changed) {
    const slider = root.querySelector(".smoothing");
    const shown = root.querySelector(".smoothing-value");
    const log = root.querySelector(".log-scale");
    const xAxis = root.querySelector(".x-axis");
    const labels = JSON.parse((root.querySelector(".group-labels") || { textContent: "{}" }).textContent);
    const colors = root.querySelector(".chart-colors");
    if (colors) COLORS = JSON.parse(colors.textContent);
    slider.addEventListener("input", () => { shown.textContent = slider.value; changed(); });
    log.addEventListener("change", changed);
    if (xAxis) xAxis.addEventListener("change", changed);
    return {
      smoothing: () => Number(slider.value), log: () => log.checked, x: () => (xAxis ? xAxis.value : "step"),
      label: (group) => labels[group] || group,
    };
  }

  function resizeAll(plots) {
    window.addEventListener("resize", () => {
      for (const plot of plots()) plot.setSize({ width: plot.root.parentElement.clientWidth, height: HEIGHT });
    });
  }

  const color = (i) => COLORS[i % COLORS.length];
  return { color, draw, controls, ema, fmt, resizeAll };
})();
