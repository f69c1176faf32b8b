// Accessibility and looks: axe-core scans of the picker, confirmation, error and
// fallback pages (zero violations expected), and screenshots of the picker and
// the fallback into SCREENSHOT_DIR. Prints JSON {page: violations}.
// Environment: BRIDGE_URL, SCREENSHOT_DIR (optional).
import { axe, bridge, launch, signIn, waitForPicker } from './lib.mjs';

const shots = process.env.SCREENSHOT_DIR;
const browser = await launch();
const results = {};
try {
  // Scripts injected by the test must not be blocked by the pages' CSP.
  const context = await browser.newContext({ bypassCSP: true, viewport: { width: 900, height: 760 } });
  const page = await context.newPage();

  const start = (redirect, idp = '') =>
    `${bridge}_matrix/client/v3/login/sso/redirect${idp ? '/' + idp : ''}?redirectUrl=${encodeURIComponent(redirect)}`;

  await page.goto(start(`${bridge}_sso_bridge/demo`));
  await waitForPicker(page);
  if (shots) await page.screenshot({ path: `${shots}/picker.png`, fullPage: true });
  results.picker = await axe(page);

  // The confirmation page: a login for a client whose origin is not on the allow-list.
  await page.goto(start('https://unknown-client.example/login', 'eng'));
  await signIn(page, 'alice');
  await page.waitForSelector('a.button.primary', { timeout: 30000 });
  results.confirm = await axe(page);

  await page.goto(start(`${bridge}_sso_bridge/demo`, 'no-such-department'));
  results.error = await axe(page);

  await page.goto(`${bridge}_matrix/static/client/login/?device_id=SCREENSHOT`);
  if (shots) await page.screenshot({ path: `${shots}/fallback.png`, fullPage: true });
  results.fallback = await axe(page);
  console.log(JSON.stringify(results));
} finally {
  await browser.close();
}
