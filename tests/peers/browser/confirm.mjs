// Browser test of the confirmation page, in Debian's headless Chromium: a login
// for a client whose origin is not on the allow-list ends at "Continue to …?".
// Prints JSON with every entry of the tab's navigation history (from the
// DevTools protocol, which sees the URLs the page's own scripts cannot), the
// page's address and the Continue link, for the Rust test to check that the
// loginToken is in no history entry.
//
// Environment: BRIDGE_URL, USERNAME.
import { bridge, launch, signIn } from './lib.mjs';

const browser = await launch();
try {
  const page = await browser.newPage();
  const client = 'https://unknown-client.example/login';
  await page.goto(`${bridge}_matrix/client/v3/login/sso/redirect/eng?redirectUrl=${encodeURIComponent(client)}`);
  await signIn(page, process.env.USERNAME || 'alice');
  await page.waitForSelector('a.button.primary', { timeout: 30000 });
  const cdp = await page.context().newCDPSession(page);
  const history = await cdp.send('Page.getNavigationHistory');
  const continueTo = await page.getAttribute('a.button.primary', 'href');
  console.log(JSON.stringify({
    url: page.url(),
    continue_to: continueTo,
    history: history.entries.map((e) => e.url),
    history_length: await page.evaluate(() => window.history.length),
  }));
} finally {
  await browser.close();
}
