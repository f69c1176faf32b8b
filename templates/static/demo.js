// The demo client: after the bridge redirects back with loginToken and homeserver,
// log in at that homeserver with m.login.token and show who we are.
(function () {
  "use strict";
  var result = document.getElementById("result");
  var params = new URLSearchParams(window.location.search);
  var token = params.get("loginToken");
  var homeserver = params.get("homeserver");
  if (!token || !homeserver) return;
  // The token is single use: take it out of the address bar and history at once.
  window.history.replaceState(null, "", window.location.pathname);
  result.textContent = "Logging in at " + homeserver + " …";
  var base = homeserver.replace(/\/+$/, "");
  fetch(base + "/_matrix/client/v3/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ type: "m.login.token", token: token, initial_device_display_name: "sso-bridge demo" })
  })
    .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
    .then(function (r) {
      if (!r.ok) throw new Error(r.body.error || r.body.errcode || "login failed");
      result.setAttribute("data-user-id", r.body.user_id);
      result.setAttribute("data-homeserver", homeserver);
      result.textContent = "Logged in as " + r.body.user_id + " on " + homeserver;
    })
    .catch(function (e) { result.textContent = "Login failed: " + e.message; });
})();
