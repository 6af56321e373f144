// The "session ends soon" banner of docs/configuration.md, run as written on a
// page behind portcullis in Chromium. Input: { startUrl, landing, login, snippet }.
// Prints the banner's text (or null) and what /api/auth/me said.
import { launch } from './session.mjs';

const input = JSON.parse(process.argv[2]);
const browser = await launch();
const out = {};
try {
  const page = await (await browser.newContext()).newPage();
  page.setDefaultTimeout(15000);
  await page.goto(input.startUrl);
  await page.locator('a.button').first().click();
  await page.locator('input[name=email]').fill(input.login);
  await page.locator('button[type=submit]').click();
  await page.waitForURL((u) => u.toString().startsWith(input.landing));
  await page.addScriptTag({ content: input.snippet });
  await page.waitForSelector('#session-banner', { timeout: 5000 }).catch(() => {});
  out.banner = await page.evaluate(() => document.getElementById('session-banner')?.textContent ?? null);
  out.me = await page.evaluate(async () => (await fetch('/api/auth/me')).json());
} catch (e) {
  out.error = String(e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
