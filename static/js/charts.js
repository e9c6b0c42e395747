// Chart helpers shared by the run page and the comparison: uPlot charts of metric series with
// hover values, EMA smoothing and a log scale, and the controls that drive them.
window.PortalCharts = (() => {
  const COLORS = ["#3853d8", "#e8590c", "#2f9e44", "#c2255c", "#7048e8", "#0c8599", "#f08c00", "#5c940d",
                  "#862e9c", "#1971c2", "#d6336c", "#495057"];
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
        label: l.label, stroke: l.color || COLORS[i % COLORS.length], width: 1.5, spanGaps: true,
        value: (u, v) => fmt(v),
      }))],
      axes: [{ label: xLabel }, { size: 64, values: (u, vals) => vals.map(fmt) }],
      legend: { live: true },
    };
    box.replaceChildren();
    const plot = new uPlot(opts, data, box);
    box.dataset.lines = String(lines.length);
    box.dataset.points = String(data[0].length);
    return plot;
  }

  // the smoothing slider, log switch and x-axis choice inside `root`; `changed` runs on each change
  function controls(root, changed) {
    const slider = root.querySelector(".smoothing");
    const shown = root.querySelector(".smoothing-value");
    const log = root.querySelector(".log-scale");
    const xAxis = root.querySelector(".x-axis");
    const labels = JSON.parse((root.querySelector(".group-labels") || { textContent: "{}" }).textContent);
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

  return { COLORS, draw, controls, ema, fmt, resizeAll };
})();
