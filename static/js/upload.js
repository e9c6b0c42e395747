// Drag-and-drop upload on a dataset page: resumable chunks over XMLHttpRequest (for upload
// progress events), a progress bar with bytes and speed, Cancel, and retry after a break.
(() => {
  const zone = document.getElementById("dropzone");
  if (!zone) return;
  const input = document.getElementById("file-input");
  const list = document.getElementById("upload-list");
  const CHUNK = 32 * 1024 * 1024;
  const RETRIES = 8;
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;
  // the page's language: templates/datasets/show.html fills data-messages (portal.i18n.upload_messages)
  const messages = JSON.parse(zone.dataset.messages || "{}");
  const say = (key, values = {}) => (messages[key] || key).replace(/\{(\w+)\}/g, (_, name) => values[name] ?? "");

  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  function human(n) {
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
  }

  // `detail` is a sentence, or for a 422 pydantic's list of {loc, msg}
  function reason(detail) {
    if (Array.isArray(detail)) return detail.map((d) => (d && d.msg) || String(d)).join("; ");
    return typeof detail === "string" ? detail : "";
  }

  function request(method, url, { body = null, headers = {}, onProgress = null } = {}) {
    const xhr = new XMLHttpRequest();
    const done = new Promise((resolve, reject) => {
      xhr.open(method, url);
      xhr.setRequestHeader("X-CSRFToken", csrf());
      for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
      if (onProgress) xhr.upload.onprogress = (e) => onProgress(e.loaded);
      xhr.onload = () => {
        let json = null;
        try { json = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
        if (xhr.status >= 200 && xhr.status < 300) resolve(json);
        else reject(Object.assign(new Error(reason(json && json.detail) || xhr.statusText), { status: xhr.status }));
      };
      xhr.onerror = () => reject(Object.assign(new Error(say("network")), { status: 0 }));
      xhr.onabort = () => reject(Object.assign(new Error("cancelled"), { status: -1 }));
      xhr.send(body);
    });
    return { xhr, done };
  }

  function row(file) {
    const li = document.createElement("li");
    li.className = "upload";
    li.innerHTML = '<div class="upload-head"><strong></strong><button type="button" class="secondary outline small"></button></div>'
      + '<progress value="0" max="1"></progress><small class="upload-text"></small>';
    li.querySelector("strong").textContent = file.name;
    li.querySelector("button").textContent = say("cancel");
    list.prepend(li);
    return { li, bar: li.querySelector("progress"), text: li.querySelector(".upload-text"), cancel: li.querySelector("button") };
  }

  function refreshFiles() {
    if (window.htmx && document.getElementById("dataset-files")) {
      window.htmx.ajax("GET", zone.dataset.refreshUrl, { target: "#dataset-files", swap: "outerHTML" });
    }
  }

  async function upload(file) {
    const ui = row(file);
    let current = null, uploadId = null, cancelled = false;
    const samples = []; // [time, bytes] over the last few seconds, for the speed
    const show = (sent) => {
      const now = performance.now();
      samples.push([now, sent]);
      while (samples.length > 2 && now - samples[0][0] > 3000) samples.shift();
      const [t0, b0] = samples[0];
      const speed = now > t0 ? ((sent - b0) / (now - t0)) * 1000 : 0;
      ui.bar.value = file.size ? sent / file.size : 1;
      ui.text.textContent = say("progress", { sent: human(sent), total: human(file.size), speed: human(speed) });
    };
    ui.cancel.addEventListener("click", async () => {
      cancelled = true;
      if (current) current.xhr.abort();
      if (uploadId) await request("DELETE", `/v1/uploads/${uploadId}`).done.catch(() => null);
      ui.li.classList.add("upload-cancelled");
      ui.text.textContent = say("cancelled");
      ui.cancel.remove();
    });
    try {
      current = request("POST", zone.dataset.createUrl, {
        body: JSON.stringify({ filename: file.name, length: file.size }),
        headers: { "Content-Type": "application/json" },
      });
      const created = await current.done;
      uploadId = created.upload_id;
      ui.li.dataset.uploadId = uploadId;
      let offset = 0, failures = 0, info = created;
      while (offset < file.size && !cancelled) {
        const end = Math.min(offset + CHUNK, file.size);
        current = request("PATCH", `/v1/uploads/${uploadId}`, {
          body: file.slice(offset, end),
          headers: { "Content-Type": "application/offset+octet-stream", "Upload-Offset": String(offset) },
          onProgress: (loaded) => show(offset + loaded),
        });
        try {
          info = await current.done;
          offset = info.offset;
          failures = 0;
        } catch (error) {
          if (cancelled || (error.status >= 400 && error.status !== 409 && error.status !== 429)) throw error;
          if (error.status === 429) { // the server streams as many of our uploads as it takes: wait a turn
            await new Promise((r) => setTimeout(r, 1000 + Math.random() * 2000));
            continue;
          }
          failures += 1;
          if (failures > RETRIES) throw error;
          ui.text.textContent = say("resuming", { attempt: failures, retries: RETRIES });
          await new Promise((r) => setTimeout(r, Math.min(1000 * 2 ** failures, 15000)));
          info = await request("GET", `/v1/uploads/${uploadId}`).done; // the server's offset
          offset = info.offset;
        }
        show(offset);
      }
      if (cancelled) return;
      ui.cancel.remove();
      const settle = () => {
        ui.li.classList.remove("upload-validating");
        ui.li.classList.add(`upload-${info.status}`);
        ui.text.textContent = say("uploaded", { size: human(file.size), status: (messages.statuses || {})[info.status] || info.status });
      };
      settle();
      // files over PORTAL_VALIDATE_INLINE_BYTES come back `validating`: the supervisor validates
      // them after the upload, so ask until it has said ready or invalid
      for (let wait = 1000; info.status === "validating"; wait = Math.min(wait * 1.5, 10000)) {
        await new Promise((r) => setTimeout(r, wait));
        try {
          info = await request("GET", `/v1/uploads/${uploadId}`).done;
        } catch (error) {
          if (error.status === 404) break; // deleted meanwhile
        }
        settle();
      }
    } catch (error) {
      if (cancelled) return;
      ui.cancel.remove();
      ui.li.classList.add("upload-failed");
      ui.text.textContent = say("failed", { reason: error.message });
      if (uploadId) request("DELETE", `/v1/uploads/${uploadId}`).done.catch(() => null);
    }
    refreshFiles();
  }

  function take(files) { for (const file of files) upload(file); }

  input.addEventListener("change", () => { take(input.files); input.value = ""; });
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (e) => { e.preventDefault(); zone.classList.add("dragging"); });
  }
  for (const name of ["dragleave", "drop"]) {
    zone.addEventListener(name, (e) => { e.preventDefault(); zone.classList.remove("dragging"); });
  }
  zone.addEventListener("drop", (e) => take(e.dataTransfer.files));
})();
