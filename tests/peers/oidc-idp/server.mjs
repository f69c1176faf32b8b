// The upstream university identity provider for sso-bridge's tests and demo:
// npm `oidc-provider` with a fixed signing key, users from users.json, and a
// plain login form (consent is granted without a page, as a university SSO does).
//
// Environment: PORT, ISSUER (default http://127.0.0.1:PORT), CLIENTS_JSON
// (array of {client_id, client_secret, redirect_uris, backchannel_logout_uri?}),
// USERS_FILE. Ending a session (`/session/end`, the spec's RP-initiated logout
// page) sends a logout token to each client with a backchannel_logout_uri that
// the session logged in to (Back-Channel Logout, with `sid`).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Provider from 'oidc-provider';

const here = path.dirname(fileURLToPath(import.meta.url));
const port = Number(process.env.PORT || 9000);
const issuer = process.env.ISSUER || `http://127.0.0.1:${port}`;
const users = JSON.parse(fs.readFileSync(process.env.USERS_FILE || path.join(here, 'users.json'), 'utf8'));
const jwks = JSON.parse(fs.readFileSync(path.join(here, 'jwks.json'), 'utf8'));
const clients = JSON.parse(process.env.CLIENTS_JSON || '[]').map((c) => ({
  client_id: c.client_id,
  client_secret: c.client_secret,
  redirect_uris: c.redirect_uris,
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: c.token_endpoint_auth_method || 'client_secret_basic',
  ...(c.backchannel_logout_uri
    ? { backchannel_logout_uri: c.backchannel_logout_uri, backchannel_logout_session_required: true }
    : {}),
}));

const bySub = new Map(users.map((u) => [u.sub, u]));

const provider = new Provider(issuer, {
  clients,
  jwks,
  cookies: { keys: ['sso-bridge-test-idp-cookie-key'] },
  // Profile, e-mail and custom claims go into the id_token too (not only userinfo).
  conformIdTokenClaims: false,
  responseTypes: ['code'],
  // Explicit lifetimes (seconds); the defaults print a notice each time they are used.
  ttl: { AuthorizationCode: 60, AccessToken: 3600, IdToken: 3600, Interaction: 3600, Session: 86400, Grant: 86400 },
  // PKCE for every client (the default requires it only for public ones); S256 only.
  pkce: { required: () => true },
  claims: {
    openid: ['sub'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username', 'department', 'affiliation'],
    email: ['email', 'email_verified'],
  },
  features: { devInteractions: { enabled: false }, backchannelLogout: { enabled: true } },
  // oidc-provider refuses outbound requests to loopback and private addresses
  // (SSRF protection); the bridge it sends logout tokens to is on 127.0.0.1 here.
  fetch: (url, options) => {
    const { dispatcher, ...rest } = options;
    return globalThis.fetch(url, rest);
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    const user = bySub.get(sub);
    if (!user) return undefined;
    return { accountId: sub, claims: async () => ({ sub, ...user.claims }) };
  },
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.on('backchannel.success', (ctx, client) => console.log('backchannel logout sent to', client.clientId));
provider.on('backchannel.error', (ctx, err, client) => console.error('backchannel logout to', client.clientId, 'failed:', err.message));

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(res, uid, error) {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>University login</title></head>
<body><main><h1>University of Canadialand login</h1>
${error ? `<p role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<label for="username">User name</label> <input id="username" name="username" autocomplete="username" required>
<label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form></main></body></html>`);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

async function interaction(req, res) {
  const url = new URL(req.url, issuer);
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt, params, session } = details;
  if (req.method === 'POST' && url.pathname.endsWith('/login')) {
    const form = await readForm(req);
    const user = users.find((u) => u.username === form.get('username'));
    if (!user || user.password !== form.get('password')) return loginPage(res, uid, 'Wrong user name or password.');
    return provider.interactionFinished(req, res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
  }
  if (prompt.name === 'login') return loginPage(res, uid);
  if (prompt.name === 'consent') {
    const accountId = session.accountId;
    let grant = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
    if (!grant) grant = new provider.Grant({ accountId, clientId: params.client_id });
    if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    if (prompt.details.missingResourceScopes) {
      for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes)) grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  res.writeHead(400, { 'content-type': 'text/plain' });
  res.end(`unsupported prompt ${prompt.name}`);
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((err) => {
      console.error('interaction error', err);
      if (!res.headersSent) {
        res.writeHead(400, { 'content-type': 'text/plain' });
        res.end(`login error: ${err.message}`);
      }
    });
    return;
  }
  callback(req, res);
});
server.listen(port, '127.0.0.1', () => console.log(`oidc-idp ready on ${issuer}`));
// Stop at once on SIGTERM/SIGINT, even with keep-alive connections open (reqwest keeps them).
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
