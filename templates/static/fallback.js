// The login fallback (Matrix spec, "Login fallback", with MSC1731): when the SSO
// login comes back with loginToken and homeserver, log in at that homeserver and
// hand the response to the app, exactly once, through one callback:
// window.matrixLogin.onLogin(response, homeserver) when the app has replaced it
// (Synapse's fallback convention), otherwise window.onLogin(response, homeserver).
//
// Apps set their hook at different times; Element Android, for one, assigns
// window.matrixLogin.onLogin from outside after the page has loaded. So this
// script runs in the head, before anything else, and defines window.matrixLogin
// with a stand-in onLogin (as Synapse's page does); and the token is redeemed
// only once a callback exists, so a login is never spent with nobody to take it.
(function () {
  "use strict";
  function standIn() {}
  if (!window.matrixLogin || typeof window.matrixLogin !== "object") {
    window.matrixLogin = {};
  }
  if (typeof window.matrixLogin.onLogin !== "function") {
    window.matrixLogin.onLogin = standIn;
  }

  // The one callback the app gave, or null while it has given none.
  function appCallback() {
    var hooks = window.matrixLogin;
    if (hooks && typeof hooks.onLogin === "function" && hooks.onLogin !== standIn) {
      return function (response, homeserver) { hooks.onLogin(response, homeserver); };
    }
    if (typeof window.onLogin === "function") {
      return function (response, homeserver) { window.onLogin(response, homeserver); };
    }
    return null;
  }

  // Calls `then` with the app's callback as soon as there is one, or `giveUp`
  // after `seconds`.
  function whenAppListens(seconds, then, giveUp) {
    var deadline = Date.now() + seconds * 1000;
    (function check() {
      var callback = appCallback();
      if (callback) return then(callback);
      if (Date.now() >= deadline) return giveUp();
      window.setTimeout(check, 50);
    })();
  }

  function run() {
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

    var body = { type: "m.login.token", token: token };
    var deviceId = root.getAttribute("data-device-id");
    var deviceName = root.getAttribute("data-device-name");
    if (deviceId) body.device_id = deviceId;
    if (deviceName) body.initial_device_display_name = deviceName;
    var waitSeconds = parseInt(root.getAttribute("data-wait-seconds"), 10) || 600;

    if (!appCallback()) {
      show(statusLine, root.getAttribute("data-waiting"));
      statusLine.setAttribute("data-waiting", "true");
    }
    whenAppListens(waitSeconds, function (callback) {
      statusLine.removeAttribute("data-waiting");
      show(statusLine, "Signing in at " + base.host + " …");
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
          try {
            callback(r.json, homeserver);
          } catch (e) {
            if (window.console) window.console.error("the app's onLogin failed", e);
          }
          statusLine.setAttribute("data-user-id", r.json.user_id || "");
          show(statusLine, "Signed in as " + r.json.user_id + ". You can close this window.");
        })
        .catch(function (e) {
          statusLine.hidden = true;
          start.hidden = false;
          show(errorLine, "Signing in failed: " + e.message + ". Try again.");
        });
    }, function () {
      // Nobody took the login: the token stays unspent and no device is made.
      statusLine.removeAttribute("data-waiting");
      statusLine.setAttribute("data-gave-up", "true");
      show(statusLine, root.getAttribute("data-no-app"));
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", run);
  } else {
    run();
  }
})();
