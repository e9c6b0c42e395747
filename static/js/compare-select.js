// The runs tables' compare checkboxes: the choice survives the table's live re-render, and the
// form sends it as ids=1,2,3 so the comparison's URL is short and can be shared.
(() => {
  const form = document.getElementById("compare-form");
  if (!form) return;
  const chosen = new Set();
  const count = document.getElementById("compare-count");
  const show = () => { count.textContent = chosen.size ? `${chosen.size} ✓` : ""; };

  document.addEventListener("change", (event) => {
    const box = event.target;
    if (!box.classList || !box.classList.contains("select-run")) return;
    box.checked ? chosen.add(box.value) : chosen.delete(box.value);
    show();
  });
  document.addEventListener("htmx:afterSwap", () => {
    document.querySelectorAll(".select-run").forEach((box) => { box.checked = chosen.has(box.value); });
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!chosen.size) return;
    window.location.href = `${form.action}?ids=${[...chosen].join(",")}`;
  });
})();
