// Live parts of the registry dashboard. Written for it, no dependencies, no build step.
(function () {
  "use strict";

  // <main id="live" data-refresh="MS">: re-fetch this page's fragment and swap it in, so
  // statuses move (healthy -> degraded -> expired) without a reload.
  var live = document.getElementById("live");
  if (live && live.dataset.refresh) {
    var busy = false;
    setInterval(function () {
      if (busy) return;
      busy = true;
      var url = new URL(window.location.href);
      url.searchParams.set("fragment", "1");
      fetch(url, { headers: { accept: "text/html" }, cache: "no-store" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          live.innerHTML = html;
          live.dataset.updated = new Date().toISOString();
        })
        .catch(function () { /* keep the last view; try again at the next tick */ })
        .then(function () { busy = false; });
    }, parseInt(live.dataset.refresh, 10));
  }

  // <tbody id="events" data-stream="URL">: append events from the Server-Sent Events stream.
  var tbody = document.getElementById("events");
  if (tbody && tbody.dataset.stream && window.EventSource) {
    var seen = {};
    Array.prototype.forEach.call(tbody.rows, function (row) { seen[row.dataset.id] = true; });
    var count = document.getElementById("event-count");
    var source = new EventSource(tbody.dataset.stream);
    source.addEventListener("open", function () { tbody.dataset.connected = "1"; });
    source.addEventListener("registry-event", function (msg) {
      var e = JSON.parse(msg.data);
      if (seen[e.id]) return; // a reconnect may replay the last batch
      seen[e.id] = true;
      var row = document.createElement("tr");
      row.dataset.id = e.id;
      row.className = "ev ev-" + e.type;
      [e.timestamp, e.type, e.agent_id, e.namespace, e.detail].forEach(function (text, i) {
        var cell = document.createElement("td");
        if (i === 2 && text) {
          var link = document.createElement("a");
          link.href = "/ui/agents/" + encodeURIComponent(text);
          link.textContent = text;
          cell.appendChild(link);
        } else {
          cell.textContent = text;
        }
        row.appendChild(cell);
      });
      tbody.appendChild(row);
      if (count) count.textContent = String(tbody.rows.length);
    });
  }
})();
