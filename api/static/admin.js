// The admin page: accounts, sign-in sessions and API keys.
//
// Every change goes through the JSON API (/api/v1/accounts, /api/v1/keys, ...) with the
// session's CSRF token from <meta name="csrf-token">. After a change the page is
// fetched again and its lists (the elements marked data-refresh) are swapped in, so the
// lists are rendered in one place only: the server. A new or rotated key's secret comes
// from the API's answer and is shown once here; it is never part of the page itself.
(function () {
  "use strict";

  var csrfMeta = document.querySelector("meta[name='csrf-token']");
  var notice = document.getElementById("notice");
  var errorBox = document.getElementById("error");
  var secretBox = document.getElementById("secret");

  function api(method, url, body) {
    var headers = { Accept: "application/json" };
    if (csrfMeta && csrfMeta.content) headers["X-CSRF-Token"] = csrfMeta.content;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(url, {
      method: method,
      headers: headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(
      function (response) {
        return response
          .json()
          .catch(function () {
            return null;
          })
          .then(function (data) {
            return { ok: response.ok, status: response.status, data: data };
          });
      },
      function () {
        return { ok: false, status: 0, data: null };
      }
    );
  }

  function problem(result) {
    if (result.status === 0) return "Geen verbinding met de server. Probeer het opnieuw.";
    if (result.status === 401) return "U bent niet meer aangemeld. Herlaad de pagina en meld u opnieuw aan.";
    if (result.status === 403) return "Geweigerd: " + detailText(result.data) + " (herlaad de pagina).";
    if (result.status === 409) return "Bestaat al: " + detailText(result.data);
    return "Niet gelukt: " + detailText(result.data);
  }

  function detailText(data) {
    if (!data) return "onbekende fout";
    var detail = data.detail;
    if (typeof detail === "string") return detail;
    if (detail && typeof detail.message === "string") return detail.message;
    if (Array.isArray(data.errors)) {
      return data.errors
        .map(function (e) {
          return (e.field || "") + ": " + (e.rule || e.msg || "");
        })
        .join("; ");
    }
    if (Array.isArray(detail)) {
      return detail
        .map(function (e) {
          return (e.loc || []).join(".") + ": " + e.msg;
        })
        .join("; ");
    }
    return "onbekende fout";
  }

  function say(text) {
    errorBox.hidden = true;
    errorBox.textContent = "";
    notice.textContent = text;
    notice.hidden = false;
  }

  function fail(text) {
    notice.hidden = true;
    errorBox.textContent = text;
    errorBox.hidden = false;
  }

  function showSecret(name, secret, overlapText) {
    document.getElementById("secret-name").textContent = name;
    document.getElementById("secret-value").textContent = secret;
    var overlap = document.getElementById("secret-overlap");
    overlap.textContent = overlapText || "";
    overlap.hidden = !overlapText;
    secretBox.hidden = false;
    secretBox.scrollIntoView({ block: "nearest" });
  }

  document.getElementById("secret-done").addEventListener("click", function () {
    document.getElementById("secret-value").textContent = "";
    secretBox.hidden = true;
  });

  // The lists, as the server renders them now.
  function refresh() {
    return fetch(location.pathname, { credentials: "same-origin" })
      .then(function (response) {
        if (response.redirected || !response.ok) {
          location.reload();
          return null;
        }
        return response.text();
      })
      .then(function (html) {
        if (html === null) return;
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-refresh]").forEach(function (old) {
          var replacement = fresh.getElementById(old.id);
          if (replacement) old.replaceWith(document.importNode(replacement, true));
        });
      });
  }

  function values(select) {
    return Array.prototype.filter
      .call(select.options, function (o) {
        return o.selected;
      })
      .map(function (o) {
        return o.value;
      });
  }

  function scope(form, body) {
    var regions = values(form.elements.regions);
    var basisteams = values(form.elements.basisteams);
    // nothing chosen: every region (null); only basisteams: bound to those alone
    body.regions = regions.length || basisteams.length ? regions : null;
    body.basisteams = basisteams;
    return body;
  }

  function busy(form, on) {
    form.querySelectorAll("button, input, select").forEach(function (el) {
      el.disabled = on;
    });
  }

  document.getElementById("account-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var form = event.target;
    var body = scope(form, {
      username: form.elements.username.value.trim().toLowerCase(),
      display_name: form.elements.display_name.value.trim(),
      role: form.elements.role.value,
    });
    var password = form.elements.password.value;
    var subject = form.elements.oidc_subject.value.trim();
    if (password) body.password = password;
    if (subject) body.oidc_subject = subject;
    busy(form, true);
    api("POST", "/api/v1/accounts", body).then(function (result) {
      busy(form, false);
      if (!result.ok) return fail(problem(result));
      form.reset();
      say("Account " + result.data.username + " is aangemaakt.");
      return refresh();
    });
  });

  document.getElementById("key-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var form = event.target;
    var sources = form.elements.sources.value
      .split(",")
      .map(function (s) {
        return s.trim();
      })
      .filter(Boolean);
    var body = scope(form, {
      name: form.elements.name.value.trim(),
      role: form.elements.role.value,
      sources: sources,
    });
    busy(form, true);
    api("POST", "/api/v1/keys", body).then(function (result) {
      busy(form, false);
      if (!result.ok) return fail(problem(result));
      form.reset();
      say("Sleutel " + result.data.name + " is aangemaakt.");
      showSecret(result.data.name, result.data.secret, null);
      return refresh();
    });
  });

  var ACTIONS = {
    deactivate: {
      confirm: function (b) {
        return "Account " + b.dataset.username + " deactiveren? Aangemelde sessies eindigen meteen.";
      },
      run: function (b) {
        return api("PATCH", "/api/v1/accounts/" + encodeURIComponent(b.dataset.username), {
          active: false,
        });
      },
      done: function (b) {
        return "Account " + b.dataset.username + " is gedeactiveerd.";
      },
    },
    activate: {
      run: function (b) {
        return api("PATCH", "/api/v1/accounts/" + encodeURIComponent(b.dataset.username), {
          active: true,
        });
      },
      done: function (b) {
        return "Account " + b.dataset.username + " is weer actief.";
      },
    },
    "end-sessions": {
      confirm: function (b) {
        return "Alle sessies van " + b.dataset.username + " beëindigen?";
      },
      run: function (b) {
        return api(
          "POST",
          "/api/v1/accounts/" + encodeURIComponent(b.dataset.username) + "/sessions/end"
        );
      },
      done: function (b, data) {
        return "Sessies van " + b.dataset.username + " beëindigd (" + data.ended + ").";
      },
    },
    rotate: {
      confirm: function (b) {
        return "Een nieuwe sleutel voor " + b.dataset.name + " maken?";
      },
      run: function (b) {
        return api("POST", "/api/v1/keys/" + encodeURIComponent(b.dataset.name) + "/rotate");
      },
      done: function (b, data) {
        showSecret(
          data.name,
          data.secret,
          "De vorige sleutel blijft werken tot het tijdstip in de lijst, zodat de koppeling kan overstappen."
        );
        return "Sleutel " + data.name + " is vervangen.";
      },
    },
    revoke: {
      confirm: function (b) {
        return "Sleutel " + b.dataset.name + " intrekken? Hij werkt daarna niet meer.";
      },
      run: function (b) {
        return api("POST", "/api/v1/keys/" + encodeURIComponent(b.dataset.name) + "/revoke");
      },
      done: function (b) {
        return "Sleutel " + b.dataset.name + " is ingetrokken.";
      },
    },
  };

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action]");
    if (!button) return;
    var action = ACTIONS[button.dataset.action];
    if (!action) return;
    if (action.confirm && !window.confirm(action.confirm(button))) return;
    button.disabled = true;
    action.run(button).then(function (result) {
      button.disabled = false;
      if (!result.ok) return fail(problem(result));
      say(action.done(button, result.data || {}));
      return refresh();
    });
  });
})();
