// The control-room dashboard: open incidents kept live from the websocket.
//
// The page starts from the list the server rendered into it, then follows /ws: a
// "snapshot" replaces everything, every "event" carries the dispatch's full current
// summary, which replaces that incident's rows. Rows are rebuilt only when their summary
// changed; the time since the report ticks every second.
//
// Each incident is a <tbody> of two rows: the facts (household, where paging stands,
// contact, alarms, the actions that apply now) and below them the police's pocket card
// "Veiligheid voorop", a checklist the control room ticks (each tick an action, so it is
// an event every dashboard sees and it survives a reload). Only the actions that apply
// to the summary are shown (the server has the last word); a click posts the action as
// JSON to /api/v1/incidents/<id>/actions (the sign-in cookie counts). A request in
// flight, a refusal (in Dutch) and what was typed or opened are kept per incident, so a
// row rebuilt by a new summary keeps them, and keeps the focus where it was.
//
// A new incident, or a new alarm on one, puts a count in the page title until someone
// uses the page, and can sound a short tone (Web Audio) and raise a browser
// notification: each a setting of this dashboard (localStorage), off until switched on.
(function () {
  "use strict";

  var S = window.SamenOp;
  var el = S.el;
  var DATA = S.pageData("dashboard-data");
  var L = DATA.labels;
  var C = L.control;
  var CLOSED_KEEP_MS = 2 * 3600 * 1000; // closed incidents stay in view this long
  var UNANSWERED_S = 180; // when a summary does not say (unanswered_after_seconds)
  var FINISHED_PAGING = { accepted: 1, no_responder: 1, partial: 1 };
  var ERROR_KEEP_MS = 10000; // a refusal stays in its row this long
  var BEFORE_ACCEPT = { melding: 1, paging: 1 };
  var CHECKLIST = [
    "kindcheck",
    "doorvragen",
    "bewijs",
    "registraties",
    "vt_melding",
    "warme_overdracht",
    "veilig_vertrekken",
  ];
  var FORENSIC = ["forensisch_arts", "forensische_opsporing"];
  var SETTINGS_KEY = "samenop.dashboard.alerts";

  var incidents = new Map(); // dispatch id -> summary
  var rows = new Map(); // dispatch id -> {summary, alarms, ui, group}
  var busy = new Map(); // dispatch id -> the action whose request is in flight
  var errors = new Map(); // dispatch id -> {text, until}: the last refusal
  var choices = new Map(); // dispatch id -> what was chosen, typed or opened in its rows
  var table = document.getElementById("dispatches");
  var empty = document.getElementById("empty");
  var count = document.getElementById("count");
  var filter = document.getElementById("basisteam-filter");
  var indicator = document.getElementById("live");
  var headers = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
    return th.textContent.trim();
  });
  var renderQueued = false;

  function label(tableName, key) {
    if (key === null || key === undefined || key === "") return "—";
    return (L[tableName] && L[tableName][key]) || key;
  }

  function fill(text, values) {
    return String(text).replace(/\{(\w+)\}/g, function (m, key) {
      return values[key] !== undefined ? values[key] : m;
    });
  }

  function place(id) {
    return (id && DATA.places[id]) || id || "";
  }

  function personName(a) {
    return (
      a.person_name ||
      (a.person && DATA.people[a.person]) ||
      a.team_name ||
      DATA.teams[a.team] ||
      a.team ||
      "—"
    );
  }

  function basisteamOf(d) {
    return d.basisteam || (DATA.basisteam_of || {})[d.municipality] || "";
  }

  function teamName(a) {
    return a.team_name || DATA.teams[a.team] || a.team || "";
  }

  function anyAccepted(d) {
    return (d.assignments || []).some(function (a) {
      return a.purpose !== "consult" && a.status === "accepted";
    });
  }

  // --- alarms ---------------------------------------------------------------------

  // The server's alarms, with "unanswered" ones kept current by the page itself: time
  // passing writes no event, so the minutes in the message (and, when the summary says
  // since when a page waits, the alarm itself) are worked out here every second.
  function alarmsOf(d, nowMs) {
    var alarms = [];
    var byPosition = {};
    (d.assignments || []).forEach(function (a) {
      byPosition[a.position] = a;
    });
    var unanswered = {};
    (d.alarms || []).forEach(function (alarm) {
      if (alarm.kind === "unanswered" && alarm.assignment !== undefined) {
        unanswered[alarm.assignment] = alarm.since;
      } else {
        alarms.push(alarm);
      }
    });
    var open = d.stage !== "closed" && !FINISHED_PAGING[d.paging_state];
    if (open) {
      var limit = (d.unanswered_after_seconds || UNANSWERED_S) * 1000;
      (d.assignments || []).forEach(function (a) {
        var sent = a.waiting_since;
        if (sent && !unanswered[a.position] && nowMs - Date.parse(sent) >= limit) {
          unanswered[a.position] = sent;
        }
      });
    }
    Object.keys(unanswered).forEach(function (position) {
      var since = unanswered[position];
      var a = byPosition[position] || {};
      var minutes = Math.max(0, Math.floor((nowMs - Date.parse(since)) / 60000));
      alarms.push({
        kind: "unanswered",
        position: position,
        since: since,
        message: L.alarm.unanswered
          .replace("{who}", personName(a))
          .replace("{minutes}", String(minutes)),
      });
    });
    return alarms;
  }

  // A row is rebuilt when its summary was replaced (every event brings a new object) or
  // its alarms changed with the time.
  function stale(row, d, alarms) {
    return (
      !row ||
      row.summary !== d ||
      row.alarms !== JSON.stringify(alarms) ||
      row.ui !== uiKey(d.id)
    );
  }

  // --- attention: the title, a tone, a notification ----------------------------------

  var BASE_TITLE = document.title;
  var known = new Set(); // incidents this page has seen arrive
  var alarmKeys = new Map(); // dispatch id -> the alarms it had at the last render
  var attention = new Set(); // incidents new, or with a new alarm, since the page was used
  var settings = loadSettings();
  var audio = null;

  function loadSettings() {
    try {
      var saved = JSON.parse(window.localStorage.getItem(SETTINGS_KEY) || "{}");
      return { sound: saved.sound === true, notify: saved.notify === true };
    } catch (err) {
      return { sound: false, notify: false };
    }
  }

  function saveSettings() {
    try {
      window.localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings));
    } catch (err) {
      /* private mode: the setting lasts as long as the page */
    }
  }

  function showTitle() {
    document.title = attention.size ? "(" + attention.size + ") " + BASE_TITLE : BASE_TITLE;
  }

  function tone() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    try {
      audio = audio || new Ctx();
      if (audio.state === "suspended") audio.resume();
      [0, 0.22].forEach(function (offset) {
        var start = audio.currentTime + offset;
        var osc = audio.createOscillator();
        var gain = audio.createGain();
        osc.type = "sine";
        osc.frequency.value = 880;
        gain.gain.setValueAtTime(0.0001, start);
        gain.gain.exponentialRampToValueAtTime(0.25, start + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.18);
        osc.connect(gain).connect(audio.destination);
        osc.start(start);
        osc.stop(start + 0.2);
      });
    } catch (err) {
      /* no sound device: the title still says it */
    }
  }

  function notify(title, body, id) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    try {
      var note = new Notification(title, { body: body, tag: "samenop-" + id });
      note.onclick = function () {
        window.focus();
        note.close();
      };
    } catch (err) {
      /* some browsers only notify from a service worker */
    }
  }

  // Something needs the control room: a new incident or a new alarm on one.
  function raise(d, what, text) {
    attention.add(d.id);
    showTitle();
    if (settings.sound) tone();
    if (settings.notify) {
      var title = fill(what === "new" ? C.notify_new : C.notify_alarm, { reference: d.reference });
      notify(title, text, d.id);
    }
  }

  function alarmKey(a) {
    return a.kind + (a.position !== undefined ? ":" + a.position : "");
  }

  // Compare what the incident has now with what it had: new incidents and new alarms
  // raise the alert (not those already there when the page opened).
  function watch(d, alarms, first) {
    var keys = new Set(alarms.map(alarmKey));
    var before = alarmKeys.get(d.id);
    alarmKeys.set(d.id, keys);
    if (first) {
      known.add(d.id);
      return;
    }
    if (!known.has(d.id)) {
      known.add(d.id);
      if (d.stage !== "closed") {
        raise(d, "new", label("case_type", d.case_type) + " · " + areaOf(d));
      }
      return;
    }
    var fresh = alarms.filter(function (a) {
      return !before || !before.has(alarmKey(a));
    });
    if (fresh.length && d.stage !== "closed") {
      raise(d, "alarm", fresh[0].message || fresh[0].lead || label("paging", fresh[0].kind));
    }
  }

  // Using the page (a click or a key) is seeing what it says.
  function seen() {
    if (!attention.size || document.visibilityState !== "visible") return;
    attention.clear();
    showTitle();
    queueRender();
  }

  function setUpSettings() {
    var sound = document.getElementById("alert-sound");
    var notifyBox = document.getElementById("alert-notify");
    var note = document.getElementById("alert-note");
    if (!sound || !notifyBox) return;
    sound.checked = settings.sound;
    notifyBox.checked = settings.notify && "Notification" in window;
    sound.addEventListener("change", function () {
      settings.sound = sound.checked;
      saveSettings();
      if (sound.checked) tone(); // a click may start the sound; and a sample of it
    });
    notifyBox.addEventListener("change", function () {
      note.textContent = "";
      if (!notifyBox.checked) {
        settings.notify = false;
        saveSettings();
        return;
      }
      if (!("Notification" in window)) {
        notifyBox.checked = false;
        note.textContent = C.notify_unsupported;
        return;
      }
      var decided = function (permission) {
        var granted = permission === "granted";
        notifyBox.checked = granted;
        settings.notify = granted;
        saveSettings();
        if (!granted) note.textContent = C.notify_denied;
      };
      if (Notification.permission !== "default") {
        decided(Notification.permission);
      } else {
        var asked = Notification.requestPermission(decided);
        if (asked && asked.then) asked.then(decided);
      }
    });
    // A browser starts sound only after a gesture: the first click on the page.
    document.addEventListener(
      "pointerdown",
      function () {
        if (settings.sound && audio && audio.state === "suspended") audio.resume();
      },
      { once: true }
    );
  }

  // --- control-room actions ---------------------------------------------------------

  function uiKey(id) {
    var error = errors.get(id);
    return (
      (busy.get(id) || "") +
      "|" +
      (error ? error.text : "") +
      "|" +
      (attention.has(id) ? "new" : "")
    );
  }

  function choice(id) {
    if (!choices.has(id)) {
      choices.set(id, {
        consult: "phone",
        outcome: "",
        helped: "",
        missing: "",
        card: null,
        evaluation: false,
      });
    }
    return choices.get(id);
  }

  // The outcomes a close may have now (the rules of dispatch.lifecycle, as far as the
  // summary shows them).
  function outcomesFor(d) {
    var accepted = anyAccepted(d);
    var out = [];
    if (d.arrived_at) out.push("joint_on_scene");
    ["phone", "video"].forEach(function (kind) {
      if (d.consult_kind === kind || (!d.consult_kind && accepted)) out.push(kind + "_consult");
    });
    out.push("no_consult");
    var nobody = d.paging_state === "no_responder" || !(d.assignments || []).length;
    if (nobody && !d.police_call) out.push("no_responder");
    return out;
  }

  // Which actions fit the summary now (the server has the last word).
  function actionsFor(d) {
    if (d.stage === "closed") return {};
    var accepted = anyAccepted(d);
    var stage = d.stage || "melding";
    var nobody = d.paging_state === "no_responder" || !(d.assignments || []).length;
    return {
      // once someone accepted, until it was said
      safe_to_enter: !BEFORE_ACCEPT[stage] && !d.safe_at && !d.police_call,
      // "Half bezet": one of two found; the control room says whether they go alone
      half_staffed: d.paging_state === "partial" && !d.half_staffed_decision,
      consult: !d.consult_kind,
      // only after the worker arrived or a consult (else the server refuses it)
      police_left: !d.police_left_at && !!(d.arrived_at || d.consult_kind),
      cancel: !d.arrived_at,
      // not before anyone accepted, consulted, or paging found nobody
      close: accepted || !!d.consult_kind || nobody || !BEFORE_ACCEPT[stage],
    };
  }

  // The Dutch text for a refusal: the dashboard's own where it says more.
  function refusal(status, payload, body) {
    var detail = (payload && payload.detail) || {};
    if (detail.error === "invalid_transition" && detail.stage !== "closed") {
      var key = body.action === "close" ? "close." + body.outcome : body.action;
      if (L.refused[key]) return L.refused[key];
    }
    if (status === 401) return L.live.not_authenticated;
    if (status === 404) return C.not_found;
    if (status >= 500) return C.server;
    var text = S.errorText(L, status, payload);
    return text === L.error.other ? C.failed : text;
  }

  function showError(id, text) {
    if (text) errors.set(id, { text: text, until: Date.now() + ERROR_KEEP_MS });
    else errors.delete(id);
    render();
  }

  function act(d, body, done) {
    if (busy.has(d.id)) return;
    busy.set(d.id, body.action === "checklist" ? "checklist:" + body.item : body.action);
    errors.delete(d.id);
    render();
    var failed = null;
    S.postAction("/api/v1/incidents/" + encodeURIComponent(d.id) + "/actions", body)
      .then(function (answer) {
        var payload = answer.payload;
        if (!answer.ok) {
          failed = refusal(answer.status, payload, body);
        } else {
          if (payload && payload.id === d.id && incidents.has(d.id)) {
            incidents.set(d.id, payload);
          }
          if (done) done();
        }
      })
      .catch(function () {
        failed = C.network;
      })
      .then(function () {
        busy.delete(d.id);
        showError(d.id, failed);
      });
  }

  function actionButton(d, action, text, onClick) {
    var pending = busy.get(d.id);
    var button = el("button", {
      type: "button",
      class: "action action-" + action,
      dataset: { action: action, focus: "action-" + action },
      disabled: !!pending,
      "aria-busy": pending === action ? "true" : null,
      text: pending === action ? C.busy : text,
    });
    button.addEventListener("click", onClick);
    return button;
  }

  function choiceSelect(d, name, title, options) {
    var picked = choice(d.id);
    if (
      !options.some(function (o) {
        return o[0] === picked[name];
      })
    ) {
      picked[name] = options[0][0];
    }
    var select = el(
      "select",
      {
        name: name,
        "aria-label": title,
        disabled: busy.has(d.id),
        dataset: { focus: "select-" + name },
      },
      options.map(function (o) {
        return el("option", { value: o[0], selected: picked[name] === o[0], text: o[1] });
      })
    );
    select.addEventListener("change", function () {
      picked[name] = select.value;
    });
    return select;
  }

  // The evaluation note: two optional texts sent with the close (never shown again here).
  function evaluationFields(d) {
    var picked = choice(d.id);
    var fields = ["helped", "missing"].map(function (name) {
      var id = "eval-" + name + "-" + d.id;
      var area = el("textarea", {
        id: id,
        name: name,
        rows: 2,
        maxlength: 2000,
        disabled: busy.has(d.id),
        dataset: { focus: "eval-" + name },
      });
      area.value = picked[name];
      area.addEventListener("input", function () {
        picked[name] = area.value;
      });
      return el("div", { class: "field" }, el("label", { for: id, text: C[name] }), area);
    });
    var details = el(
      "details",
      { class: "evaluation", open: picked.evaluation },
      el("summary", { text: C.evaluation, dataset: { focus: "eval-summary" } }),
      el("p", { class: "hint", text: C.evaluation_hint }),
      fields
    );
    details.addEventListener("toggle", function () {
      picked.evaluation = details.open;
    });
    return details;
  }

  function closeBody(d) {
    var picked = choice(d.id);
    var body = { action: "close", outcome: picked.outcome };
    var helped = picked.helped.trim();
    var missing = picked.missing.trim();
    if (helped || missing) body.evaluation_note = { helped: helped, missing: missing };
    return body;
  }

  function actionsCell(d) {
    var can = actionsFor(d);
    var parts = [];
    if (can.half_staffed) {
      parts.push(
        el(
          "div",
          {
            class: "action-group half-staffed",
            role: "group",
            "aria-label": C.half_staffed_question,
          },
          actionButton(d, "half_staffed_alone", C.half_staffed_alone, function () {
            act(d, { action: "half_staffed", decision: "alone" });
          }),
          actionButton(d, "half_staffed_phone", C.half_staffed_phone, function () {
            act(d, { action: "half_staffed", decision: "phone" });
          })
        )
      );
    }
    if (can.safe_to_enter) {
      parts.push(
        actionButton(d, "safe_to_enter", C.safe_to_enter, function () {
          act(d, { action: "safe_to_enter" });
        })
      );
    }
    if (can.consult) {
      parts.push(
        el(
          "div",
          { class: "action-group" },
          choiceSelect(d, "consult", C.consult_kind, [
            ["phone", label("consult", "phone")],
            ["video", label("consult", "video")],
          ]),
          actionButton(d, "consult", C.consult, function () {
            act(d, { action: "consult", kind: choice(d.id).consult });
          })
        )
      );
    }
    if (can.police_left) {
      parts.push(
        actionButton(d, "police_left", C.police_left, function () {
          act(d, { action: "police_left" });
        })
      );
    }
    if (can.close) {
      parts.push(
        el(
          "div",
          { class: "action-group close-group" },
          choiceSelect(
            d,
            "outcome",
            C.outcome,
            [["", C.choose_outcome]].concat(
              outcomesFor(d).map(function (o) {
                return [o, label("outcome", o)];
              })
            )
          ),
          evaluationFields(d),
          actionButton(d, "close", C.close, function () {
            if (!choice(d.id).outcome) {
              showError(d.id, C.outcome_missing);
              return;
            }
            act(d, closeBody(d), function () {
              var picked = choice(d.id);
              picked.helped = picked.missing = "";
              picked.evaluation = false;
            });
          })
        )
      );
    }
    if (can.cancel) {
      parts.push(
        actionButton(d, "cancel", C.cancel, function () {
          if (window.confirm(C.cancel_confirm.replace("{reference}", d.reference))) {
            act(d, { action: "cancel" });
          }
        })
      );
    }
    if (!parts.length && d.stage !== "closed") {
      parts.push(el("p", { class: "none-now", text: C.none_now }));
    }
    var error = errors.get(d.id);
    if (error) parts.push(el("p", { class: "action-error", role: "alert", text: error.text }));
    return cell(
      8,
      "actions",
      parts.length
        ? el(
            "div",
            { role: "group", "aria-label": fill(C.actions_for, { reference: d.reference }) },
            parts
          )
        : null
    );
  }

  // --- the pocket card "Veiligheid voorop" ---------------------------------------------

  function checkItem(d, item) {
    var ticked = (d.checklist || {})[item];
    var closed = d.stage === "closed";
    var pending = busy.get(d.id);
    var id = "check-" + item + "-" + d.id;
    var box = el("input", {
      type: "checkbox",
      id: id,
      checked: !!ticked,
      disabled: closed || !!pending,
      "aria-busy": pending === "checklist:" + item ? "true" : null,
      dataset: { item: item, focus: "check-" + item },
    });
    box.addEventListener("change", function () {
      act(d, { action: "checklist", item: item, done: box.checked });
    });
    var hint = C["hint." + item];
    var when = ticked
      ? ticked.by
        ? fill(C.ticked_by, { time: S.clock(ticked.at), who: String(ticked.by).replace(/^\w+:/, "") })
        : fill(C.ticked, { time: S.clock(ticked.at) })
      : null;
    return el(
      "li",
      { class: "check" + (ticked ? " done" : ""), dataset: { item: item } },
      box,
      el(
        "label",
        { for: id },
        el("span", { class: "check-label", text: C["checklist." + item] || item }),
        hint ? el("small", { class: "check-hint", text: hint }) : null,
        when ? el("small", { class: "check-when", text: when }) : null
      )
    );
  }

  function checklistRow(d) {
    var picked = choice(d.id);
    var items = CHECKLIST.concat(d.forensic ? FORENSIC : []);
    var done = items.filter(function (i) {
      return (d.checklist || {})[i];
    }).length;
    var open = picked.card === null ? d.stage !== "closed" : picked.card;
    var details = el(
      "details",
      { class: "pocket-card", open: open },
      el(
        "summary",
        { dataset: { focus: "card-summary" } },
        el("strong", { text: C.checklist_title }),
        " ",
        el("small", { text: C.checklist_sub }),
        " · ",
        el("span", {
          class: "checklist-count",
          text: fill(C.checklist_done, { done: done, total: items.length }),
        })
      ),
      el("ul", { class: "checklist" }, CHECKLIST.map(function (i) {
        return checkItem(d, i);
      })),
      d.forensic
        ? el(
            "div",
            { class: "forensic" },
            el("ul", { class: "checklist" }, FORENSIC.map(function (i) {
              return checkItem(d, i);
            }))
          )
        : null
    );
    details.addEventListener("toggle", function () {
      picked.card = details.open;
    });
    var extra = [];
    if (d.time_read && d.time_read.text) {
      // the report's local time fell in the clock change: how it was read
      extra.push(el("p", { class: "time-read", role: "note", text: d.time_read.text }));
    }
    if (d.forensic && d.stage !== "closed") {
      extra.push(el("p", { class: "forensic-prompt", role: "note", text: C.forensic }));
    }
    if (d.mandate && ((d.mandate.may || []).length || d.mandate.note)) {
      extra.push(
        el(
          "p",
          { class: "mandate" },
          el("strong", { text: C.mandate + ": " }),
          (d.mandate.may || [])
            .map(function (m) {
              return m.text || m.key;
            })
            .join(", "),
          d.mandate.note ? el("span", { class: "mandate-note", text: " " + d.mandate.note }) : null
        )
      );
    }
    return el(
      "tr",
      { class: "incident-detail", dataset: { id: d.id } },
      el("td", { colspan: headers.length || 9 }, extra, details)
    );
  }

  // --- rendering ------------------------------------------------------------------

  // A cell that names its column (the phone layout shows each cell as "column: value").
  function cell(index, cls) {
    var td = el("td", { class: cls, dataset: { label: headers[index] || "" } });
    appendTo(td, Array.prototype.slice.call(arguments, 2));
    return td;
  }

  function appendTo(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) {
      child.forEach(function (c) {
        appendTo(node, c);
      });
    } else if (typeof child === "string" || typeof child === "number") {
      node.appendChild(document.createTextNode(String(child)));
    } else {
      node.appendChild(child);
    }
  }

  function areaOf(d) {
    return place(d.municipality) || place(d.basisteam) || "—";
  }

  function stageCell(d) {
    var parts = [
      el("strong", { class: "stage-label", text: label("stage", d.stage || "melding") }),
    ];
    if (d.stage === "closed" && d.outcome) {
      parts.push(el("div", { class: "outcome", text: label("outcome", d.outcome) }));
    }
    if (d.safe_at) {
      parts.push(el("div", { class: "safe", text: L.misc.safe + " (" + S.clock(d.safe_at) + ")" }));
    }
    if (d.consult_kind) {
      parts.push(
        el("div", { text: label("consult", d.consult_kind) + " " + S.clock(d.consult_at) })
      );
    }
    if (d.arrived_at) {
      parts.push(el("div", { text: L.misc.arrived + " " + S.clock(d.arrived_at) }));
    }
    if (d.police_left_at) {
      parts.push(el("div", { text: L.misc.police_left + " " + S.clock(d.police_left_at) }));
    }
    if (d.handover && d.handover.target) {
      parts.push(
        el("div", { text: L.misc.handover + ": " + label("handover", d.handover.target) })
      );
    }
    if ((d.evaluation_noted || []).length) {
      parts.push(el("div", { class: "evaluation-noted", text: C.evaluation_noted }));
    }
    return cell(4, "stage", parts);
  }

  function assignmentItem(a) {
    var status = label("assignment", a.status);
    var details = [status];
    if (a.status === "accepted" && a.answered_at) {
      details = [status + " " + S.clock(a.answered_at)];
    }
    if (a.arrived_at) {
      details.push(L.misc.arrived + " " + S.clock(a.arrived_at));
    } else if (a.eta_at) {
      details.push(L.misc.eta + " " + S.clock(a.eta_at));
    } else if (a.enroute_at) {
      details.push(L.stage.onderweg);
    }
    return el(
      "li",
      {
        class: "assignment-" + a.status,
        dataset: { position: String(a.position), status: a.status, waiting: a.waiting_since || "" },
      },
      a.purpose === "consult" ? L.misc.consult_prefix + " " : null,
      personName(a),
      " ",
      el("small", {
        text:
          (teamName(a) !== personName(a) ? "(" + teamName(a) + ") " : "") +
          "— " +
          details.join(" · "),
      })
    );
  }

  function pagingCell(d) {
    if (d.police_call && d.police_call.number) {
      // nobody is paged: the police phone the line themselves
      var link = S.telLink(d.police_call.number, { class: "tel police-call-number" });
      return cell(
        5,
        "paging police-call",
        el(
          "strong",
          { class: "police-call-lead" },
          C.police_call.replace("{number}", "").trim() + " ",
          link
        ),
        d.police_call.note ? el("div", { class: "police-call-note", text: d.police_call.note }) : null
      );
    }
    var list = (d.assignments || []).filter(function (a, i) {
      return a.status !== "planned" || i < 3;
    });
    return cell(
      5,
      "paging",
      el("strong", { class: "paging-state", text: label("paging", d.paging_state) }),
      el("ul", { class: "assignments" }, list.map(assignmentItem))
    );
  }

  function contactCell(d) {
    var items = [];
    (d.assignments || []).forEach(function (a) {
      if (a.status === "accepted" && a.phone) {
        items.push(
          el(
            "div",
            { class: "worker-contact" },
            personName(a) + ": ",
            S.telLink(a.phone, { class: "tel worker-phone" })
          )
        );
      }
    });
    if (d.police_unit || d.police_callback) {
      items.push(
        el(
          "div",
          { class: "police-contact" },
          L.misc.police + " " + (d.police_unit || "") + (d.police_callback ? ": " : ""),
          S.telLink(d.police_callback, { class: "tel police-phone" })
        )
      );
    }
    return cell(6, "contact", items);
  }

  function alarmCell(alarms) {
    return cell(
      7,
      "alarms",
      alarms.map(function (a) {
        return el(
          "strong",
          { class: "alarm alarm-" + a.kind, role: "alert", dataset: { kind: a.kind } },
          // "bel zelf": the numbers to phone, each a link that dials it
          (a.numbers || []).length ? a.lead : a.message || label("paging", a.kind),
          (a.numbers || []).length
            ? el(
                "span",
                { class: "alarm-numbers" },
                a.numbers.map(function (n, i) {
                  var link = S.telLink(n.tel, { class: "tel" });
                  link.textContent = n.phone;
                  return el("span", { class: "alarm-number" }, i ? ", " : " ", n.who + " ", link);
                })
              )
            : null,
          a.since ? el("small", { text: " (" + L.misc.since + " " + S.clock(a.since) + ")" }) : null
        );
      })
    );
  }

  // What the police told about the household: roles and ages, and the flags.
  function householdBlock(d) {
    var h = d.household || {};
    var persons = (h.persons || []).map(function (p) {
      return p.text;
    });
    var flags = (h.flags || []).map(function (f) {
      return el("li", { class: "flag flag-" + f.flag, text: f.text });
    });
    if (!persons.length && !flags.length) {
      return el("div", { class: "household none", text: C.household_none });
    }
    return el(
      "div",
      { class: "household" },
      el("span", { class: "visually-hidden", text: C.household + ": " }),
      persons.length ? el("div", { class: "persons", text: persons.join(", ") }) : null,
      flags.length ? el("ul", { class: "flags" }, flags) : null
    );
  }

  function mainRow(d, alarms) {
    var area = areaOf(d);
    var team = basisteamOf(d);
    var sub = [d.municipality && team ? place(team) : null, place(d.region)]
      .filter(Boolean)
      .join(" · ");
    var classes = [
      "incident",
      "stage-" + (d.stage || "melding"),
      "paging-" + d.paging_state,
      "status-" + d.status,
    ];
    if (alarms.length) classes.push("has-alarm");
    if (attention.has(d.id)) classes.push("is-new");
    var mode = d.mode ? fill(C.planned_mode, { mode: label("mode", d.mode) }) : null;
    return el(
      "tr",
      {
        class: classes.join(" "),
        dataset: {
          id: d.id,
          reference: d.reference,
          paging: d.paging_state || "",
          stage: d.stage || "melding",
          basisteam: basisteamOf(d),
        },
      },
      cell(
        0,
        "reference",
        el("code", { text: d.reference }),
        attention.has(d.id) ? el("span", { class: "badge-new", text: C.new }) : null
      ),
      cell(
        1,
        "reported",
        S.clock(d.reported_at),
        el("br"),
        el("small", {
          class: "elapsed",
          title: L.misc.elapsed,
          dataset: { since: d.reported_at || "" },
          text: S.since(d.reported_at),
        }),
        d.time_read && d.time_read.text
          ? el("small", { class: "time-flag", text: C.time_read_short })
          : null
      ),
      cell(2, "area", area, sub ? [el("br"), el("small", { text: sub })] : null),
      cell(
        3,
        "kind",
        el("div", { class: "case-type", text: label("case_type", d.case_type) }),
        el("small", {
          class: "planned-mode",
          text: mode || label("status", d.status),
        }),
        householdBlock(d)
      ),
      stageCell(d),
      pagingCell(d),
      contactCell(d),
      alarmCell(alarms),
      actionsCell(d)
    );
  }

  function buildGroup(d, alarms) {
    return el(
      "tbody",
      { class: "incident-group", dataset: { id: d.id } },
      mainRow(d, alarms),
      checklistRow(d)
    );
  }

  // Replacing a group must not take the focus away from someone using it. A control
  // that is disabled while its request runs gets the focus back when it is enabled
  // again (unless the focus went somewhere else meanwhile).
  var refocus = new Map(); // dispatch id -> the control to focus once it is enabled

  function replaceKeepingFocus(id, old, fresh) {
    var active = document.activeElement;
    var inside = active && old.contains(active) && active.dataset;
    var key = inside ? active.dataset.focus : null;
    if (!key && (!active || active === document.body)) key = refocus.get(id) || null;
    refocus.delete(id);
    var start = inside && "selectionStart" in active ? active.selectionStart : null;
    var end = inside && "selectionEnd" in active ? active.selectionEnd : null;
    old.replaceWith(fresh);
    if (!key) return;
    var again = fresh.querySelector("[data-focus='" + key + "']");
    if (!again) return;
    if (again.disabled) {
      refocus.set(id, key);
      return;
    }
    again.focus();
    if (start !== null && typeof again.setSelectionRange === "function") {
      try {
        again.setSelectionRange(start, end);
      } catch (err) {
        /* not a text field */
      }
    }
  }

  function order(a, b) {
    var ac = a.stage === "closed" ? 1 : 0;
    var bc = b.stage === "closed" ? 1 : 0;
    if (ac !== bc) return ac - bc;
    var at = a.reported_at || "";
    var bt = b.reported_at || "";
    if (at !== bt) return at < bt ? 1 : -1;
    return a.reference < b.reference ? 1 : -1;
  }

  var firstRender = true;

  function render() {
    renderQueued = false;
    var nowMs = Date.now();
    var wanted = filter ? filter.value : "";
    var list = Array.from(incidents.values()).sort(order);
    var seenIds = new Set();
    var shown = 0;
    list.forEach(function (d) {
      var alarms = alarmsOf(d, nowMs);
      watch(d, alarms, firstRender);
      var row = rows.get(d.id);
      if (stale(row, d, alarms)) {
        var group = buildGroup(d, alarms);
        if (row) replaceKeepingFocus(d.id, row.group, group);
        row = { summary: d, alarms: JSON.stringify(alarms), ui: uiKey(d.id), group: group };
        rows.set(d.id, row);
      }
      var visible = !wanted || basisteamOf(d) === wanted;
      row.group.hidden = !visible;
      if (visible) shown += 1;
      if (table.lastElementChild !== row.group) table.appendChild(row.group); // sorted place
      seenIds.add(d.id);
    });
    rows.forEach(function (row, id) {
      if (!seenIds.has(id)) {
        row.group.remove();
        rows.delete(id);
        errors.delete(id);
        choices.delete(id);
        alarmKeys.delete(id);
        attention.delete(id);
        refocus.delete(id);
      }
    });
    firstRender = false;
    showTitle();
    empty.hidden = shown > 0;
    empty.textContent = wanted ? L.misc.empty_filtered : L.misc.empty;
    count.textContent = String(shown);
  }

  function queueRender() {
    if (renderQueued) return;
    renderQueued = true;
    (window.requestAnimationFrame || setTimeout)(render);
  }

  function tick() {
    var nowMs = Date.now();
    var dropped = false;
    errors.forEach(function (error, id) {
      if (nowMs >= error.until) errors.delete(id);
    });
    incidents.forEach(function (d, id) {
      if (d.stage === "closed" && d.closed_at && nowMs - Date.parse(d.closed_at) > CLOSED_KEEP_MS) {
        incidents.delete(id);
        dropped = true;
      }
    });
    if (dropped) {
      render();
    } else {
      // an unanswered page may have crossed the alarm line since the last event
      var changed = false;
      rows.forEach(function (row, id) {
        var d = incidents.get(id);
        if (d && stale(row, d, alarmsOf(d, nowMs))) changed = true;
      });
      if (changed) render();
    }
    var cells = table.querySelectorAll("[data-since]");
    for (var i = 0; i < cells.length; i++) {
      cells[i].textContent = S.since(cells[i].dataset.since, nowMs);
    }
  }

  // --- live connection ------------------------------------------------------------

  var STATUS_TEXT = {
    connecting: L.live.connecting,
    live: L.live.live,
    reconnecting: L.live.reconnecting,
    not_authenticated: L.live.not_authenticated,
    forbidden: L.live.forbidden,
    bad_subscription: L.live.forbidden,
  };

  function showStatus(state) {
    indicator.dataset.state = state;
    indicator.className = "live live-" + state;
    indicator.textContent = STATUS_TEXT[state] || state;
  }

  function replaceAll(dispatches) {
    incidents.clear();
    dispatches.forEach(function (d) {
      incidents.set(d.id, d);
    });
    queueRender();
  }

  (DATA.dispatches || []).forEach(function (d) {
    incidents.set(d.id, d);
  });

  if (filter) {
    var fromUrl = new URLSearchParams(location.search).get("basisteam");
    if (fromUrl) filter.value = fromUrl;
    filter.addEventListener("change", function () {
      var url = new URL(location.href);
      if (filter.value) url.searchParams.set("basisteam", filter.value);
      else url.searchParams.delete("basisteam");
      history.replaceState(null, "", url);
      render();
    });
  }
  setUpSettings();
  document.addEventListener("pointerdown", seen);
  document.addEventListener("keydown", seen);
  render();
  setInterval(tick, 1000);

  S.connect({
    params: {},
    onStatus: showStatus,
    onSnapshot: function (msg) {
      replaceAll(msg.dispatches || []);
    },
    onEvent: function (msg) {
      var d = msg.dispatch;
      if (d && d.id) {
        incidents.set(d.id, d);
        queueRender();
      }
    },
    onFinal: function (code) {
      if (code === 4401) location.assign("/login");
    },
  });
})();
