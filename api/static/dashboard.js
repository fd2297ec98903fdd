// The control-room dashboard: open incidents kept live from the websocket.
//
// The page starts from the list the server rendered into it, then follows /ws: a
// "snapshot" replaces everything, every "event" carries the dispatch's full current
// summary, which replaces that incident's row. Rows are rebuilt only when their summary
// changed; the time since the report ticks every second.
//
// Each open incident has the control room's action buttons that fit its summary. A
// click posts the action as JSON to /api/v1/incidents/<id>/actions (the sign-in cookie
// counts); the answer's summary is shown at once and the websocket event confirms it.
// A request in flight and a refusal (in Dutch) are kept per incident, so a row rebuilt
// by a new summary keeps showing them.
(function () {
  "use strict";

  var S = window.SamenOp;
  var el = S.el;
  var DATA = S.pageData("dashboard-data");
  var L = DATA.labels;
  var CLOSED_KEEP_MS = 2 * 3600 * 1000; // closed incidents stay in view this long
  var UNANSWERED_S = 180; // when a summary does not say (unanswered_after_seconds)
  var FINISHED_PAGING = { accepted: 1, no_responder: 1, partial: 1 };
  var ERROR_KEEP_MS = 10000; // a refusal stays in its row this long
  var BEFORE_ACCEPT = { melding: 1, paging: 1 };
  var CLOSE_OUTCOMES = [
    "joint_on_scene",
    "phone_consult",
    "video_consult",
    "no_consult",
    "no_responder",
  ];

  var incidents = new Map(); // dispatch id -> summary
  var rows = new Map(); // dispatch id -> {summary, alarms, ui, tr}
  var busy = new Map(); // dispatch id -> the action whose request is in flight
  var errors = new Map(); // dispatch id -> {text, until}: the last refusal
  var choices = new Map(); // dispatch id -> {consult, outcome}: the selects' values
  var tbody = document.querySelector("#dispatches tbody");
  var empty = document.getElementById("empty");
  var count = document.getElementById("count");
  var filter = document.getElementById("basisteam-filter");
  var indicator = document.getElementById("live");
  var renderQueued = false;

  function label(table, key) {
    if (key === null || key === undefined || key === "") return "—";
    return (L[table] && L[table][key]) || key;
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
      !row || row.summary !== d || row.alarms !== JSON.stringify(alarms) || row.ui !== uiKey(d.id)
    );
  }

  // --- control-room actions ---------------------------------------------------------

  var C = L.control;

  function uiKey(id) {
    var error = errors.get(id);
    return (busy.get(id) || "") + "|" + (error ? error.text : "");
  }

  function choice(id) {
    if (!choices.has(id)) choices.set(id, { consult: "phone", outcome: "" });
    return choices.get(id);
  }

  // Which actions fit the summary now (the server has the last word).
  function actionsFor(d) {
    if (d.stage === "closed") return {};
    return {
      safe_to_enter: !BEFORE_ACCEPT[d.stage || "melding"] && !d.safe_at, // once accepted
      // "Half bezet": one of two found; the control room says whether they go alone
      half_staffed: d.paging_state === "partial" && !d.half_staffed_decision,
      consult: !d.consult_kind,
      police_left: !d.police_left_at,
      cancel: true,
      close: true,
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

  function act(d, body) {
    if (busy.has(d.id)) return;
    busy.set(d.id, body.action);
    errors.delete(d.id);
    render();
    var failed = null;
    S.postAction("/api/v1/incidents/" + encodeURIComponent(d.id) + "/actions", body)
      .then(function (answer) {
        var payload = answer.payload;
        if (!answer.ok) {
          failed = refusal(answer.status, payload, body);
        } else if (payload && payload.id === d.id && incidents.has(d.id)) {
          incidents.set(d.id, payload);
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
      dataset: { action: action },
      disabled: !!pending,
      "aria-busy": pending === action ? "true" : null,
      text: pending === action ? C.busy : text,
    });
    button.addEventListener("click", onClick);
    return button;
  }

  function choiceSelect(d, name, title, options) {
    var picked = choice(d.id);
    var select = el(
      "select",
      { name: name, "aria-label": title, disabled: busy.has(d.id) },
      options.map(function (o) {
        return el("option", { value: o[0], selected: picked[name] === o[0], text: o[1] });
      })
    );
    select.addEventListener("change", function () {
      picked[name] = select.value;
    });
    return select;
  }

  function actionsCell(d) {
    var can = actionsFor(d);
    var parts = [];
    if (can.half_staffed) {
      parts.push(
        el(
          "div",
          { class: "action-group half-staffed", role: "group", "aria-label": C.half_staffed_question },
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
          { class: "action-group" },
          choiceSelect(
            d,
            "outcome",
            C.outcome,
            [["", C.choose_outcome]].concat(
              CLOSE_OUTCOMES.map(function (o) {
                return [o, label("outcome", o)];
              })
            )
          ),
          actionButton(d, "close", C.close, function () {
            var outcome = choice(d.id).outcome;
            if (!outcome) showError(d.id, C.outcome_missing);
            else act(d, { action: "close", outcome: outcome });
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
    var error = errors.get(d.id);
    if (error) parts.push(el("p", { class: "action-error", role: "alert", text: error.text }));
    return el("td", { class: "actions" }, parts);
  }

  // --- rendering ------------------------------------------------------------------

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
    return el("td", { class: "stage" }, parts);
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
        text: (teamName(a) !== personName(a) ? "(" + teamName(a) + ") " : "") + "— " + details.join(" · "),
      })
    );
  }

  function pagingCell(d) {
    var list = (d.assignments || []).filter(function (a, i) {
      return a.status !== "planned" || i < 3;
    });
    return el(
      "td",
      { class: "paging" },
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
    return el("td", { class: "contact" }, items);
  }

  function alarmCell(alarms) {
    return el(
      "td",
      { class: "alarms" },
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

  function buildRow(d, alarms) {
    var area = place(d.municipality) || place(d.basisteam) || "—";
    var team = basisteamOf(d);
    var sub = [d.municipality && team ? place(team) : null, place(d.region)]
      .filter(Boolean)
      .join(" · ");
    var kind = label("case_type", d.case_type);
    var classes = [
      "incident",
      "stage-" + (d.stage || "melding"),
      "paging-" + d.paging_state,
      "status-" + d.status,
    ];
    if (alarms.length) classes.push("has-alarm");
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
      el("td", { class: "reference" }, el("code", { text: d.reference })),
      el(
        "td",
        { class: "reported" },
        S.clock(d.reported_at),
        el("br"),
        el("small", {
          class: "elapsed",
          title: L.misc.elapsed,
          dataset: { since: d.reported_at || "" },
          text: S.since(d.reported_at),
        })
      ),
      el("td", { class: "area" }, area, sub ? [el("br"), el("small", { text: sub })] : null),
      el(
        "td",
        { class: "kind" },
        kind,
        el("br"),
        el("small", { text: d.mode ? label("mode", d.mode) : label("status", d.status) })
      ),
      stageCell(d),
      pagingCell(d),
      contactCell(d),
      alarmCell(alarms),
      actionsCell(d)
    );
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

  function render() {
    renderQueued = false;
    var nowMs = Date.now();
    var wanted = filter ? filter.value : "";
    var list = Array.from(incidents.values()).sort(order);
    var seen = new Set();
    var shown = 0;
    list.forEach(function (d) {
      var alarms = alarmsOf(d, nowMs);
      var row = rows.get(d.id);
      if (stale(row, d, alarms)) {
        var tr = buildRow(d, alarms);
        if (row) row.tr.replaceWith(tr);
        row = { summary: d, alarms: JSON.stringify(alarms), ui: uiKey(d.id), tr: tr };
        rows.set(d.id, row);
      }
      var visible = !wanted || basisteamOf(d) === wanted;
      row.tr.hidden = !visible;
      if (visible) shown += 1;
      tbody.appendChild(row.tr); // moves it into sorted place
      seen.add(d.id);
    });
    rows.forEach(function (row, id) {
      if (!seen.has(id)) {
        row.tr.remove();
        rows.delete(id);
        errors.delete(id);
        choices.delete(id);
      }
    });
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
    var cells = tbody.querySelectorAll("[data-since]");
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
