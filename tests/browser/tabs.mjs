// Three tabs of one browser, each sent to sign in (a session that expired), each
// reaching the development IdP's form; the forms are submitted in reverse order.
// Input: { base, pages: ["/a", …], login }. Prints where each tab landed and
// what /api/auth/me said there.
import { launch } from './session.mjs';

const input = JSON.parse(process.argv[2]);
const browser = await launch();
const out = { tabs: [] };
try {
  const context = await browser.newContext();
  const tabs = [];
  for (const path of input.pages) {
    const page = await context.newPage();
    page.setDefaultTimeout(15000);
    await page.goto(input.base + path);
    await page.locator('a.button').first().click();
    await page.locator('input[name=email]').fill(input.login);
    tabs.push({ page, path });
  }
  for (const { page, path } of [...tabs].reverse()) {
    await page.locator('button[type=submit]').click();
    await page.waitForURL((u) => !u.toString().includes('/authorize'));
    await page.waitForLoadState();
    const me = await page.evaluate(async () => (await fetch('/api/auth/me')).status);
    out.tabs.push({ path, landed: new URL(page.url()).pathname + new URL(page.url()).search, me });
  }
} catch (e) {
  out.error = String(e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
