// Browser test of the login fallback, in Debian's headless Chromium: the app
// (as a webview would) injects window.onLogin and window.matrixLogin.onLogin;
// the user signs in through the picker and the IdP's form. Prints JSON with the
// calls the page made, for the Rust test to check.
//
// Environment: BRIDGE_URL, USERNAME, PASSWORD, DEPARTMENT.
import { bridge, launch, waitForPicker } from './lib.mjs';

const browser = await launch();
try {
  const page = await browser.newPage();
  await page.addInitScript(() => {
    window.__calls = [];
    window.onLogin = (response, homeserver) => window.__calls.push({ via: 'onLogin', response, homeserver });
    window.matrixLogin = {
      onLogin: (response, homeserver) => window.__calls.push({ via: 'matrixLogin.onLogin', response, homeserver }),
    };
  });
  const start = `${bridge}_matrix/static/client/login/?device_id=FALLBACKDEV&initial_device_display_name=Fallback%20test`;
  await page.goto(start);
  await page.click('#sso');
  await waitForPicker(page);
  await page.click(`button[value="${process.env.DEPARTMENT}"]`);
  await page.waitForSelector('input[name=password]');
  await page.fill('input[name=username]', process.env.USERNAME);
  await page.fill('input[name=password]', process.env.PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForSelector('#status[data-user-id]:not([data-user-id=""])', { timeout: 30000 });
  const calls = await page.evaluate(() => window.__calls);
  const status = await page.textContent('#status');
  console.log(JSON.stringify({ calls, url: page.url(), status }));
} finally {
  await browser.close();
}
