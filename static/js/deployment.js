// The deployment page: the server log of a chosen start (followed while live) and the chat playground,
// whose answer streams in from the portal's proxy of /v1/chat/completions (server-sent events).
(() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

  const log = document.getElementById("deployment-log");
  const start = document.getElementById("log-start");
  if (log) {
    let offset = 0, restart = start ? start.value : "", timer = null;
    const pull = async () => {
      const url = `${log.dataset.url}?offset=${offset}` + (restart !== "" ? `&restart=${restart}` : "");
      const answer = await fetch(url, {headers: {Accept: "application/json"}});
      if (answer.ok) {
        const page = await answer.json();
        const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
        log.textContent += page.data;
        offset = page.next_offset;
        if (atEnd) log.scrollTop = log.scrollHeight;
        if (page.next_offset < page.size) return pull();
      }
      if (log.dataset.live === "true") timer = setTimeout(pull, 2000);
    };
    start?.addEventListener("change", () => {
      clearTimeout(timer);
      restart = start.value; offset = 0; log.textContent = "";
      pull();
    });
    pull();
  }

  const form = document.getElementById("chat-form");
  if (!form) return;
  // chat only with a server that answers: follow the status block, which htmx re-renders
  const syncSend = () => {
    const state = document.getElementById("deployment-status")?.dataset.status;
    document.getElementById("chat-send").disabled = !["running", "unhealthy"].includes(state);
  };
  document.body.addEventListener("htmx:afterSettle", syncSend);
  syncSend();
  const out = document.getElementById("chat-answer");
  const status = document.getElementById("chat-status");
  const url = document.getElementById("playground").dataset.chatUrl;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const send = document.getElementById("chat-send");
    send.disabled = true; out.textContent = ""; status.textContent = "…";
    const body = {model: document.getElementById("chat-model").value, stream: true,
                  messages: [{role: "user", content: document.getElementById("chat-message").value}]};
    try {
      const answer = await fetch(url, {method: "POST", body: JSON.stringify(body),
        headers: {"Content-Type": "application/json", "X-CSRFToken": csrf(), Accept: "text/event-stream"}});
      if (!answer.ok || !answer.body) {
        const problem = await answer.json().catch(() => ({}));
        status.textContent = problem.detail || problem.error?.message || `HTTP ${answer.status}`;
        return;
      }
      const reader = answer.body.getReader(), decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, {stream: true});
        const events = buffer.split("\n\n");
        buffer = events.pop();
        for (const line of events.map((e) => e.trim()).filter((e) => e.startsWith("data: "))) {
          const data = line.slice(6);
          if (data === "[DONE]") { status.textContent = out.dataset.done || "✓"; continue; }
          const chunk = JSON.parse(data);
          out.textContent += chunk.choices?.[0]?.delta?.content || "";
        }
      }
    } catch (error) {
      status.textContent = String(error);
    } finally {
      syncSend();
    }
  });
})();
