// Small page glue. No inline scripts: the Content-Security-Policy forbids them.

// success and info messages fade after a while (errors stay until the page changes)
setTimeout(() => {
  document.querySelectorAll("#flashes .flash-success, #flashes .flash-info").forEach((flash) => {
    flash.classList.add("fade");
    setTimeout(() => flash.remove(), 700);
  });
}, 6000);
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
