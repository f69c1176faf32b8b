// Browser test of the login fallback, in Debian's headless Chromium: the app
// (as a web view would) gives its callback, the user signs in through the picker
// and the IdP's form. Prints JSON with the calls the page made, for the Rust test
// to check.
//
// HOOKS says how the app gives its callback:
//   both     window.onLogin and window.matrixLogin.onLogin, before the page loads
//   onLogin  window.onLogin only, before the page loads
//   late     window.matrixLogin.onLogin assigned from outside after the page's
//            load event, as Element Android does
//
// Environment: BRIDGE_URL, USERNAME, PASSWORD, DEPARTMENT, HOOKS.
import { bridge, launch, waitForPicker } from './lib.mjs';

const hooks = process.env.HOOKS || 'both';
const browser = await launch();
try {
  const page = await browser.newPage();
  await page.addInitScript((hooks) => {
    window.__calls = [];
    if (hooks === 'both' || hooks === 'onLogin') {
      window.onLogin = (response, homeserver) => window.__calls.push({ via: 'onLogin', response, homeserver });
    }
    if (hooks === 'both') {
      window.matrixLogin = {
        onLogin: (response, homeserver) => window.__calls.push({ via: 'matrixLogin.onLogin', response, homeserver }),
      };
    }
  }, hooks);
  const start = `${bridge}_matrix/static/client/login/?device_id=FALLBACKDEV&initial_device_display_name=Fallback%20test`;
  await page.goto(start);
  await page.click('#sso');
  await waitForPicker(page);
  await page.click(`button[value="${process.env.DEPARTMENT}"]`);
  await page.waitForSelector('input[name=password]');
  await page.fill('input[name=username]', process.env.USERNAME);
  await page.fill('input[name=password]', process.env.PASSWORD);
  await page.click('button[type=submit]');
  let waited = null;
  if (hooks === 'late') {
    await page.waitForURL((url) => url.pathname === '/_matrix/static/client/login/', { timeout: 30000 });
    await page.waitForLoadState('load');
    // What the page did with no callback given: it must wait, not redeem.
    await page.waitForSelector('#status[data-waiting="true"]', { timeout: 10000 });
    waited = await page.evaluate(() => ({
      waiting: document.getElementById('status').dataset.waiting,
      userId: document.getElementById('status').dataset.userId || null,
      hasMatrixLogin: typeof window.matrixLogin === 'object',
    }));
    await page.evaluate(() => {
      window.matrixLogin.onLogin = (response, homeserver) =>
        window.__calls.push({ via: 'matrixLogin.onLogin', response, homeserver });
    });
  }
  await page.waitForSelector('#status[data-user-id]:not([data-user-id=""])', { timeout: 30000 });
  const calls = await page.evaluate(() => window.__calls);
  const status = await page.textContent('#status');
  console.log(JSON.stringify({ calls, url: page.url(), status, waited }));
} finally {
  await browser.close();
}
