/* Board3 console: the few behaviours pages need beyond htmx. Loaded from Board3 itself (the
   Content-Security-Policy allows no inline script). Every page works without it. */
(function () {
  "use strict";

  // Clicking a node of the diagram shows its comments (htmx), or goes to ?node= without htmx.
  function wireDiagram(root) {
    var diagram = root.querySelector ? root.querySelector("#diagram") : null;
    if (!diagram || diagram.dataset.wired) return;
    diagram.dataset.wired = "1";
    diagram.addEventListener("click", function (event) {
      var node = event.target.closest("[data-node-id]");
      if (!node) return;
      var id = node.getAttribute("data-node-id");
      diagram.querySelectorAll(".selected").forEach(function (el) { el.classList.remove("selected"); });
      node.classList.add("selected");
      var url = diagram.dataset.commentsUrl + "?node=" + encodeURIComponent(id);
      if (window.htmx) {
        window.htmx.ajax("GET", url, { target: "#comments-panel", swap: "innerHTML" });
        document.getElementById("comments").scrollIntoView({ behavior: "smooth", block: "nearest" });
      } else {
        window.location.href = window.location.pathname + "?node=" + encodeURIComponent(id) + "#comments";
      }
    });
  }

  // An execution's log: the page holds the lines so far; server-sent events bring the rest. Lines
  // are appended in batches once per frame, so a fast run of thousands of lines stays smooth.
  function followLog() {
    var log = document.getElementById("log");
    if (!log || log.dataset.finished === "true" || !window.EventSource) return;
    var state = document.getElementById("log-state");
    var follow = document.getElementById("log-autoscroll");
    var pending = [];
    var scheduled = false;
    var source = new EventSource(log.dataset.stream);

    function flush() {
      scheduled = false;
      if (!pending.length) return;
      log.appendChild(document.createTextNode(pending.join("\n") + "\n"));
      pending = [];
      if (!follow || follow.checked) log.scrollTop = log.scrollHeight;
    }
    source.addEventListener("line", function (event) {
      pending.push(event.data);
      if (!scheduled) { scheduled = true; window.requestAnimationFrame(flush); }
    });
    source.addEventListener("end", function (event) {
      source.close();
      flush();
      log.dataset.finished = "true";
      log.dataset.status = event.data;
      if (state) state.textContent = "finished: " + event.data.replace(/_/g, " ");
      var summary = document.getElementById("execution-summary");
      if (summary && window.htmx) window.htmx.trigger(summary, "refresh");
    });
    source.addEventListener("open", function () { if (state) state.textContent = "following live…"; });
    source.addEventListener("error", function () {
      if (log.dataset.finished !== "true" && state) state.textContent = "reconnecting…";
    });
    if (!follow || follow.checked) log.scrollTop = log.scrollHeight;
  }

  function start() {
    wireDiagram(document);
    followLog();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
