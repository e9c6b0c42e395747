// The run page's live parts that htmx does not cover: the metric charts (uPlot) and the output
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

  // ---- charts: every recorded key, one chart per group (loss, eval, learning rate…) -------------
  const box = document.getElementById("chart");
  if (!box || typeof uPlot === "undefined") return;
  const picker = document.getElementById("metric-keys");
  const panel = document.getElementById("run-chart");
  const charts = new Map(); // group -> {plot, box}
  let groups = JSON.parse(box.dataset.groups || "{}"), chosen = null, last = null;

  // shown at first: the losses, the learning rate and how busy the GPUs are
  const byDefault = (group, key) => group === "loss" || group === "learning_rate"
    || (group === "eval" && key.includes("loss")) || (group === "system" && key.endsWith(".util"));

  function renderPicker() {
    if (chosen === null) {
      chosen = new Set(Object.entries(groups).flatMap(([g, keys]) => keys.filter((k) => byDefault(g, k))));
    }
    picker.replaceChildren(...Object.entries(groups).map(([group, keys]) => {
      const set = document.createElement("fieldset");
      const legend = document.createElement("legend");
      legend.textContent = ui.label(group);
      set.append(legend, ...keys.map((key) => {
        const label = document.createElement("label");
        const tick = document.createElement("input");
        tick.type = "checkbox"; tick.value = key; tick.checked = chosen.has(key);
        tick.addEventListener("change", () => { tick.checked ? chosen.add(key) : chosen.delete(key); refresh(false); });
        label.append(tick, " ", key);
        return label;
      }));
      return set;
    }));
  }

  function drawAll(series) {
    const wanted = Object.entries(groups).map(([g, keys]) => [g, keys.filter((k) => chosen.has(k) && series[k])])
      .filter(([, keys]) => keys.length);
    for (const [group, entry] of charts) {
      if (!wanted.some(([g]) => g === group)) { entry.box.remove(); charts.delete(group); }
    }
    if (wanted.length) box.querySelector(".chart-empty")?.remove();
    for (const [group, keys] of wanted) {
      let entry = charts.get(group);
      if (!entry) {
        entry = { box: document.createElement("div") };
        entry.box.className = "chart"; entry.box.dataset.group = group;
        box.append(entry.box);
        charts.set(group, entry);
      }
      entry.plot = PortalCharts.draw(entry.box, {
        title: ui.label(group), xLabel: "step", smoothing: ui.smoothing(), log: ui.log(),
        lines: keys.map((k) => ({ label: k, x: series[k].steps, y: series[k].values })),
      });
    }
  }

  async function fetchSeries() {
    const keys = [...chosen].join(",");
    return (await fetch(`${box.dataset.url}?keys=${encodeURIComponent(keys)}&max_points=2000`)).json();
  }

  async function refresh(poll = true) {
    try {
      // asked even with no key chosen: a run that had no metrics at page load learns its keys here
      let body = await fetchSeries();
      if (JSON.stringify(body.groups) !== JSON.stringify(groups)) {
        const known = new Set(Object.values(groups).flat());
        const added = Object.entries(body.groups).flatMap(([g, keys]) => keys.filter((k) => !known.has(k) && byDefault(g, k)));
        groups = body.groups;
        added.forEach((k) => chosen.add(k));
        renderPicker();
        if (added.length) body = await fetchSeries();
      }
      last = body.series;
      drawAll(last);
    } catch (_) { /* the next poll retries */ }
    if (poll && isActive()) setTimeout(refresh, POLL_MS * 1.5);
  }

  const ui = PortalCharts.controls(panel, () => last && drawAll(last));
  renderPicker();
  PortalCharts.resizeAll(() => [...charts.values()].map((c) => c.plot));
  refresh();
})();
