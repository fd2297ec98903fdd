// The worker's step page: shows where the joint response stands, offers the steps that
// fit it, posts each step as JSON to /w/<token>/actions and follows the incident live
// over /ws?token=<token>.
(function () {
  "use strict";

  var S = window.SamenOp;
  var el = S.el;
  var DATA = S.pageData("worker-data");
  var L = DATA.labels;
  var TOKEN = DATA.token;
  var POSITION = DATA.position;
  var STEPS = DATA.steps; // stages in order, as the worker sees them
  var ORDER = DATA.stages; // every stage in order

  var current = DATA.dispatch;
  var indicator = document.getElementById("live");

  function label(table, key) {
    if (key === null || key === undefined || key === "") return "—";
    return (L[table] && L[table][key]) || key;
  }

  function rank(stage) {
    var i = ORDER.indexOf(stage);
    return i < 0 ? 0 : i;
  }

  function mine(d) {
    var found = null;
    (d.assignments || []).forEach(function (a) {
      if (a.position === POSITION) found = a;
    });
    return found || {};
  }

  // Which steps this worker can take now (the server has the last word).
  function available(d) {
    var me = mine(d);
    var stage = d.stage;
    var can = {};
    if (stage === "closed") return can;
    var accepted = me.status === "accepted";
    var enroute = accepted && me.enroute_at && !me.arrived_at;
    can.onderweg = accepted && !me.enroute_at;
    can.eta = enroute;
    can.ter_plaatse = enroute;
    can.motorkapoverleg =
      stage === "ter_plaatse" ||
      (!!d.consult_kind && (stage === "accepted" || stage === "onderweg"));
    can.onderzoek = stage === "motorkapoverleg";
    can.veiligheidsmaatregelen = stage === "motorkapoverleg" || stage === "onderzoek";
    can.overgedragen =
      stage === "motorkapoverleg" || stage === "onderzoek" || stage === "veiligheidsmaatregelen";
    // a consult by phone or video matters while nobody is on scene
    can.consult = !d.consult_kind && !d.arrived_at && rank(stage) >= rank("paging");
    can.close = true;
    return can;
  }

  function dirty(form) {
    var fields = form.querySelectorAll("input, select, textarea");
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f.type === "hidden") continue;
      if (f.tagName === "SELECT" ? f.selectedIndex > 0 : f.value !== f.defaultValue) return true;
    }
    return false;
  }

  function engaged(form) {
    var button = form.querySelector("button[type=submit]");
    return dirty(form) || (button && button.disabled) || !form.querySelector(".error").hidden;
  }

  function render(d) {
    current = d;
    var me = mine(d);
    document.getElementById("stage").textContent = label("stage", d.stage);

    var safe = document.getElementById("safe");
    safe.hidden = !d.safe_at || d.stage === "closed";
    document.getElementById("safe-at").textContent = d.safe_at ? "(" + S.clock(d.safe_at) + ")" : "";

    // "Half bezet": what the control room decided about going alone
    var half = document.getElementById("half-staffed");
    var decision = d.half_staffed_decision && L.half_staffed[d.half_staffed_decision];
    half.hidden = !decision || d.stage === "closed";
    half.textContent = decision ? decision.replace("{who}", me.person_name || "je") : "";

    var eta = document.getElementById("eta");
    if (me.arrived_at) eta.textContent = L.misc.arrived + " " + S.clock(me.arrived_at);
    else if (me.eta_at) eta.textContent = L.misc.eta + " " + S.clock(me.eta_at);
    else eta.textContent = "—";

    document.getElementById("consult").textContent = d.consult_kind
      ? label("consult", d.consult_kind) + " " + S.clock(d.consult_at)
      : "—";

    var closed = document.getElementById("closed");
    closed.hidden = d.stage !== "closed";
    closed.textContent =
      d.stage === "closed" ? L.misc.closed + ": " + label("outcome", d.outcome) + "." : "";

    var steps = document.getElementById("steps");
    steps.textContent = "";
    var now = rank(d.stage);
    STEPS.forEach(function (stage) {
      var r = rank(stage);
      var state = r < now ? "done" : r === now ? "current" : "todo";
      steps.appendChild(
        el("li", { class: "step-" + state, dataset: { stage: stage } }, label("stage", stage))
      );
    });

    var can = available(d);
    var sections = document.querySelectorAll("section.step");
    for (var i = 0; i < sections.length; i++) {
      var section = sections[i];
      var show = !!can[section.dataset.action];
      var form = section.querySelector("form");
      // keep a form in view while the worker is typing in it, waiting for it, or reading
      // why it was refused
      if (!show && !section.hidden && form && d.stage !== "closed" && engaged(form)) continue;
      section.hidden = !show;
    }
  }

  // --- building request bodies ---------------------------------------------------

  function localToIso(value) {
    if (!value) return null;
    var d = new Date(value); // a datetime-local value is the phone's own wall-clock time
    return isNaN(d) ? value : d.toISOString();
  }

  function rowsOf(form, name) {
    return Array.prototype.slice.call(form.querySelectorAll("[data-rows='" + name + "'] [data-row]"));
  }

  function field(scope, name) {
    var f = scope.querySelector("[name='" + name + "']");
    return f ? f.value.trim() : "";
  }

  function bodyOf(form) {
    var action = form.dataset.action;
    var body = { action: action };
    if (action === "onderweg" || action === "eta") {
      var minutes = field(form, "eta_minutes");
      body.eta_minutes = minutes === "" ? null : Number(minutes);
    } else if (action === "veiligheidsmaatregelen") {
      body.agreements = {
        first_contact: field(form, "first_contact"),
        informs: rowsOf(form, "informs")
          .map(function (row) {
            return { who: field(row, "who"), whom: field(row, "whom") };
          })
          .filter(function (x) {
            return x.who || x.whom;
          }),
        measures: rowsOf(form, "measures")
          .map(function (row) {
            return {
              measure: field(row, "measure"),
              by: field(row, "by"),
              until: localToIso(field(row, "until")),
              note: field(row, "note") || null,
            };
          })
          .filter(function (x) {
            return x.measure || x.by || x.until || x.note;
          }),
        reassess_at: localToIso(field(form, "reassess_at")),
      };
    } else if (action === "overgedragen") {
      body.handover = { target: field(form, "target"), note: field(form, "note") || null };
    } else if (action === "consult") {
      body.kind = field(form, "kind");
    } else if (action === "close") {
      body.outcome = field(form, "outcome");
    }
    return body;
  }

  // --- errors in Dutch (shared with the dashboard, see live.js) -------------------

  function errorText(status, payload) {
    return S.errorText(L, status, payload);
  }

  function showError(form, text) {
    var p = form.querySelector(".error");
    p.textContent = text || "";
    p.hidden = !text;
  }

  function submit(form) {
    var button = form.querySelector("button[type=submit]");
    showError(form, "");
    button.disabled = true;
    S.postAction("/w/" + TOKEN + "/actions", bodyOf(form))
      .then(function (answer) {
        if (!answer.ok) {
          showError(form, errorText(answer.status, answer.payload));
          return;
        }
        form.reset();
        if (answer.payload && answer.payload.id) render(answer.payload);
      })
      .catch(function () {
        showError(form, L.error.network);
      })
      .then(function () {
        button.disabled = false;
      });
  }

  var forms = document.querySelectorAll("section.step form");
  for (var i = 0; i < forms.length; i++) {
    forms[i].addEventListener("submit", function (e) {
      e.preventDefault();
      submit(e.currentTarget);
    });
  }

  // "+ nog een ..." copies the first row of its list, empty
  var adders = document.querySelectorAll("button[data-add]");
  for (var j = 0; j < adders.length; j++) {
    adders[j].addEventListener("click", function (e) {
      var set = e.currentTarget.closest("[data-rows]");
      var row = set.querySelector("[data-row]").cloneNode(true);
      var inputs = row.querySelectorAll("input, select");
      for (var k = 0; k < inputs.length; k++) inputs[k].value = "";
      set.insertBefore(row, e.currentTarget);
      var first = row.querySelector("input, select");
      if (first) first.focus();
    });
  }

  render(current);

  var STATUS_TEXT = {
    connecting: L.live.connecting,
    live: L.live.live,
    reconnecting: L.live.reconnecting,
    not_authenticated: L.live.expired,
    forbidden: L.live.expired,
    bad_subscription: L.live.expired,
  };

  S.connect({
    params: { token: TOKEN },
    onStatus: function (state) {
      indicator.dataset.state = state;
      indicator.className = "live live-" + state;
      indicator.textContent = STATUS_TEXT[state] || state;
    },
    onSnapshot: function (msg) {
      (msg.dispatches || []).forEach(function (d) {
        if (d.id === current.id) render(d);
      });
    },
    onEvent: function (msg) {
      if (msg.dispatch && msg.dispatch.id === current.id) render(msg.dispatch);
    },
  });
})();
