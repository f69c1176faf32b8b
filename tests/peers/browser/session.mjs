// Browser test of the picker's CSP `form-action` in Debian's headless Chromium,
// which checks every redirect of a form's navigation against it. Alice logs in
// at Engineering through the picker and the IdP's form; then, in the same
// browser (the IdP's session alive), she starts again and picks Engineering:
// the whole login runs as one chain of redirects from the picker's form (IdP,
// the bridge's callback, the homeserver, the bridge's OpenID Provider, the
// client) and must reach the client without a stop.
// Prints JSON: each login's final URL, the documents the second login showed,
// every CSP message from the console, and the picker's CSP header.
//
// Environment: BRIDGE_URL, CLIENT_URL (a redirectUrl allowed without confirmation;
// the script plays the client's page).
import { launch, loginStart, pageWithClient, pickAndSignIn, waitForPicker } from './lib.mjs';

const client = process.env.CLIENT_URL;
const start = loginStart(client);
const browser = await launch();
try {
  const page = await pageWithClient(browser, client);
  const cspMessages = [];
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspMessages.push(m.text()); });
  const atClient = (url) => url.href.startsWith(client);

  const picker = await page.goto(start);
  const pickerCsp = (await picker.allHeaders())['content-security-policy'];
  await pickAndSignIn(page, 'eng', 'alice');
  await page.waitForURL(atClient, { timeout: 30000 });
  const first = page.url();

  const trail = [];
  page.on('request', (r) => { if (r.isNavigationRequest()) trail.push(`-> ${r.method()} ${r.url()}`); });
  page.on('requestfailed', (r) => trail.push(`FAILED ${r.url()} ${r.failure()?.errorText}`));
  const shown = [];
  page.on('framenavigated', (frame) => { if (frame === page.mainFrame()) shown.push(frame.url()); });
  await page.goto(start);
  await waitForPicker(page);
  await page.click('button[value="eng"]');
  await page.waitForURL(atClient, { timeout: 30000 });
  console.log(JSON.stringify({ first, second: page.url(), shown, trail, csp_messages: cspMessages, picker_csp: pickerCsp }));
} finally {
  await browser.close();
}
