// Small page glue. No inline scripts: the Content-Security-Policy forbids them.

// success and info messages fade after a while (errors stay until the page changes)
setTimeout(() => {
  document.querySelectorAll("#flashes .flash-success, #flashes .flash-info").forEach((flash) => {
    flash.classList.add("fade");
    setTimeout(() => flash.remove(), 700);
  });
}, 6000);
document.addEventListener("htmx:beforeSwap", (event) => {
  // portal.errors.htmx_error: an error answered with its message as an out-of-band flash and
  // HX-Reswap: none; let htmx take the flash (it swaps no error by itself) and leave the target
  const xhr = event.detail.xhr;
  if (xhr.status >= 400 && xhr.getResponseHeader("HX-Reswap") === "none") {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
document.addEventListener("htmx:responseError", (event) => {
  // show the server's message instead of failing silently
  const flashes = document.getElementById("flashes");
  if (!flashes) return;
  let message = event.detail.xhr.statusText || document.body.dataset.requestFailed;
  try { message = JSON.parse(event.detail.xhr.responseText).detail || message; } catch (_) { /* HTML error page */ }
  const div = document.createElement("div");
  div.className = "flash flash-error";
  div.setAttribute("role", "alert");
  div.textContent = `${event.detail.xhr.status}: ${message}`;
  flashes.replaceChildren(div);
});

// Phone nav: the menu button (hidden without this script, so the nav then stays open) folds it.
const navToggle = document.querySelector(".navtoggle");
if (navToggle) {
  navToggle.hidden = false;
  document.documentElement.classList.add("nav-folds");
  navToggle.addEventListener("click", () => {
    const open = navToggle.getAttribute("aria-expanded") !== "true";
    navToggle.setAttribute("aria-expanded", String(open));
    document.getElementById(navToggle.getAttribute("aria-controls")).classList.toggle("open", open);
  });
}

// Disclosure menus (<details class="dropdown">, inline confirms) close with Escape, giving the
// focus back to their button, and when the focus leaves them.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  const open = event.target.closest && event.target.closest("details[open]");
  if (!open) return;
  open.open = false;
  open.querySelector("summary").focus();
});
document.addEventListener("focusout", (event) => {
  const menu = event.target.closest && event.target.closest("details.dropdown[open]");
  if (menu && event.relatedTarget && !menu.contains(event.relatedTarget)) menu.open = false;
});
