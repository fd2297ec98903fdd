// The live connection shared by the control-room dashboard and the worker page.
//
// Opens the websocket at /ws on this origin, hands snapshots and events to the page,
// answers heartbeats, and when the connection drops reconnects by itself with growing
// pauses, asking for everything after the last event id it saw (after=), so nothing is
// missed and nothing is shown twice.
(function () {
  "use strict";

  var RETRY_FIRST_MS = 250;
  var RETRY_MAX_MS = 5000;
  var SILENCE_MS = 40000; // the server pings every 15 s; this long without a word = dead

  // Close codes after which trying again cannot help (see the stream protocol).
  var FINAL = { 4400: "bad_subscription", 4401: "not_authenticated", 4403: "forbidden" };

  function connect(opts) {
    var lastId = null;
    var socket = null;
    var attempt = 0;
    var retryTimer = null;
    var silenceTimer = null;
    var stopped = false;

    function setStatus(state) {
      if (opts.onStatus) opts.onStatus(state);
    }

    function address() {
      var query = new URLSearchParams();
      var params = opts.params || {};
      Object.keys(params).forEach(function (key) {
        var value = params[key];
        (Array.isArray(value) ? value : [value]).forEach(function (v) {
          if (v !== null && v !== undefined && v !== "") query.append(key, String(v));
        });
      });
      if (lastId !== null) query.set("after", String(lastId));
      var scheme = location.protocol === "https:" ? "wss:" : "ws:";
      var qs = query.toString();
      return scheme + "//" + location.host + "/ws" + (qs ? "?" + qs : "");
    }

    function watch() {
      clearTimeout(silenceTimer);
      silenceTimer = setTimeout(function () {
        if (socket) socket.close(4000, "silent");
      }, SILENCE_MS);
    }

    function scheduleRetry() {
      if (stopped || retryTimer) return;
      var pause = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * Math.pow(2, attempt));
      pause = pause / 2 + Math.random() * (pause / 2);
      attempt += 1;
      retryTimer = setTimeout(function () {
        retryTimer = null;
        open();
      }, pause);
    }

    function handle(msg) {
      switch (msg.type) {
        case "snapshot":
          lastId = msg.last_id;
          attempt = 0;
          opts.onSnapshot(msg);
          setStatus("live");
          break;
        case "event":
          if (lastId !== null && msg.id <= lastId) return; // already seen
          lastId = msg.id;
          opts.onEvent(msg);
          break;
        case "caught_up":
          if (lastId === null || msg.last_id > lastId) lastId = msg.last_id;
          attempt = 0;
          setStatus("live");
          break;
        case "ping":
          if (socket && socket.readyState === WebSocket.OPEN) {
            socket.send(JSON.stringify({ type: "pong" }));
          }
          break;
        default:
          // Other messages (such as "piket", the on-call table) go to the page as they are.
          if (opts.onMessage) opts.onMessage(msg);
          break;
      }
    }

    function open() {
      if (stopped) return;
      setStatus(lastId === null ? "connecting" : "reconnecting");
      var ws;
      try {
        ws = new WebSocket(address());
      } catch (err) {
        scheduleRetry();
        return;
      }
      socket = ws;
      ws.onopen = watch;
      ws.onmessage = function (e) {
        if (ws !== socket) return;
        watch();
        var msg;
        try {
          msg = JSON.parse(e.data);
        } catch (err) {
          return;
        }
        handle(msg);
      };
      ws.onclose = function (e) {
        if (ws !== socket) return;
        socket = null;
        clearTimeout(silenceTimer);
        if (stopped) return;
        if (FINAL[e.code]) {
          stopped = true;
          setStatus(FINAL[e.code]);
          if (opts.onFinal) opts.onFinal(e.code);
          return;
        }
        setStatus("reconnecting");
        scheduleRetry();
      };
    }

    function now() {
      // Skip the pause when the browser says the network or the tab is back.
      if (stopped || socket) return;
      clearTimeout(retryTimer);
      retryTimer = null;
      open();
    }
    window.addEventListener("online", now);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") now();
    });

    open();
    return {
      lastId: function () {
        return lastId;
      },
      close: function () {
        stopped = true;
        clearTimeout(retryTimer);
        clearTimeout(silenceTimer);
        if (socket) socket.close(1000, "bye");
      },
    };
  }

  // Small helpers both pages use.

  // el("td", {class: "x", dataset: {id: 1}}, "text", childNode, [more]) -> element
  function el(tag, attrs) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        var value = attrs[key];
        if (value === null || value === undefined || value === false) return;
        if (key === "dataset") {
          Object.keys(value).forEach(function (d) {
            node.dataset[d] = value[d];
          });
        } else if (key === "text") {
          node.textContent = value;
        } else {
          node.setAttribute(key, value === true ? "" : String(value));
        }
      });
    }
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }

  function append(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) {
      child.forEach(function (c) {
        append(node, c);
      });
    } else if (typeof child === "string" || typeof child === "number") {
      node.appendChild(document.createTextNode(String(child)));
    } else {
      node.appendChild(child);
    }
  }

  var TIME = new Intl.DateTimeFormat("nl-NL", {
    timeZone: "Europe/Amsterdam",
    hour: "2-digit",
    minute: "2-digit",
  });
  var DATE_TIME = new Intl.DateTimeFormat("nl-NL", {
    timeZone: "Europe/Amsterdam",
    day: "2-digit",
    month: "2-digit",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
  var DAY = new Intl.DateTimeFormat("nl-NL", {
    timeZone: "Europe/Amsterdam",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  });

  // Wall-clock time in Amsterdam: "23:40" today, "12-03-2026 23:40" on another day.
  function clock(iso) {
    if (!iso) return "—";
    var d = new Date(iso);
    if (isNaN(d)) return "—";
    return DAY.format(d) === DAY.format(new Date()) ? TIME.format(d) : DATE_TIME.format(d);
  }

  // Time since an instant: "0:42", "12:05", "1:02:09", "3 d 4:02:09".
  function since(iso, nowMs) {
    if (!iso) return "—";
    var seconds = Math.max(0, Math.floor(((nowMs || Date.now()) - Date.parse(iso)) / 1000));
    var days = Math.floor(seconds / 86400);
    seconds %= 86400;
    var h = Math.floor(seconds / 3600);
    var m = Math.floor((seconds % 3600) / 60);
    var s = seconds % 60;
    var two = function (n) {
      return String(n).padStart(2, "0");
    };
    if (days) return days + " d " + h + ":" + two(m) + ":" + two(s);
    return h ? h + ":" + two(m) + ":" + two(s) : m + ":" + two(s);
  }

  // A phone number for people (06 12345678) and for tel: links (+31612345678).
  function phoneText(e164) {
    if (!e164) return "";
    var free = /^(?:\+31|0)(800|900)(\d+)$/.exec(String(e164).replace(/[\s-]/g, ""));
    if (free) return "0" + free[1] + " " + free[2]; // service numbers: 0800 2000
    var m = /^\+316(\d{8})$/.exec(e164);
    if (m) return "06 " + m[1];
    m = /^\+31(\d+)$/.exec(e164);
    if (m) return "0" + m[1];
    return e164;
  }

  function telLink(number, attrs) {
    if (!number) return null;
    var href = "tel:" + String(number).replace(/[^+\d]/g, "");
    var a = el("a", Object.assign({ href: href, class: "tel" }, attrs || {}));
    a.textContent = phoneText(number);
    return a;
  }

  // Configuration the server rendered into the page as JSON.
  function pageData(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : {};
  }

  // --- errors in Dutch, for a step the server refused (both pages) -----------------

  function labelOf(L, table, key) {
    if (key === null || key === undefined || key === "") return "—";
    return (L[table] && L[table][key]) || key;
  }

  // "veiligheidsmaatregelen.agreements.measures[0].by" -> "door wie"
  function fieldName(L, path) {
    var parts = String(path || "")
      .replace(/\[\d+\]/g, "")
      .split(".");
    for (var i = parts.length - 1; i >= 0; i--) {
      if (L.field[parts[i]]) return L.field[parts[i]];
    }
    return null;
  }

  // A field the server's English rule names, if any ("eta_minutes is required ...").
  function fieldInMessage(L, message) {
    var words = String(message || "").match(/[a-z_]+/g) || [];
    for (var i = 0; i < words.length; i++) {
      if (L.field[words[i]]) return L.field[words[i]];
    }
    return null;
  }

  // The Dutch text for a refused step: the status and the JSON the server answered.
  function errorText(L, status, payload) {
    var detail = payload && payload.detail;
    if (detail && detail.error === "invalid_transition") {
      return L.error.invalid_transition
        .replace("{action}", labelOf(L, "action", detail.action))
        .replace("{stage}", labelOf(L, "stage", detail.stage));
    }
    if (detail && detail.error === "forbidden_role") return L.error.forbidden;
    if (detail && detail.error === "invalid_data") {
      var named = fieldInMessage(L, detail.message);
      return L.error.validation + (named ? " " + named + ": " + L.problem.invalid + "." : "");
    }
    if (status === 422 && payload && Array.isArray(payload.errors)) {
      var lines = payload.errors.map(function (e) {
        var name = fieldName(L, e.field);
        return (name ? name + ": " : "") + (L.problem[e.type] || L.problem.invalid);
      });
      return L.error.validation + " " + lines.join("; ") + ".";
    }
    if (status === 403) return L.error.forbidden;
    if (status === 404) return L.error.not_found;
    if (status === 410) return L.error.expired;
    if (status >= 500) return L.error.server;
    return L.error.other;
  }

  // POST one lifecycle action as JSON; resolves to {ok, status, payload} (payload null
  // when the answer was not JSON), rejects only when the network failed.
  function postAction(url, body) {
    var csrf = document.querySelector("meta[name='csrf-token']");
    var headers = { "Content-Type": "application/json", Accept: "application/json" };
    if (csrf && csrf.content) headers["X-CSRF-Token"] = csrf.content;
    return fetch(url, {
      method: "POST",
      headers: headers,
      body: JSON.stringify(body),
      credentials: "same-origin",
    }).then(function (response) {
      return response
        .json()
        .catch(function () {
          return null;
        })
        .then(function (payload) {
          return { ok: response.ok, status: response.status, payload: payload };
        });
    });
  }

  window.SamenOp = {
    connect: connect,
    postAction: postAction,
    el: el,
    clock: clock,
    since: since,
    phoneText: phoneText,
    telLink: telLink,
    pageData: pageData,
    errorText: errorText,
  };
})();
