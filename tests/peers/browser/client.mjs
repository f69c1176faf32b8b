// An MSC1731-aware web client (the bridge's demo page) in Chromium: log in through
// the picker and the IdP's real form; the page then logs in at the homeserver it
// was given. MODE=msc1730 plays a client that ignores `homeserver` and sends the
// token back to the bridge. Prints JSON {user_id, homeserver}.
// Environment: BRIDGE_URL, DEPARTMENT, USERNAME, MODE.
import { bridge, launch, pickAndSignIn } from './lib.mjs';

const browser = await launch();
try {
  const page = await browser.newPage();
  const mode = process.env.MODE || 'msc1731';
  await page.goto(`${bridge}_sso_bridge/demo?mode=${mode}`);
  await page.click('#login');
  await pickAndSignIn(page, process.env.DEPARTMENT, process.env.USERNAME);
  await page.waitForSelector('#result[data-user-id]', { timeout: 30000 });
  const result = await page.evaluate(() => {
    const r = document.getElementById('result');
    return { user_id: r.dataset.userId, homeserver: r.dataset.homeserver, login_url: r.dataset.loginUrl, url: window.location.href };
  });
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
