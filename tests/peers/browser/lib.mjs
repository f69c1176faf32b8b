// Shared steps for the browser tests: Debian's Chromium, the picker, the IdPs' forms.
import { chromium } from 'playwright-core';
import { createRequire } from 'node:module';

export const bridge = process.env.BRIDGE_URL;

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/// Waits for the department picker (the login start's own answer).
export async function waitForPicker(page) {
  await page.waitForSelector('#departments');
}

/// On the picker: choose the department; then sign in at whichever IdP form comes.
export async function pickAndSignIn(page, department, username, password = 'correct horse') {
  await waitForPicker(page);
  await page.click(`button[value="${department}"]`);
  await signIn(page, username, password);
}

export async function signIn(page, username, password = 'correct horse') {
  await page.waitForSelector('input[name=password]');
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
}

/// axe-core's scan of the current page; returns the violations (WCAG 2.x A/AA and best practices).
export async function axe(page) {
  const require = createRequire(import.meta.url);
  await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  return page.evaluate(async () => {
    const result = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
    });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) }));
  });
}

/// Where a Matrix client starts a login at the bridge for `client` (its redirectUrl).
export function loginStart(client) {
  return `${bridge}_matrix/client/v3/login/sso/redirect?redirectUrl=${encodeURIComponent(client)}`;
}

/// A fresh browser context and page in which the test plays the client's page
/// at `client` (nothing listens there).
export async function pageWithClient(browser, client) {
  const context = await browser.newContext();
  await context.route(`${client}**`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<title>client</title>' }));
  return context.newPage();
}
