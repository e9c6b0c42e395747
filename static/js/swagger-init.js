// Swagger UI from vendored files; same-origin calls send the session cookie, and the CSRF
// header lets "Try it out" make changes with it.
window.addEventListener("load", () => {
  const root = document.getElementById("swagger-ui");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    requestInterceptor: (request) => { request.headers["X-CSRFToken"] = csrf; return request; },
  });
});
