// A person's journey in headless Chromium, driven by portcullis's Rust tests.
//
// Input (JSON in argv[2]): { startUrl, idp: "dev" | "oidc-provider", login,
//   landing, prefix, screenshot }. Opens startUrl, picks the first provider on
// the login page, signs in at the IdP like a person (fills the form, presses the
// buttons), waits to land on `landing`, then runs what a dashboard's JavaScript
// would: /api/auth/me, a ticketed WebSocket and a cookie-only WebSocket.
// Prints one JSON line with what it saw.
import { chromium } from '../idp/node_modules/playwright-core/index.mjs';

const input = JSON.parse(process.argv[2]);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const out = {};
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);

  await page.goto(input.startUrl);
  out.loginPageUrl = page.url();
  await page.locator('a.button').first().click();

  if (input.idp === 'dev') {
    await page.locator('input[name=email]').fill(input.login);
    await page.locator('button[type=submit]').click();
  } else {
    await page.locator('input[name=login]').fill(input.login);
    await page.locator('input[name=password]').fill('any password');
    await page.locator('button[type=submit]').click();
    await page.locator('button[type=submit]').click(); // consent: Continue
  }
  await page.waitForURL((u) => u.toString().startsWith(input.landing));
  out.finalUrl = page.url();
  out.cookies = (await context.cookies()).map(({ name, path, secure, httpOnly, sameSite }) =>
    ({ name, path, secure, httpOnly, sameSite }));

  out.dashboard = await page.evaluate(async ({ prefix, neighbour }) => {
    const result = {};
    // A dashboard's own cookie that is not ASCII (input.neighbour, e.g.
    // 'pref=José'): Chromium sends it as raw UTF-8 bytes beside the session.
    if (neighbour) document.cookie = neighbour;
    const me = await fetch(`${prefix}/api/auth/me`);
    result.meStatus = me.status;
    result.me = await me.json();
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const echo = (url) => new Promise((resolve) => {
      const ws = new WebSocket(url);
      const timer = setTimeout(() => resolve('timeout'), 5000);
      ws.onopen = () => ws.send('hello');
      ws.onmessage = (e) => { clearTimeout(timer); resolve(e.data); ws.close(); };
      ws.onerror = () => { clearTimeout(timer); resolve('error'); };
    });
    const t = await fetch(`${prefix}/api/auth/ws-ticket`, { method: 'POST' });
    result.ticketStatus = t.status;
    const { ticket } = await t.json();
    result.ticketEcho = await echo(`${scheme}://${location.host}${prefix}/ws?ticket=${ticket}`);
    result.ticketReuse = await echo(`${scheme}://${location.host}${prefix}/ws?ticket=${ticket}`);
    result.cookieEcho = await echo(`${scheme}://${location.host}${prefix}/ws`);
    // What the upstream saw of a ticketed upgrade (the demo dashboard's
    // /ws/request sends the request's headers as its first message).
    const t2 = await (await fetch(`${prefix}/api/auth/ws-ticket`, { method: 'POST' })).json();
    result.upstreamSaw = await new Promise((resolve) => {
      const ws = new WebSocket(`${scheme}://${location.host}${prefix}/ws/request?ticket=${t2.ticket}`);
      const timer = setTimeout(() => resolve('timeout'), 5000);
      ws.onmessage = (e) => { clearTimeout(timer); resolve(JSON.parse(e.data)); ws.close(); };
      ws.onerror = () => { clearTimeout(timer); resolve('error'); };
    });
    const page = await fetch(`${prefix}/api/echo`, { redirect: 'manual' });
    result.pageStatus = page.status;
    return result;
  }, { prefix: input.prefix, neighbour: input.neighbour || null });

  if (input.screenshot) {
    await page.goto(input.landing);
    await page.waitForTimeout(500);
    await page.screenshot({ path: input.screenshot, fullPage: true });
  }
} catch (e) {
  out.error = String(e && e.message || e).split('\n')[0];
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
