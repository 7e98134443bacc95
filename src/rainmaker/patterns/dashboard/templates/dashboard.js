// Rainmaker developer dashboard: refresh each pattern's health without reloading the page.
// Reads the same JSON as /health (scrubbed of secrets by the server); writes text only.
"use strict";

(function () {
  const body = document.body;
  const url = body.dataset.healthUrl;
  const seconds = Number(body.dataset.refresh || "0");

  function setStatus(element, status) {
    element.textContent = status;
    element.className = element.className.replace(/status-\w+/, "status-" + status);
  }

  function apply(report) {
    setStatus(document.getElementById("app-status"), report.status);
    document.getElementById("app-state").textContent = report.state;
    for (const [name, item] of Object.entries(report.patterns)) {
      const badge = document.querySelector(`[data-health-of="${CSS.escape(name)}"]`);
      if (badge) setStatus(badge, item.status);
      const latency = document.querySelector(`[data-latency-of="${CSS.escape(name)}"]`);
      if (latency) latency.textContent = item.latency_ms.toFixed(1) + " ms";
      const details = document.querySelector(`[data-details-of="${CSS.escape(name)}"]`);
      if (details) {
        const keys = Object.keys(item.details).sort();
        const sorted = {};
        for (const key of keys) sorted[key] = item.details[key];
        details.textContent = keys.length ? JSON.stringify(sorted) : "";
      }
      const node = document.querySelector(`g.node[data-instance="${CSS.escape(name)}"]`);
      if (node) node.setAttribute("class", "node status-" + item.status);
    }
  }

  async function refresh() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (response.ok) apply(await response.json());
    } catch (error) {
      // The app is restarting or stopped: keep the last view; the next tick tries again.
    }
  }

  if (url && seconds > 0) window.setInterval(refresh, seconds * 1000);
})();
