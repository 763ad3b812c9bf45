// The emulator's web view: keeps the server-rendered state current. On every server-sent
// event it fetches the state again (server-rendered and escaped HTML) and swaps it in; one
// fetch at a time, coalescing the events that arrive meanwhile. Without JavaScript the page
// is the same, only not live.
(function () {
  "use strict";
  var token = new URLSearchParams(window.location.search).get("token");
  var query = token ? "?token=" + encodeURIComponent(token) : "";
  var main = document.getElementById("state");
  var live = document.getElementById("live");
  var busy = null; // the fetch in flight, if any
  var again = false;

  // Fetches the state and swaps it in; resolves once the page shows what the server had
  // when it was called.
  function refresh() {
    if (busy) {
      again = true;
      return busy;
    }
    busy = fetch("state" + query, { cache: "no-store" })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html !== null) {
          main.innerHTML = html;
        }
      })
      .catch(function () {})
      .then(function () {
        busy = null;
        if (again) {
          again = false;
          return refresh();
        }
      });
    return busy;
  }

  function status(text, state) {
    live.textContent = text;
    document.body.setAttribute("data-live", state);
  }

  var source = new EventSource("events" + query);
  source.addEventListener("ready", function () {
    // Whatever changed before the stream opened, then live.
    refresh().then(function () {
      status("live", "connected");
    });
  });
  ["chat", "delivery", "subscription"].forEach(function (kind) {
    source.addEventListener(kind, refresh);
  });
  source.onerror = function () {
    // The browser reconnects by itself (the stream says after how long).
    status("reconnecting…", "disconnected");
  };
})();
