// Browser test of "Start again" in Debian's headless Chromium: Alice picks
// History by mistake and is refused there; the refusal page's button starts a
// new login for the same client at the picker, where she picks Engineering
// and reaches the client (the IdP's session carries her through, no second
// password). Prints JSON: the refusal page (status, title, button), the page
// the button led to, and the URL the client received.
//
// Environment: BRIDGE_URL, CLIENT_URL (a redirectUrl allowed without confirmation;
// the script plays the client's page).
import { launch, loginStart, pageWithClient, pickAndSignIn, waitForPicker } from './lib.mjs';

const client = process.env.CLIENT_URL;
const start = loginStart(client);
const browser = await launch();
try {
  const page = await pageWithClient(browser, client);
  let refusalStatus = null;
  page.on('response', (r) => { if (r.request().isNavigationRequest() && r.status() === 403) refusalStatus = 403; });

  await page.goto(start);
  await pickAndSignIn(page, 'hist', 'alice');
  await page.waitForSelector('a.button', { timeout: 30000 });
  const refusal = {
    status: refusalStatus,
    title: await page.title(),
    button: (await page.textContent('a.button')).trim(),
  };
  await page.click('a.button');
  await waitForPicker(page);
  const afterButton = page.url();
  await page.click('button[value="eng"]');
  await page.waitForURL((url) => url.href.startsWith(client), { timeout: 30000 });
  console.log(JSON.stringify({ refusal, after_button: afterButton, reached: page.url() }));
} finally {
  await browser.close();
}
