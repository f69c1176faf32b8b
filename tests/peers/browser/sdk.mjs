// matrix-js-sdk (the SDK Element Web is built on) as the client of a login
// through the bridge: the SDK makes the SSO address, headless Chromium does what
// a person does there (the picker, the IdP's real form), and the SDK redeems the
// loginToken and uses the account. The client's page (CLIENT_URL) is never
// loaded (nothing listens there, and Chromium refuses its port 9 as unsafe): the
// script reads the address the browser was sent to and plays the client from
// there. Prints one JSON line last, for the Rust test to check.
//
// SCENARIO says which client:
//   msc1731  for each entry of LOGINS (a JSON list of {department, username,
//            idp?}): getSsoLoginUrl at the bridge (with `idp` as idpId, else
//            the picker), then, on the `homeserver` the client was sent back
//            with: loginRequest(m.login.token), whoami, createRoom,
//            getJoinedRooms, logout, and whoami again with the logged-out token.
//            Prints {logins: [...]}.
//   msc1730  as Element Web does: the bridge's /.well-known/matrix/client
//            through AutoDiscovery.fromDiscoveryConfig and getAuthMetadata
//            (the OIDC-native probe), loginFlows, getSsoLoginUrl with the
//            department's identity provider (and SSOAction.LOGIN), then
//            loginRequest(m.login.token) AT THE BRIDGE, the answer's well_known
//            through AutoDiscovery.fromDiscoveryConfig, and whoami on the
//            discovered homeserver with the access token. Uses DEPARTMENT,
//            USERNAME, REDIRECT_URL (optional: the redirectUrl given, which
//            must start with CLIENT_URL; Element Web's may carry a query and a
//            fragment).
//   refused  USERNAME picks DEPARTMENT, which they are not a member of: prints
//            the final page's status and title and every URL Chromium requested.
//
// Environment: BRIDGE_URL, CLIENT_URL (a redirectUrl on the bridge's
// allow-list), SCENARIO, LOGINS or DEPARTMENT and USERNAME, REDIRECT_URL and
// PASSWORD (optional).
//
// matrix-js-sdk 43 declares node >= 22; on Node 20 the calls made here run as
// they are (its uses of Promise.withResolvers, which Node 20 lacks, are in
// uploads, account data, push rules, sync and the scheduler, none called here).
import { AutoDiscovery, SSOAction, createClient } from 'matrix-js-sdk';
import { bridge, launch, signIn } from './lib.mjs';

const client = process.env.CLIENT_URL;
// Element Web's callback URL is the page's own address with a fragment for the
// view to return to (BasePlatform.getSSOCallbackUrl); it starts with CLIENT_URL.
const redirectUrl = process.env.REDIRECT_URL || client;
const password = process.env.PASSWORD || 'correct horse';
const scenario = process.env.SCENARIO;

/// A fresh browser context (no IdP session, no cookies) opens `ssoUrl`; the
/// person picks `department` if the picker comes and signs in at the IdP's form.
/// Resolves once the browser asks for the client's page, with the URL it was
/// sent to (the Location the bridge answered with, fragment and all), the first
/// page shown, and every document shown on the way.
async function signInThroughBrowser(browser, ssoUrl, department, username) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const shown = [];
    page.on('framenavigated', (frame) => { if (frame === page.mainFrame()) shown.push(frame.url()); });
    let location = null;
    page.on('response', (r) => {
      const to = r.headers().location;
      if (to && to.startsWith(client)) location = to;
    });
    const atClient = page.waitForRequest((r) => r.url().startsWith(client), { timeout: 30000 });
    atClient.catch(() => {});
    await page.goto(ssoUrl);
    const firstPage = await describe(page);
    if (firstPage.picker) await page.click(`button[value="${department}"]`);
    await signIn(page, username, password);
    const request = await atClient;
    return { first_page: firstPage, shown, redirect_url: location || request.url() };
  } finally {
    await context.close();
  }
}

async function describe(page) {
  return {
    url: page.url(),
    title: await page.title(),
    picker: (await page.$('#departments')) !== null,
    password_field: (await page.$('input[name=password]')) !== null,
  };
}

/// The loginToken and homeserver the client was sent back with, and how many
/// of each the URL carries.
function parseRedirect(redirectUrl) {
  const url = new URL(redirectUrl);
  const tokens = url.searchParams.getAll('loginToken');
  const homeservers = url.searchParams.getAll('homeserver');
  return {
    token: tokens[0],
    homeserver: homeservers[0],
    login_token_count: tokens.length,
    homeserver_count: homeservers.length,
    // What else the client's own URL carried: its query (less the two) and fragment.
    other_query: [...url.searchParams].filter(([k]) => k !== 'loginToken' && k !== 'homeserver'),
    fragment: url.hash,
  };
}

/// A Matrix error from the SDK as JSON.
function failure(e) {
  return { errcode: e.errcode ?? null, status: e.httpStatus ?? null, message: String(e.message || e) };
}

/// What an MSC1731 client does after the redirect: everything on `homeserver`.
async function useHomeserver(homeserver, token) {
  const login = await createClient({ baseUrl: homeserver }).loginRequest({
    type: 'm.login.token',
    token,
    initial_device_display_name: 'matrix-js-sdk test',
  });
  const matrix = createClient({
    baseUrl: homeserver,
    accessToken: login.access_token,
    userId: login.user_id,
    deviceId: login.device_id,
  });
  const whoami = await matrix.whoami();
  const room = await matrix.createRoom({ name: 'matrix-js-sdk test', visibility: 'private' });
  const joined = await matrix.getJoinedRooms();
  await matrix.logout();
  let afterLogout;
  try {
    afterLogout = { whoami: await createClient({ baseUrl: homeserver, accessToken: login.access_token }).whoami() };
  } catch (e) {
    afterLogout = failure(e);
  }
  return {
    login_user_id: login.user_id,
    whoami_user_id: whoami.user_id,
    whoami_device_id: whoami.device_id,
    login_device_id: login.device_id,
    room_id: room.room_id,
    room_joined: joined.joined_rooms.includes(room.room_id),
    after_logout: afterLogout,
  };
}

const browser = await launch();
try {
  if (scenario === 'msc1731') {
    const logins = [];
    for (const { department, username, idp } of JSON.parse(process.env.LOGINS)) {
      const ssoUrl = createClient({ baseUrl: bridge }).getSsoLoginUrl(client, 'sso', idp);
      const { redirect_url: redirectUrl, ...seen } = await signInThroughBrowser(browser, ssoUrl, department, username);
      const { token, ...redirect } = parseRedirect(redirectUrl);
      const used = await useHomeserver(redirect.homeserver, token);
      logins.push({ department, username, sso_url: ssoUrl, ...seen, redirect, ...used });
    }
    console.log(JSON.stringify({ logins }));
  } else if (scenario === 'msc1730') {
    const department = process.env.DEPARTMENT;
    // The user types the central address: the SDK's discovery of its
    // /.well-known/matrix/client (which checks /versions), then Element Web's
    // probe for OIDC-native login, which the bridge does not offer.
    const wellKnown = await (await fetch(`${bridge}.well-known/matrix/client`)).json();
    const central = (await AutoDiscovery.fromDiscoveryConfig(wellKnown))['m.homeserver'];
    const atBridge = createClient({ baseUrl: central.base_url });
    let authMetadata;
    try {
      authMetadata = { metadata: await atBridge.getAuthMetadata() };
    } catch (e) {
      authMetadata = failure(e);
    }
    const flows = await atBridge.loginFlows();
    const providers = flows.flows.find((f) => f.type === 'm.login.sso')?.identity_providers ?? [];
    const idp = providers.find((p) => p.id === department);
    if (!idp) throw new Error(`no identity provider ${department} in ${JSON.stringify(flows)}`);
    const ssoUrl = atBridge.getSsoLoginUrl(redirectUrl, 'sso', idp.id, SSOAction.LOGIN);
    const seen = await signInThroughBrowser(browser, ssoUrl, department, process.env.USERNAME);
    const { token, ...redirect } = parseRedirect(seen.redirect_url);
    // Element Web ignores `homeserver` and sends the token to where it started.
    const login = await atBridge.loginRequest({
      type: 'm.login.token',
      token,
      initial_device_display_name: 'matrix-js-sdk test (MSC1730)',
    });
    const discovery = await AutoDiscovery.fromDiscoveryConfig(login.well_known);
    const discovered = discovery['m.homeserver'];
    let whoami;
    try {
      const matrix = createClient({
        baseUrl: discovered.base_url,
        accessToken: login.access_token,
        userId: login.user_id,
        deviceId: login.device_id,
      });
      whoami = await matrix.whoami();
      await matrix.logout();
    } catch (e) {
      whoami = failure(e);
    }
    console.log(JSON.stringify({
      central_well_known: wellKnown,
      central_discovery_state: central.state,
      central_base_url: central.base_url,
      auth_metadata: authMetadata,
      identity_providers: providers.map((p) => p.id),
      sso_url: ssoUrl,
      first_page: seen.first_page,
      shown: seen.shown,
      redirect,
      login_user_id: login.user_id,
      login_device_id: login.device_id,
      well_known: login.well_known ?? null,
      discovery_state: discovered.state,
      discovery_error: discovered.error ?? null,
      discovered_base_url: discovered.base_url,
      whoami,
    }));
  } else if (scenario === 'refused') {
    const context = await browser.newContext();
    const requests = [];
    context.on('request', (r) => requests.push(r.url()));
    const page = await context.newPage();
    let lastDocument = null;
    page.on('response', (r) => {
      if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) lastDocument = r;
    });
    const ssoUrl = createClient({ baseUrl: bridge }).getSsoLoginUrl(client, 'sso');
    await page.goto(ssoUrl);
    const firstPage = await describe(page);
    await page.click(`button[value="${process.env.DEPARTMENT}"]`);
    await signIn(page, process.env.USERNAME, password);
    // Back at the bridge (or, wrongly, on the way to the client or a browser error page).
    await page.waitForURL((u) => u.href.startsWith(bridge) || u.href.startsWith(client) || u.protocol === 'chrome-error:',
      { timeout: 30000 });
    // Anything the page would still do (a refresh, a script) gets its chance.
    await page.waitForLoadState('networkidle');
    console.log(JSON.stringify({
      first_page: firstPage,
      url: page.url(),
      status: lastDocument?.status() ?? null,
      title: await page.title(),
      requests,
    }));
    await context.close();
  } else {
    throw new Error(`unknown SCENARIO ${scenario}`);
  }
} finally {
  await browser.close();
}
