// A person's sessions in headless Chromium, at the real oidc-provider, on two
// instances sharing a store: alice signs in from two browser contexts (one per
// instance), each holding a WebSocket; from the first context's /auth/sessions
// she ends the second (its socket must close), then signs out everywhere.
//
// Input (JSON in argv[2]): { one, two, login, shots: { list, after } }.
import { launch, signIn } from './session.mjs';

const input = JSON.parse(process.argv[2]);
const browser = await launch();
const out = {};

// A ticketed WebSocket to the demo dashboard's echo, kept on window.sock.
const holdSocket = (page) => page.evaluate(async () => {
  const { ticket } = await (await fetch('/api/auth/ws-ticket', { method: 'POST' })).json();
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://${location.host}/ws?ticket=${ticket}`);
    window.sock = ws;
    window.sockClosed = null;
    ws.onopen = () => resolve(true);
    ws.onclose = () => { window.sockClosed = performance.now(); resolve(false); };
    setTimeout(() => resolve(false), 5000);
  });
});

try {
  const a = await (await browser.newContext({ viewport: { width: 1000, height: 760 } })).newPage();
  await signIn(a, { startUrl: `${input.one}/`, login: input.login, landing: `${input.one}/` }, out);
  out.firstSocket = await holdSocket(a);
  const b = await (await browser.newContext()).newPage();
  await signIn(b, { startUrl: `${input.two}/`, login: input.login, landing: `${input.two}/` }, {});
  out.secondSocket = await holdSocket(b);

  await a.goto(`${input.one}/auth/sessions`);
  out.rows = await a.locator('table').first().locator('tr').count();
  out.thisOne = await a.locator('text=(this one)').count();
  out.hasDevices = await a.locator('h2', { hasText: 'Paired devices' }).count();
  await a.screenshot({ path: input.shots.list, fullPage: true });

  // End the row that is not this one.
  const other = a.locator('tr', { hasNot: a.locator('text=(this one)') }).locator('button[name=end]').first();
  const before = await b.evaluate(() => performance.now());
  await other.click();
  await a.waitForURL(`${input.one}/auth/sessions`);
  const closedAt = await b.evaluate(() => new Promise((resolve) => {
    const check = () => (window.sockClosed !== null ? resolve(window.sockClosed) : setTimeout(check, 20));
    check();
    setTimeout(() => resolve(null), 5000);
  }));
  out.secondClosedMs = closedAt === null ? null : Math.round(closedAt - before);
  out.secondAfter = await b.evaluate(async () => (await fetch('/api/echo')).status);
  out.rowsAfter = await a.locator('table').first().locator('tr').count();
  await a.screenshot({ path: input.shots.after, fullPage: true });

  // Sign out everywhere, the devices box left unticked.
  await a.locator('button', { hasText: 'Sign out everywhere' }).click();
  await a.waitForURL((u) => u.pathname === '/login');
  out.landedOn = new URL(a.url()).pathname;
  // The login page's CSP allows no fetch: ask with the context's cookies.
  out.firstAfter = (await a.context().request.get(`${input.one}/api/echo`, { maxRedirects: 0, headers: { accept: 'application/json' } })).status();
} catch (e) {
  out.error = String(e && e.message || e).split('\n')[0];
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
