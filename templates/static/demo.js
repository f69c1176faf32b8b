// The demo client: after the bridge redirects back with loginToken and homeserver,
// log in at that homeserver with m.login.token and show who we are.
(function () {
  "use strict";
  var result = document.getElementById("result");
  var params = new URLSearchParams(window.location.search);
  var token = params.get("loginToken");
  var homeserver = params.get("homeserver");
  // mode=msc1730 plays a client that ignores `homeserver` (as Element Web does):
  // it sends the token back to where it started, the bridge, and follows well_known.
  var ignoreHomeserver = params.get("mode") === "msc1730";
  if (!token || !homeserver) return;
  // The token is single use: take it out of the address bar and history at once.
  window.history.replaceState(null, "", window.location.pathname + (ignoreHomeserver ? "?mode=msc1730" : ""));
  var target = ignoreHomeserver ? window.location.origin + "/" : homeserver;
  result.textContent = "Logging in at " + target + " …";
  var base = target.replace(/\/+$/, "");
  fetch(base + "/_matrix/client/v3/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ type: "m.login.token", token: token, initial_device_display_name: "sso-bridge demo" })
  })
    .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body, url: r.url }; }); })
    .then(function (r) {
      if (!r.ok) throw new Error(r.body.error || r.body.errcode || "login failed");
      var where = homeserver;
      if (ignoreHomeserver) {
        var wk = r.body.well_known && r.body.well_known["m.homeserver"];
        where = wk ? wk.base_url : "(no well_known in the answer)";
      }
      result.setAttribute("data-login-url", r.url);
      result.setAttribute("data-user-id", r.body.user_id);
      result.setAttribute("data-homeserver", where);
      result.textContent = "Logged in as " + r.body.user_id + " on " + where;
    })
    .catch(function (e) { result.textContent = "Login failed: " + e.message; });
})();
