// The config editor: line numbers beside the YAML textarea, and the lines of the live check's
// problems marked in them. The textarea stays the form's field (htmx sends it, screen readers
// and the browser's own editing keep working); the gutter is a picture of its lines.
(() => {
  const box = document.querySelector(".code-editor");
  if (!box) return;
  const area = box.querySelector("textarea");
  const gutter = box.querySelector(".gutter");
  let marked = new Set();

  function draw() {
    const lines = area.value.split("\n").length;
    const numbers = document.createDocumentFragment();
    for (let n = 1; n <= lines; n += 1) {
      const line = document.createElement("span");
      line.textContent = n;
      if (marked.has(n)) line.className = "mark";
      numbers.append(line);
    }
    gutter.replaceChildren(numbers);
    gutter.scrollTop = area.scrollTop;
  }

  // templates/configs/_check.html says where its problems are; no problems, no red state
  function takeCheck() {
    const check = document.getElementById("config-check");
    if (!check) return;
    const lines = JSON.parse(check.dataset.lines || "[]");
    marked = new Set(lines);
    if (check.dataset.invalid === "true") area.setAttribute("aria-invalid", "true");
    else area.removeAttribute("aria-invalid");
    draw();
  }

  area.addEventListener("input", draw);
  area.addEventListener("scroll", () => { gutter.scrollTop = area.scrollTop; });
  document.addEventListener("htmx:afterSettle", takeCheck);
  takeCheck();
})();
