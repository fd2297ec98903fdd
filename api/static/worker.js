// The worker's step page: shows where the joint response stands, one step of the first
// hour at a time (a phone screen is small), offers the actions that fit it, posts each
// action as JSON to /w/<token>/actions and follows the incident live over
// /ws?token=<token>.
(function () {
  "use strict";

  var S = window.SamenOp;
  var el = S.el;
  var DATA = S.pageData("worker-data");
  var L = DATA.labels;
  var W = L.worker;
  var TOKEN = DATA.token;
  var POSITION = DATA.position;
  var ORDER = DATA.stages; // every stage in order
  var PANELS = DATA.panels; // the page's steps in order

  var current = DATA.dispatch;
  var indicator = document.getElementById("live");
  var stepper = document.getElementById("stepper");
  var notice = document.getElementById("notice");

  // Which step is on screen; "pinned" when the worker chose it by hand (then a change
  // made by someone else does not move the page away under their fingers).
  var shown = null;
  var pinned = false;
  var lastStage = null;
  // Actions sent and not answered yet whose controls are already gone (optimistic).
  var pending = {};

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

  function all(selector) {
    return Array.prototype.slice.call(document.querySelectorAll(selector));
  }

  // Which actions this worker can take now (the server has the last word).
  function available(d) {
    var me = mine(d);
    var stage = d.stage;
    var can = {};
    if (stage === "closed") return can;
    var accepted = me.status === "accepted";
    var enroute = accepted && me.enroute_at && !me.arrived_at && !pending.ter_plaatse;
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

  // The step of the page that fits the stage: where the next action is.
  function stagePanel(d) {
    var me = mine(d);
    var accepted = me.status === "accepted";
    var arrived = !!me.arrived_at || !!pending.ter_plaatse;
    // on the way while the joint response goes on (a colleague is there already): this
    // worker's next action is still to arrive
    if (d.stage !== "closed" && accepted && me.enroute_at && !arrived) return "onderweg";
    switch (d.stage) {
      case "ter_plaatse":
        return accepted && !arrived && !d.consult_kind ? "onderweg" : "motorkapoverleg";
      case "motorkapoverleg":
        return "veiligheid";
      case "onderzoek":
        return "gesprek";
      case "veiligheidsmaatregelen":
        return "overdracht";
      case "overgedragen":
        return "afsluiten";
      case "closed":
        return null;
      default:
        // accepted or onderweg; with a phone or video consult and nobody on the way,
        // the consult is the motorkapoverleg
        return d.consult_kind && !me.enroute_at ? "motorkapoverleg" : "onderweg";
    }
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

  // Is the worker typing in (or waiting for) a form of this step?
  function busyIn(panel) {
    return all("section.step[data-panel='" + panel + "']:not([hidden]) form").some(engaged);
  }

  function say(text, isError) {
    notice.textContent = text || "";
    notice.hidden = !text;
    notice.classList.toggle("is-error", !!isError);
  }

  function focusPanel(panel) {
    var heading = document.getElementById("titel-" + panel);
    if (heading) heading.focus();
  }

  function show(panel, opts) {
    shown = panel;
    pinned = !!(opts && opts.byHand);
    render(current);
    if (opts && opts.focus) focusPanel(panel);
  }

  function renderStepper(d, target) {
    stepper.hidden = d.stage === "closed";
    var at = target ? PANELS.indexOf(target) : PANELS.length;
    all("#stepper a[data-panel]").forEach(function (link) {
      var i = PANELS.indexOf(link.dataset.panel);
      var state = i < at ? "done" : i === at ? "current" : "todo";
      link.className = "step-" + state + (link.dataset.panel === shown ? " shown" : "");
      if (link.dataset.panel === shown) link.setAttribute("aria-current", "step");
      else link.removeAttribute("aria-current");
      link.querySelector(".state").textContent =
        state === "todo" ? "" : " (" + (state === "done" ? W.done : W.current) + ")";
    });
  }

  function render(d, opts) {
    current = d;
    var me = mine(d);
    var target = stagePanel(d);
    // follow the stage to its step: always after the worker's own action, otherwise
    // unless they chose another step or are typing in this one
    if (opts && opts.own) {
      // (the event may have moved the page already: focus follows what the worker saw)
      if (target && target !== opts.from) setTimeout(focusPanel, 0, target);
      if (target && target !== shown) {
        shown = target;
        pinned = false;
      }
    } else if (shown === null) {
      shown = target;
    } else if (d.stage !== lastStage && target && !pinned && !busyIn(shown)) {
      shown = target;
    }
    lastStage = d.stage;

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
    if (d.stage === "closed" && !notice.classList.contains("is-error")) say("");

    renderStepper(d, target);

    var can = available(d);
    var open = {}; // per step: does it offer an action now?
    all("section.step").forEach(function (section) {
      var action = section.dataset.action;
      var here = section.dataset.panel === shown;
      var applies = !!can[action] && !pending[action];
      if (applies) open[section.dataset.panel] = true;
      var visible = applies && here;
      var form = section.querySelector("form");
      // keep a form in view while the worker is typing in it, waiting for it, or reading
      // why it was refused
      // (not after the worker's own action: they have moved on)
      var keep = !visible && here && !section.hidden && form && engaged(form);
      if (keep && d.stage !== "closed" && !pending[action] && !(opts && opts.own)) return;
      if (form && !visible && opts && opts.own) showError(form, "");
      section.hidden = !visible;
    });

    all("section.panel-head").forEach(function (head) {
      var panel = head.dataset.panel;
      head.hidden = d.stage === "closed" || panel !== shown;
      var note = head.querySelector(".not-now");
      var idle = !open[panel];
      note.hidden = !idle;
      note.textContent = idle ? W.not_now.replace("{stage}", label("stage", d.stage)) : "";
    });
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
      // the evaluation note goes only with the close action, and only when written
      var helped = field(form, "helped");
      var missing = field(form, "missing");
      if (helped || missing) body.evaluation_note = { helped: helped, missing: missing };
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

  // Some actions take their control away at once: "Ik ben ter plaatse" must not stay
  // on screen (to be pressed again) while the answer is on its way. The event or the
  // answer confirms it; a refusal brings the button back with the reason.
  var OPTIMISTIC = { ter_plaatse: W.arrived_sent };

  function submit(form) {
    var action = form.dataset.action;
    var section = form.closest("section.step");
    var button = form.querySelector("button[type=submit]");
    showError(form, "");
    button.disabled = true;
    var optimistic = OPTIMISTIC[action];
    var from = shown; // the step the worker acted on
    say("");
    if (optimistic) {
      pending[action] = true;
      section.hidden = true;
      say(optimistic);
      render(current);
    }
    function restore(text) {
      button.disabled = false;
      if (!optimistic) {
        showError(form, text);
        return;
      }
      delete pending[action];
      if (!available(current)[action]) {
        // the incident moved on meanwhile (the live event said so): no button to bring
        // back, only the reason
        render(current);
        say(text, true);
        return;
      }
      // back where it was, with the reason, on the step it belongs to
      say("");
      if (section.dataset.panel !== shown) {
        shown = section.dataset.panel;
        pinned = true;
      }
      render(current);
      section.hidden = false;
      showError(form, text);
      button.focus();
    }
    S.postAction("/w/" + TOKEN + "/actions", bodyOf(form))
      .then(function (answer) {
        if (!answer.ok) {
          restore(errorText(answer.status, answer.payload));
          return;
        }
        delete pending[action];
        button.disabled = false;
        form.reset();
        if (answer.payload && answer.payload.id) render(answer.payload, { own: true, from: from });
        else render(current);
      })
      .catch(function () {
        restore(L.error.network);
      });
  }

  all("section.step form").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      submit(e.currentTarget);
    });
  });

  // "+ nog een ..." copies the first row of its list, empty
  all("button[data-add]").forEach(function (adder) {
    adder.addEventListener("click", function (e) {
      var set = e.currentTarget.closest("[data-rows]");
      var row = set.querySelector("[data-row]").cloneNode(true);
      var inputs = row.querySelectorAll("input, select");
      for (var k = 0; k < inputs.length; k++) inputs[k].value = "";
      set.insertBefore(row, e.currentTarget);
      var first = row.querySelector("input, select");
      if (first) first.focus();
    });
  });

  // The stepper: any step can be opened; the page then stays there until the worker
  // records an action (or picks the stage's own step again).
  all("#stepper a[data-panel]").forEach(function (link) {
    link.addEventListener("click", function (e) {
      e.preventDefault();
      var panel = e.currentTarget.dataset.panel;
      show(panel, { byHand: panel !== stagePanel(current), focus: true });
    });
  });

  // The points of the toolkit can be ticked off; the ticks are the worker's own memo,
  // kept for this incident in this browser tab only (never sent anywhere).
  var TICKS_KEY = "samenop.points." + current.id;

  function loadTicks() {
    try {
      return JSON.parse(window.sessionStorage.getItem(TICKS_KEY) || "[]");
    } catch (err) {
      return [];
    }
  }

  function saveTicks() {
    var ticked = all("input[data-point]")
      .filter(function (box) {
        return box.checked;
      })
      .map(function (box) {
        return box.dataset.point;
      });
    try {
      window.sessionStorage.setItem(TICKS_KEY, JSON.stringify(ticked));
    } catch (err) {
      // storage refused (private mode): the ticks last until the page is closed
    }
  }

  var ticked = loadTicks();
  all("input[data-point]").forEach(function (box) {
    box.checked = ticked.indexOf(box.dataset.point) >= 0;
    box.addEventListener("change", saveTicks);
  });

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
