// "Piket nu" on the control-room dashboard, kept live.
//
// The server renders the table once; this script then follows a websocket of its own
// (/ws?piket=only: the table, no incidents) and redraws the table from every "piket"
// message. The server sends one when the configuration changes (an override, a swap, a
// new roster) and when a handover time passes; on (re)connecting it sends the current
// table first, so a dashboard that was away catches up by itself. The Dutch words come
// from the page (data attributes), the numbers and names from the message.
(function () {
  "use strict";

  var S = window.SamenOp;
  var section = document.getElementById("piket");
  var table = document.getElementById("oncall");
  if (!S || !section || !table) return;
  var tbody = table.querySelector("tbody");
  var atLine = document.getElementById("piket-at");
  var el = S.el;
  var L = section.dataset;

  var TIME = new Intl.DateTimeFormat("nl-NL", {
    timeZone: "Europe/Amsterdam",
    day: "2-digit",
    month: "2-digit",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });

  function when(iso) {
    var d = new Date(iso);
    return isNaN(d) ? "" : TIME.format(d).replace(",", "");
  }

  function people(team) {
    if (!team.people.length) return el("span", { class: "gap" }, L.nobody || "niemand");
    var out = [];
    team.people.forEach(function (p, i) {
      if (i) out.push(", ");
      var title = p.layer_nl + (p.until ? " " + (L.until || "tot") + " " + when(p.until) : "");
      out.push(el("span", { class: "piket-person", dataset: { layer: p.layer }, title: title }, p.name));
    });
    return out;
  }

  function row(team) {
    return el(
      "tr",
      { dataset: { team: team.id } },
      el("td", null, team.name),
      el("td", null, team.kind),
      el("td", { class: "piket-people" }, people(team)),
      el("td", null, team.phone || "—")
    );
  }

  function render(msg) {
    if (!msg || msg.type !== "piket" || !Array.isArray(msg.teams)) return;
    var rows = msg.teams.map(row);
    while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
    rows.forEach(function (tr) {
      tbody.appendChild(tr);
    });
    if (atLine && L.at) atLine.textContent = L.at.replace("{time}", when(msg.at));
    section.dataset.live = "on";
    section.dataset.version = String(msg.version);
    section.dataset.seq = String(msg.seq);
  }

  function noop() {}

  S.connect({
    params: { piket: "only" },
    onSnapshot: noop,
    onEvent: noop,
    onMessage: render,
    onStatus: function (state) {
      section.dataset.stream = state;
    },
  });
})();
