// What the browser scripts share: Debian's Chromium launched as this machine
// needs (no sandbox as root, no background networking on a closed network), and a
// person's sign-in through portcullis's login page at the real oidc-provider.
import { chromium } from '../idp/node_modules/playwright-core/index.mjs';

// Launches Chromium; with `hostname`, that name resolves to 127.0.0.1, so a
// dashboard can be browsed under a public-looking name.
export async function launch(hostname) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ...(hostname ? [`--host-resolver-rules=MAP ${hostname} 127.0.0.1`] : [])],
  });
}

// Opens `startUrl`, picks the first provider on the login page, signs in as
// `login` at oidc-provider (its login form, then consent) and waits to land on a
// URL starting with `landing`. Records where it went in `out`.
export async function signIn(page, { startUrl, login, landing }, out) {
  await page.goto(startUrl);
  out.loginPageUrl = page.url();
  await page.locator('a.button').first().click();
  await page.locator('input[name=login]').fill(login);
  await page.locator('input[name=password]').fill('any password');
  await page.locator('button[type=submit]').click();
  await page.locator('button[type=submit]').click(); // consent
  await page.waitForURL((u) => u.toString().startsWith(landing));
  out.finalUrl = page.url();
}
