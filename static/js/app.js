// Small page glue. No inline scripts: the Content-Security-Policy forbids them.
document.addEventListener("htmx:responseError", (event) => {
  // show the server's message instead of failing silently
  const flashes = document.getElementById("flashes");
  if (!flashes) return;
  let message = event.detail.xhr.statusText || "Request failed";
  try { message = JSON.parse(event.detail.xhr.responseText).detail || message; } catch (_) { /* HTML error page */ }
  const div = document.createElement("div");
  div.className = "flash flash-error";
  div.setAttribute("role", "alert");
  div.textContent = `${event.detail.xhr.status}: ${message}`;
  flashes.replaceChildren(div);
});
