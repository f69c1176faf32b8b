// The login fallback (Matrix spec, "Login fallback", with MSC1731): when the SSO
// login comes back with loginToken and homeserver, log in at that homeserver and
// hand the response to the app: window.onLogin(response, homeserver) and
// window.matrixLogin.onLogin(response, homeserver), as the app injected them.
(function () {
  "use strict";
  var root = document.getElementById("fallback");
  var statusLine = document.getElementById("status");
  var errorLine = document.getElementById("error");
  var start = document.getElementById("start");
  var params = new URLSearchParams(window.location.search);
  var token = params.get("loginToken");
  var homeserver = params.get("homeserver");
  if (!root || !token || !homeserver) return;

  // The token is single use: take it out of the address bar and history at once.
  params.delete("loginToken");
  params.delete("homeserver");
  var clean = window.location.pathname + (params.toString() ? "?" + params.toString() : "");
  window.history.replaceState(null, "", clean);

  function show(line, text) {
    line.textContent = text;
    line.hidden = false;
  }

  var base;
  try {
    base = new URL(homeserver);
    if (base.protocol !== "https:" && base.protocol !== "http:") throw new Error("scheme");
  } catch (e) {
    show(errorLine, "The login came back without a usable homeserver address.");
    return;
  }
  start.hidden = true;
  show(statusLine, "Signing in at " + base.host + " …");

  var body = { type: "m.login.token", token: token };
  var deviceId = root.getAttribute("data-device-id");
  var deviceName = root.getAttribute("data-device-name");
  if (deviceId) body.device_id = deviceId;
  if (deviceName) body.initial_device_display_name = deviceName;

  fetch(base.href.replace(/\/+$/, "") + "/_matrix/client/v3/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body)
  })
    .then(function (r) {
      return r.json().then(function (json) { return { ok: r.ok, json: json }; });
    })
    .then(function (r) {
      if (!r.ok) throw new Error(r.json.error || r.json.errcode || "the homeserver refused the login");
      var delivered = false;
      if (typeof window.onLogin === "function") {
        window.onLogin(r.json, homeserver);
        delivered = true;
      }
      if (window.matrixLogin && typeof window.matrixLogin.onLogin === "function") {
        window.matrixLogin.onLogin(r.json, homeserver);
        delivered = true;
      }
      statusLine.setAttribute("data-user-id", r.json.user_id || "");
      show(statusLine, delivered
        ? "Signed in as " + r.json.user_id + ". You can close this window."
        : "Signed in as " + r.json.user_id + ", but no app is waiting for the login here.");
    })
    .catch(function (e) {
      statusLine.hidden = true;
      start.hidden = false;
      show(errorLine, "Signing in failed: " + e.message + ". Try again.");
    });
})();
