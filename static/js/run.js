// The run page's live parts that htmx does not cover: the loss chart (uPlot) and the output
// tail, which reads the raw log by byte offset so nothing is fetched twice.
(() => {
  const POLL_MS = 2000;

  function isActive() {
    const status = document.getElementById("run-status");
    return status && status.dataset.active === "true";
  }

  // ---- output tail ------------------------------------------------------------------------
  const out = document.getElementById("output");
  if (out) {
    let next = 0, first = 0, loadingEarlier = false;
    const follow = document.getElementById("follow");
    const url = out.dataset.url;

    // A tqdm bar redraws itself with \r: show only its latest state, as a terminal would.
    // The unfinished last line lives in its own node, so a redraw in the next page replaces it.
    const collapse = (text) => text.replace(/[^\n]*\r(?!\n)/g, "");
    const drawn = (line) => { const s = line.replace(/\r+$/, ""); return s.slice(s.lastIndexOf("\r") + 1); };
    let pending = "";
    const tail = document.createTextNode("");
    out.append(tail);
    const append = (text) => {
      const combined = pending + text;
      const cut = combined.lastIndexOf("\n") + 1;
      if (cut) out.insertBefore(document.createTextNode(collapse(combined.slice(0, cut))), tail);
      pending = combined.slice(cut);
      tail.data = drawn(pending);
      if (follow.checked) out.scrollTop = out.scrollHeight;
    };

    async function poll() {
      try {
        const query = next === 0 ? "tail=400" : `offset=${next}`;
        const page = await (await fetch(`${url}?${query}`, { credentials: "same-origin" })).json();
        if (next === 0) first = page.offset;
        if (page.data) append(page.data);
        next = page.next_offset;
        if (page.next_offset < page.size) return setTimeout(poll, 0); // more is waiting
        if (!page.complete || isActive()) setTimeout(poll, POLL_MS);
      } catch (_) {
        setTimeout(poll, POLL_MS * 2);
      }
    }

    // scrolled to the top: load the page before what is shown
    out.addEventListener("scroll", async () => {
      if (out.scrollTop > 20 || first === 0 || loadingEarlier) return;
      loadingEarlier = true;
      const start = Math.max(0, first - 65536);
      const page = await (await fetch(`${url}?offset=${start}&limit=${first - start}`)).json();
      const height = out.scrollHeight;
      out.prepend(document.createTextNode(collapse(page.data)));
      out.scrollTop = out.scrollHeight - height;
      first = start;
      loadingEarlier = false;
    });
    follow.addEventListener("change", () => { if (follow.checked) out.scrollTop = out.scrollHeight; });
    poll();
  }

  // ---- chart ------------------------------------------------------------------------------
  const box = document.getElementById("chart");
  if (!box || typeof uPlot === "undefined") return;
  const KEYS = [["loss", "#3853d8", "y"], ["eval_loss", "#e8590c", "y"], ["learning_rate", "#2f9e44", "lr"]];
  let plot = null, shown = "";

  function build(series) {
    const steps = [...new Set(KEYS.flatMap(([k]) => (series[k] || { steps: [] }).steps))].sort((a, b) => a - b);
    const data = [steps];
    const present = KEYS.filter(([k]) => series[k] && series[k].steps.length);
    for (const [key] of present) {
      const byStep = new Map(series[key].steps.map((s, i) => [s, series[key].values[i]]));
      data.push(steps.map((s) => (byStep.has(s) ? byStep.get(s) : null)));
    }
    return { data, present };
  }

  async function refresh() {
    try {
      const body = await (await fetch(`${box.dataset.url}?keys=loss,eval_loss,learning_rate&max_points=2000`)).json();
      const { data, present } = build(body.series);
      if (data[0].length) {
        const names = present.map(([k]) => k).join(",");
        if (!plot || names !== shown) {
          box.replaceChildren();
          plot = new uPlot({
            width: box.clientWidth || 600, height: 280,
            scales: { x: { time: false } },
            series: [{ label: "step" }, ...present.map(([k, color, scale]) => ({
              label: k, stroke: color, width: 2, scale, spanGaps: true,
            }))],
            legend: { live: false },
            axes: [{}, { scale: "y", label: "loss" }, ...(present.some(([, , s]) => s === "lr")
              ? [{ scale: "lr", side: 1, size: 64, grid: { show: false },
                   values: (u, v) => v.map((x) => (x === 0 ? "0" : x.toExponential(1))) }] : [])],
          }, data, box);
          shown = names;
          box.dataset.points = data[0].length;
        } else {
          plot.setData(data);
          box.dataset.points = data[0].length;
        }
      }
    } catch (_) { /* next poll retries */ }
    if (isActive()) setTimeout(refresh, POLL_MS * 1.5);
  }
  window.addEventListener("resize", () => plot && plot.setSize({ width: box.clientWidth, height: 280 }));
  refresh();
})();
