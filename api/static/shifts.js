// The worker's shifts page: offer one of your own shifts, take a colleague's offer,
// withdraw your own. Every action goes through the JSON API: /api/v1/swaps when signed
// in (with the session's CSRF token), /api/v1/swaps/link/<token> when the page was
// opened from the link in a roster SMS. After an action the page is loaded again, so
// the lists are rendered by the server only.
(function () {
  "use strict";

  var island = document.getElementById("shifts-data");
  if (!island) return;
  var data = JSON.parse(island.textContent || "{}");
  var labels = data.labels || {};
  var csrfMeta = document.querySelector("meta[name='csrf-token']");
  var notice = document.getElementById("notice");
  var errorBox = document.getElementById("error");
  var linked = data.base.indexOf("/link/") !== -1;

  function post(url, body) {
    var headers = { Accept: "application/json", "Content-Type": "application/json" };
    if (csrfMeta && csrfMeta.content) headers["X-CSRF-Token"] = csrfMeta.content;
    return fetch(url, {
      method: "POST",
      headers: headers,
      credentials: "same-origin",
      body: JSON.stringify(body || {}),
    }).then(
      function (response) {
        return response
          .json()
          .catch(function () {
            return null;
          })
          .then(function (answer) {
            return { ok: response.ok, status: response.status, data: answer };
          });
      },
      function () {
        return { ok: false, status: 0, data: null };
      }
    );
  }

  function why(result) {
    var detail = result.data && result.data.detail;
    if (detail && typeof detail === "object" && detail.message) return detail.message;
    if (typeof detail === "string") return detail;
    return String(result.status || "");
  }

  function show(box, text) {
    box.textContent = text;
    box.hidden = false;
  }

  function done(text) {
    sessionStorage.setItem("shifts-notice", text);
    location.reload();
  }

  var kept = sessionStorage.getItem("shifts-notice");
  if (kept) {
    sessionStorage.removeItem("shifts-notice");
    show(notice, kept);
  }

  function act(button) {
    var action = button.getAttribute("data-action");
    var swap = button.getAttribute("data-swap");
    var url;
    var body = {};
    if (action === "offer") {
      url = linked ? data.base + "/offer" : data.base;
      body = {
        team: button.getAttribute("data-team"),
        layer: button.getAttribute("data-layer"),
        start: button.getAttribute("data-start"),
        end: button.getAttribute("data-end"),
      };
    } else if (action === "take") {
      url = linked ? data.base + "/take/" + swap : data.base + "/" + swap + "/take";
    } else if (action === "cancel") {
      url = linked ? data.base + "/cancel/" + swap : data.base + "/" + swap + "/cancel";
    } else {
      return;
    }
    button.disabled = true;
    errorBox.hidden = true;
    post(url, body).then(function (result) {
      if (!result.ok) {
        button.disabled = false;
        show(errorBox, (labels.failed || "") + ": " + why(result));
        return;
      }
      if (action === "offer") done(labels.done_offer);
      else if (action === "cancel") done(labels.done_cancel);
      else if (result.data && result.data.state === "taken") done(labels.done_take_approval);
      else done(labels.done_take);
    });
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target && target.matches && target.matches("button[data-action]")) act(target);
  });
})();
