// The planner's team page: the week and month calendar, filling a gap, the editors.
//
// Everything the page shows comes from the planning API (/api/v1/planning/...), and every
// change goes through it in two steps: a dry run (?dry_run=true) whose calendar diff and
// warnings are shown, then the save (with accept_warnings when the planner ticked it).
// A saved change can be undone (POST /api/v1/planning/changes/{version}/undo). Writes
// carry the session's CSRF token from <meta name="csrf-token">. After a change the page
// itself is fetched again for its data island, so the editors show what is stored.
(function () {
  "use strict";

  var island = document.getElementById("planner-data");
  if (!island) return;
  var data = JSON.parse(island.textContent);
  var L = data.labels;
  var team = data.team;
  var csrfMeta = document.querySelector("meta[name='csrf-token']");
  var notice = document.getElementById("notice");
  var errorBox = document.getElementById("error");
  var calendarBox = document.getElementById("calendar");
  var periodBox = document.getElementById("period");
  var state = { view: data.view, start: data.start, lastUndo: null, pending: null };
  var TZ = "Europe/Amsterdam";

  // --- talking to the API -------------------------------------------------------------

  function api(method, url, body, contentType) {
    var headers = { Accept: "application/json" };
    if (csrfMeta && csrfMeta.content) headers["X-CSRF-Token"] = csrfMeta.content;
    var payload;
    if (body !== undefined) {
      headers["Content-Type"] = contentType || "application/json";
      payload = contentType ? body : JSON.stringify(body);
    }
    return fetch(url, {
      method: method,
      headers: headers,
      credentials: "same-origin",
      body: payload,
    }).then(
      function (response) {
        return response
          .json()
          .catch(function () {
            return null;
          })
          .then(function (json) {
            return { ok: response.ok, status: response.status, data: json };
          });
      },
      function () {
        return { ok: false, status: 0, data: null };
      }
    );
  }

  function detailText(json) {
    if (!json) return "?";
    var detail = json.detail;
    if (typeof detail === "string") return detail;
    var errors = (detail && detail.errors) || json.errors;
    if (Array.isArray(errors)) {
      return errors
        .map(function (e) {
          return (e.field || "") + ": " + (e.rule || e.msg || "");
        })
        .join("; ");
    }
    if (detail && typeof detail.message === "string") return detail.message;
    return "?";
  }

  function problem(result) {
    if (result.status === 0) return L.no_connection;
    if (result.status === 401) return L.signed_out;
    if (result.status === 403) return L.refused.replace("{detail}", detailText(result.data));
    return L.failed.replace("{detail}", detailText(result.data));
  }

  function say(text) {
    errorBox.hidden = true;
    notice.textContent = text;
    notice.hidden = false;
  }

  function fail(text) {
    notice.hidden = true;
    errorBox.textContent = text;
    errorBox.hidden = false;
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "cls") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) {
      if (c) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  // --- time in Amsterdam ----------------------------------------------------------------

  var partsFormat = new Intl.DateTimeFormat("en-GB", {
    timeZone: TZ,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  });

  function parts(date) {
    var out = {};
    partsFormat.formatToParts(date).forEach(function (p) {
      out[p.type] = p.value;
    });
    return out;
  }

  function localDay(date) {
    var p = parts(date);
    return p.year + "-" + p.month + "-" + p.day;
  }

  function hhmm(date) {
    var p = parts(date);
    return p.hour + ":" + p.minute;
  }

  function offsetMinutes(date) {
    var p = parts(date);
    var asUtc = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute);
    return Math.round((asUtc - Math.floor(date.getTime() / 60000) * 60000) / 60000);
  }

  // The instant of local midnight of "YYYY-MM-DD" in Amsterdam (DST-safe).
  function midnight(day) {
    var y = +day.slice(0, 4);
    var m = +day.slice(5, 7) - 1;
    var d = +day.slice(8, 10);
    var guess = new Date(Date.UTC(y, m, d) - 60 * 60000);
    var instant = new Date(Date.UTC(y, m, d) - offsetMinutes(guess) * 60000);
    return new Date(Date.UTC(y, m, d) - offsetMinutes(instant) * 60000);
  }

  function addDays(day, n) {
    var date = new Date(Date.UTC(+day.slice(0, 4), +day.slice(5, 7) - 1, +day.slice(8, 10) + n));
    return date.toISOString().slice(0, 10);
  }

  function weekday(day) {
    return (new Date(Date.UTC(+day.slice(0, 4), +day.slice(5, 7) - 1, +day.slice(8, 10))).getUTCDay() + 6) % 7;
  }

  var dayFormat = new Intl.DateTimeFormat("nl-NL", {
    timeZone: "UTC",
    weekday: "short",
    day: "numeric",
    month: "short",
  });

  function dayLabel(day) {
    return dayFormat.format(new Date(day + "T12:00:00Z"));
  }

  function localInput(date) {
    var p = parts(date);
    return p.year + "-" + p.month + "-" + p.day + "T" + p.hour + ":" + p.minute;
  }

  function span(start, end) {
    var a = new Date(start);
    var b = new Date(end);
    var sameDay = localDay(a) === localDay(new Date(b.getTime() - 1));
    return (
      dayLabel(localDay(a)) +
      " " +
      hhmm(a) +
      " – " +
      (sameDay ? "" : dayLabel(localDay(b)) + " ") +
      hhmm(b)
    );
  }

  // --- the calendar ---------------------------------------------------------------------

  function range() {
    var first;
    var days;
    if (state.view === "month") {
      var monthStart = state.start.slice(0, 8) + "01";
      first = addDays(monthStart, -weekday(monthStart));
      var nextMonth = addDays(monthStart, 32).slice(0, 8) + "01";
      days = Math.ceil(((Date.parse(nextMonth) - Date.parse(first)) / 86400000) / 7) * 7;
    } else {
      first = addDays(state.start, -weekday(state.start));
      days = 7;
    }
    var list = [];
    for (var i = 0; i < days; i++) list.push(addDays(first, i));
    return list;
  }

  function overlaps(item, lo, hi) {
    return Date.parse(item.start) < hi.getTime() && Date.parse(item.end) > lo.getTime();
  }

  function blockNode(b, lo, hi, compact) {
    var from = new Date(Math.max(Date.parse(b.start), lo.getTime()));
    var to = new Date(Math.min(Date.parse(b.end), hi.getTime()));
    var cls = "block " + b.layer + (b.reachable ? "" : " unreachable");
    var label = compact ? b.name : hhmm(from) + "–" + hhmm(to) + " " + b.name;
    var node = el("li", { cls: cls, "data-person": b.person, "data-source": b.source }, [label]);
    if (!compact) node.appendChild(el("span", { cls: "layer", text: " (" + L[b.layer] + ")" }));
    if (b.source === "override")
      node.appendChild(el("span", { cls: "badge", text: L.source_override }));
    if (b.source === "shift")
      node.appendChild(el("span", { cls: "badge shift", text: L.source_shift }));
    if (!b.reachable) node.appendChild(el("span", { cls: "badge", text: L.unreachable }));
    return node;
  }

  function gapNode(g, lo, hi, compact) {
    var from = new Date(Math.max(Date.parse(g.start), lo.getTime()));
    var to = new Date(Math.min(Date.parse(g.end), hi.getTime()));
    var text = L.gap + " " + hhmm(from) + "–" + hhmm(to) + ": " +
      L.gap_text.replace("{needed}", g.needed).replace("{available}", g.available);
    var node = el("div", { cls: "gap-box", "data-start": g.start, "data-end": g.end });
    node.appendChild(el("span", { text: compact ? L.gap : text }));
    if (!compact && data.may_edit) {
      var button = el("button", { type: "button", cls: "fill", text: L.fill });
      button.setAttribute("aria-label", L.fill + " " + text);
      button.addEventListener("click", function () {
        openFill(g);
      });
      node.appendChild(button);
    }
    return node;
  }

  function render(cal) {
    var days = range();
    calendarBox.textContent = "";
    calendarBox.className = "calendar " + state.view;
    var grid = el("div", { cls: "days", role: "list" });
    days.forEach(function (day) {
      var lo = midnight(day);
      var hi = midnight(addDays(day, 1));
      var cell = el("div", { cls: "day", role: "listitem", "data-day": day });
      if (state.view === "month" && day.slice(0, 7) !== state.start.slice(0, 7)) {
        cell.className += " other-month";
      }
      if (day === data.today) cell.className += " today";
      var heading = el("h4", {}, [dayLabel(day)]);
      if (state.view === "month") {
        var link = el("button", { type: "button", cls: "link", text: dayLabel(day) });
        link.addEventListener("click", function () {
          state.view = "week";
          state.start = day;
          load();
        });
        heading = el("h4", {}, [link]);
      }
      cell.appendChild(heading);
      cal.needs.forEach(function (n) {
        if (overlaps(n, lo, hi) && state.view === "week") {
          var from = new Date(Math.max(Date.parse(n.start), lo.getTime()));
          var to = new Date(Math.min(Date.parse(n.end), hi.getTime()));
          cell.appendChild(
            el("div", { cls: "need", text: hhmm(from) + "–" + hhmm(to) + " " + L.needs.replace("{staff}", n.staff) })
          );
        }
      });
      cal.gaps.forEach(function (g) {
        if (overlaps(g, lo, hi)) cell.appendChild(gapNode(g, lo, hi, state.view === "month"));
      });
      var list = el("ul", { cls: "blocks" });
      cal.blocks.forEach(function (b) {
        if (overlaps(b, lo, hi)) list.appendChild(blockNode(b, lo, hi, state.view === "month"));
      });
      if (!list.childNodes.length) list.appendChild(el("li", { cls: "empty", text: L.nobody }));
      cell.appendChild(list);
      grid.appendChild(cell);
    });
    calendarBox.appendChild(grid);
    periodBox.textContent = dayLabel(days[0]) + " – " + dayLabel(days[days.length - 1]);
    document.querySelectorAll("[data-view]").forEach(function (b) {
      b.setAttribute("aria-pressed", b.getAttribute("data-view") === state.view ? "true" : "false");
    });
  }

  function load() {
    var days = range();
    var url =
      "/api/v1/planning/teams/" + encodeURIComponent(team.id) + "/calendar?start=" +
      days[0] + "&end=" + addDays(days[days.length - 1], 1);
    calendarBox.setAttribute("aria-busy", "true");
    return api("GET", url).then(function (result) {
      calendarBox.removeAttribute("aria-busy");
      if (!result.ok) return fail(problem(result));
      render(result.data);
    });
  }

  document.querySelectorAll("[data-view]").forEach(function (b) {
    b.addEventListener("click", function () {
      state.view = b.getAttribute("data-view");
      load();
    });
  });
  document.querySelectorAll("[data-move]").forEach(function (b) {
    b.addEventListener("click", function () {
      var move = +b.getAttribute("data-move");
      if (move === 0) state.start = data.today;
      else if (state.view === "week") state.start = addDays(state.start, 7 * move);
      else {
        var d = new Date(Date.UTC(+state.start.slice(0, 4), +state.start.slice(5, 7) - 1 + move, 1));
        state.start = d.toISOString().slice(0, 10);
      }
      load();
    });
  });

  // --- preview, save, undo --------------------------------------------------------------

  var previewBox = document.getElementById("preview");
  var previewBody = document.getElementById("preview-body");
  var acceptLine = document.getElementById("preview-accept-line");
  var acceptBox = document.getElementById("preview-accept");
  var undoBar = document.getElementById("undo-bar");

  function withQuery(url, extra) {
    return url + (url.indexOf("?") >= 0 ? "&" : "?") + extra;
  }

  function showPreview(result) {
    previewBody.textContent = "";
    var any = false;
    result.calendar.forEach(function (diff) {
      [["added", L.added], ["removed", L.removed]].forEach(function (pair) {
        if (!diff[pair[0]].length) return;
        any = true;
        var list = el("ul", { cls: "diff " + pair[0] });
        diff[pair[0]].forEach(function (b) {
          list.appendChild(
            el("li", {}, [pair[1] + ": " + b.name + " (" + L[b.layer] + ") " + span(b.start, b.end)])
          );
        });
        previewBody.appendChild(list);
      });
      previewBody.appendChild(
        el("p", {
          cls: "gaps-count",
          text: L.gaps_before_after.replace("{before}", diff.gaps_before).replace("{after}", diff.gaps_after),
        })
      );
    });
    if (!any) previewBody.insertBefore(el("p", { text: L.nothing_changes }), previewBody.firstChild);
    var warnings = el("ul", { cls: "warnings" });
    result.warnings.forEach(function (w) {
      warnings.appendChild(el("li", { text: w.rule + ": " + w.text }));
    });
    previewBody.appendChild(el("h4", { text: L.warnings }));
    previewBody.appendChild(
      result.warnings.length ? warnings : el("p", { text: L.no_warnings })
    );
    acceptLine.hidden = !result.warnings.length;
    acceptBox.checked = false;
    previewBox.hidden = false;
    document.getElementById("preview-save").focus();
  }

  // A change: the dry run first; the save when the planner confirms the preview.
  function change(method, url, body, contentType) {
    errorBox.hidden = true;
    return api(method, withQuery(url, "dry_run=true"), body, contentType).then(function (result) {
      if (!result.ok) return fail(problem(result));
      state.pending = { method: method, url: url, body: body, contentType: contentType };
      showPreview(result.data);
      return result.data;
    });
  }

  function afterSave(result) {
    previewBox.hidden = true;
    document.getElementById("fill").hidden = true;
    state.pending = null;
    if (result.saved) {
      say(L.saved.replace("{version}", result.version));
      state.lastUndo = result.undo;
      document.getElementById("undo-text").textContent = L.saved.replace("{version}", result.version);
      undoBar.hidden = false;
    }
    return Promise.all([load(), refreshData()]);
  }

  document.getElementById("preview-save").addEventListener("click", function () {
    var p = state.pending;
    if (!p) return;
    var url = withQuery(p.url, "dry_run=false");
    if (acceptBox.checked) url = withQuery(url, "accept_warnings=true");
    api(p.method, url, p.body, p.contentType).then(function (result) {
      if (result.ok) return afterSave(result.data);
      if (result.status === 409 && result.data && result.data.detail && result.data.detail.error === "warnings_not_accepted") {
        return fail(L.conflict_warnings);
      }
      fail(problem(result));
    });
  });
  document.getElementById("preview-cancel").addEventListener("click", function () {
    previewBox.hidden = true;
    state.pending = null;
  });
  document.getElementById("undo").addEventListener("click", function () {
    if (!state.lastUndo) return;
    api("POST", state.lastUndo).then(function (result) {
      if (!result.ok) {
        return fail(result.status === 409 ? L.changed_since + " " + detailText(result.data) : problem(result));
      }
      undoBar.hidden = true;
      state.lastUndo = null;
      say(L.undone.replace("{version}", result.data.version));
      return Promise.all([load(), refreshData()]);
    });
  });

  // The page again, for its data island: the editors show what is stored now.
  function refreshData() {
    return fetch(location.pathname, { credentials: "same-origin" })
      .then(function (r) {
        return r.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("planner-data");
        if (!fresh) return;
        var next = JSON.parse(fresh.textContent);
        ["people", "rotations", "shifts", "overrides"].forEach(function (k) {
          data[k] = next[k];
        });
        renderEditors();
      })
      .catch(function () {});
  }

  // --- filling a gap --------------------------------------------------------------------

  var fillBox = document.getElementById("fill");

  function slug(text) {
    return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  }

  function openFill(gap) {
    var maxEnd = Date.parse(gap.start) + 31 * 86400000;
    var end = new Date(Math.min(Date.parse(gap.end), maxEnd)).toISOString();
    var list = document.getElementById("candidates");
    list.textContent = "";
    document.getElementById("fill-gap").textContent =
      L.gap + " " + span(gap.start, end) + ": " +
      L.gap_text.replace("{needed}", gap.needed).replace("{available}", gap.available);
    fillBox.hidden = false;
    list.appendChild(el("li", { text: L.loading }));
    var url =
      "/api/v1/planning/teams/" + encodeURIComponent(team.id) + "/gaps/candidates?start=" +
      encodeURIComponent(gap.start) + "&end=" + encodeURIComponent(end);
    api("GET", url).then(function (result) {
      list.textContent = "";
      if (!result.ok) return fail(problem(result));
      if (!result.data.length) list.appendChild(el("li", { text: L.no_candidates }));
      result.data.forEach(function (c) {
        var button = el("button", { type: "button", cls: "choose", "data-person": c.person, text: L.choose });
        button.setAttribute("aria-label", L.choose + " " + c.name);
        button.addEventListener("click", function () {
          var stamp = localInput(new Date(gap.start)).replace(/[^0-9]/g, "").slice(2, 12);
          var body = {
            id: ("inval-" + slug(c.person).slice(0, 40) + "-" + stamp).slice(0, 64),
            team: team.id,
            kind: "add",
            person: c.person,
            start: gap.start,
            end: end,
            layer: "primary",
            reason: L.replace_reason,
          };
          change("POST", "/api/v1/planning/overrides", body);
        });
        list.appendChild(
          el("li", { "data-person": c.person }, [
            el("strong", { text: c.name }),
            " — " + c.reasons.join("; ") + " ",
            button,
          ])
        );
      });
      var first = list.querySelector("button");
      if (first) first.focus();
    });
  }

  document.getElementById("fill-cancel").addEventListener("click", function () {
    fillBox.hidden = true;
  });

  // --- editors --------------------------------------------------------------------------

  function peopleOptions() {
    document.querySelectorAll("select[data-people]").forEach(function (select) {
      var current = select.value;
      select.textContent = "";
      if (select.hasAttribute("data-optional")) select.appendChild(el("option", { value: "", text: "—" }));
      data.people.forEach(function (p) {
        select.appendChild(el("option", { value: p.id, text: p.name + " (" + p.id + ")" }));
      });
      if (current) select.value = current;
    });
  }

  function removeButton(label, url) {
    var b = el("button", { type: "button", text: L["delete"] });
    b.setAttribute("aria-label", L["delete"] + ": " + label);
    b.addEventListener("click", function () {
      change("DELETE", url);
    });
    return b;
  }

  function name(id) {
    var found = data.people.filter(function (p) {
      return p.id === id;
    })[0];
    return found ? found.name : id;
  }

  function renderEditors() {
    if (!data.may_edit) return;
    peopleOptions();
    var ovList = document.getElementById("override-list");
    ovList.textContent = "";
    data.overrides.forEach(function (o) {
      var who = name(o.person) + (o.replaces ? " " + L["for"] + " " + name(o.replaces) : "");
      var label = (L["kind_" + o.kind] || o.kind) + ": " + who + ", " + span(o.start, o.end) + (o.reason ? " (" + o.reason + ")" : "");
      ovList.appendChild(
        el("li", { "data-id": o.id }, [label + " ", removeButton(label, "/api/v1/planning/overrides/" + encodeURIComponent(o.id))])
      );
    });
    var shList = document.getElementById("shift-list");
    shList.textContent = "";
    data.shifts.forEach(function (s) {
      var label = name(s.person) + " (" + L[s.layer || "primary"] + "), " + span(s.start, s.end);
      shList.appendChild(
        el("li", { "data-key": s.key }, [
          label + " ",
          removeButton(label, "/api/v1/planning/shifts?key=" + encodeURIComponent(s.key)),
        ])
      );
    });
    var rotList = document.getElementById("rotation-list");
    rotList.textContent = "";
    data.rotations.forEach(function (r) {
      var edit = el("button", { type: "button", text: L.edit });
      edit.setAttribute("aria-label", L.edit_rotation.replace("{id}", r.id));
      edit.addEventListener("click", function () {
        openRotation(r);
      });
      rotList.appendChild(
        el("li", { "data-id": r.id }, [
          r.id + " (" + L[r.layer || "primary"] + "): " + r.participants.join(", ") + " ",
          edit,
        ])
      );
    });
    var tbody = document.querySelector("#people tbody");
    tbody.textContent = "";
    data.people.forEach(function (p) {
      var edit = el("button", { type: "button", text: L.edit });
      edit.setAttribute("aria-label", L.edit_person.replace("{name}", p.name));
      edit.addEventListener("click", function () {
        openPerson(p);
      });
      tbody.appendChild(
        el("tr", { "data-person": p.id, cls: p.active ? "" : "inactive" }, [
          el("td", { text: p.name }),
          el("td", {}, [el("code", { text: p.id })]),
          el("td", { text: (p.phones || []).join(", ") || "—" }),
          el("td", { text: L["role_" + p.role] || p.role || "" }),
          el("td", { text: p.active ? L.yes : L.no }),
          el("td", {}, [edit, " ", removeButton(p.name, "/api/v1/planning/people/" + encodeURIComponent(p.id))]),
        ])
      );
    });
  }

  function formValue(id) {
    return document.getElementById(id).value;
  }

  if (data.may_edit) {
    document.getElementById("override-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var kind = formValue("ov-kind");
      var person = formValue("ov-person");
      var start = formValue("ov-start");
      var body = {
        id: ("wijz-" + slug(person).slice(0, 40) + "-" + start.replace(/[^0-9]/g, "").slice(2, 12)).slice(0, 64),
        team: team.id,
        kind: kind,
        person: person,
        start: start,
        end: formValue("ov-end"),
        layer: formValue("ov-layer"),
      };
      if (kind === "replace") body.replaces = formValue("ov-replaces");
      if (formValue("ov-reason")) body.reason = formValue("ov-reason");
      change("POST", "/api/v1/planning/overrides", body);
    });
    document.getElementById("shift-form").addEventListener("submit", function (event) {
      event.preventDefault();
      change("POST", "/api/v1/planning/shifts", {
        team: team.id,
        person: formValue("sh-person"),
        start: formValue("sh-start"),
        end: formValue("sh-end"),
        layer: formValue("sh-layer"),
      });
    });

    var rotationForm = document.getElementById("rotation-form");
    var editingRotation = null;
    var openRotation = function (r) {
      editingRotation = r;
      document.getElementById("rot-id").textContent = r.id;
      document.getElementById("rot-participants").value = r.participants.join("\n");
      document.getElementById("rot-until").value = r.until ? localInput(new Date(r.until)) : "";
      rotationForm.hidden = false;
      document.getElementById("rot-participants").focus();
    };
    rotationForm.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!editingRotation) return;
      var body = JSON.parse(JSON.stringify(editingRotation));
      body.participants = formValue("rot-participants")
        .split(/[\s,]+/)
        .filter(function (x) {
          return x;
        });
      body.until = formValue("rot-until") || null;
      change("PUT", "/api/v1/planning/rotations/" + encodeURIComponent(body.id), body);
    });

    var openPerson = function (p) {
      document.getElementById("person-form-title").textContent = p.name;
      document.getElementById("p-id").value = p.id;
      document.getElementById("p-id").readOnly = true;
      document.getElementById("p-existing").value = p.id;
      document.getElementById("p-name").value = p.name;
      document.getElementById("p-phones").value = (p.phones || []).join(", ");
      document.getElementById("p-role").value = p.role || "worker";
      document.getElementById("p-active").checked = !!p.active;
      document.getElementById("p-name").focus();
    };
    document.getElementById("person-reset").addEventListener("click", function () {
      document.getElementById("p-id").readOnly = false;
      document.getElementById("p-existing").value = "";
      document.getElementById("person-form-title").textContent = L.add_person;
    });
    document.getElementById("person-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var existing = formValue("p-existing");
      var old = data.people.filter(function (p) {
        return p.id === existing;
      })[0];
      var memberships = old
        ? old.memberships.map(function (m) {
            return m.team === team.id ? { team: m.team, role: formValue("p-role") } : m;
          })
        : [{ team: team.id, role: formValue("p-role") }];
      var body = {
        id: formValue("p-id"),
        name: formValue("p-name"),
        phones: formValue("p-phones")
          .split(",")
          .map(function (x) {
            return x.trim();
          })
          .filter(function (x) {
            return x;
          }),
        active: document.getElementById("p-active").checked,
        memberships: memberships,
      };
      if (existing) change("PUT", "/api/v1/planning/people/" + encodeURIComponent(existing), body);
      else change("POST", "/api/v1/planning/people", body);
    });

    var importResult = document.getElementById("import-result");
    document.getElementById("import-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var file = document.getElementById("import-file").files[0];
      var text = file ? file.text() : Promise.resolve(formValue("import-text"));
      text.then(function (csv) {
        var url = "/api/v1/planning/teams/" + encodeURIComponent(team.id) + "/import";
        importResult.textContent = "";
        api("POST", withQuery(url, "dry_run=true"), csv, "text/csv").then(function (result) {
          if (!result.ok) return fail(problem(result));
          var r = result.data;
          if (r.errors.length) {
            importResult.appendChild(
              el("p", { cls: "gap", role: "alert", text: L.import_errors.replace("{count}", r.errors.length) })
            );
            var rows = el("tbody");
            r.errors.forEach(function (e) {
              rows.appendChild(
                el("tr", {}, [
                  el("td", { text: String(e.row) }),
                  el("td", { text: e.column + " (" + e.field + ")" }),
                  el("td", { text: e.regel }),
                ])
              );
            });
            importResult.appendChild(
              el("table", { id: "import-errors" }, [
                el("thead", {}, [
                  el("tr", {}, [
                    el("th", { scope: "col", text: L.row }),
                    el("th", { scope: "col", text: L.column }),
                    el("th", { scope: "col", text: L.rule }),
                  ]),
                ]),
                rows,
              ])
            );
            return;
          }
          importResult.appendChild(
            el("p", {
              text: L.import_ok
                .replace("{added}", r.counts.shifts_added)
                .replace("{changed}", r.counts.shifts_changed)
                .replace("{people}", r.counts.new_people),
            })
          );
          state.pending = { method: "POST", url: url, body: csv, contentType: "text/csv" };
          showPreview(r);
        });
      });
    });
  }

  // --- counts per quarter ---------------------------------------------------------------

  function loadCounts() {
    api("GET", "/api/v1/planning/teams/" + encodeURIComponent(team.id) + "/fairness").then(function (result) {
      if (!result.ok) return;
      var tbody = document.querySelector("#counts tbody");
      tbody.textContent = "";
      result.data.counts.forEach(function (c) {
        tbody.appendChild(
          el("tr", { "data-person": c.person }, [
            el("td", { text: c.name }),
            el("td", { text: String(c.hours).replace(".", ",") }),
            el("td", { text: String(c.shifts) }),
            el("td", { text: String(c.nights) }),
            el("td", { text: String(c.weekends) }),
            el("td", { text: String(c.holidays) }),
          ])
        );
      });
      document.getElementById("counts-title").textContent = L.counts_title.replace("{quarter}", result.data.quarter);
      var breaches = document.getElementById("breaches");
      breaches.textContent = "";
      result.data.breaches.forEach(function (b) {
        breaches.appendChild(el("li", { text: b.rule + ": " + b.text }));
      });
    });
  }

  renderEditors();
  load();
  loadCounts();
})();
