// The Hermes dashboard through portcullis, in headless Chromium: sign in at the
// real IdP, then check that the SPA renders, that its API answers, and that its
// WebSockets (/api/ws gateway.ready; /api/pub -> /api/events) work.
//
// Input (JSON in argv[2]): { startUrl, login, landing, screenshot, hostname }.
// With `hostname`, Chromium resolves that name to 127.0.0.1, so the dashboard is
// browsed under a public-looking name (its Host and Origin are not loopback).
import { launch, signIn } from './session.mjs';

const input = JSON.parse(process.argv[2]);
const browser = await launch(input.hostname);
const out = {};
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  await signIn(page, input, out);
  await page.waitForFunction(() => document.querySelector('#root')?.children.length > 0);
  out.title = await page.title();

  out.hermes = await page.evaluate(async () => {
    const r = {};
    const token = window.__HERMES_SESSION_TOKEN__;
    const base = window.__HERMES_BASE_PATH__;
    r.basePath = base;
    r.hasToken = typeof token === 'string' && token.length > 10;
    const status = await fetch(`${base}/api/status`, { headers: { 'X-Hermes-Session-Token': token } });
    r.statusCode = status.status;
    r.status = status.ok ? Object.keys(await status.json()) : [];
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = (path) => new WebSocket(`${scheme}://${location.host}${base}${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`);
    const first = (sock, match) => new Promise((resolve) => {
      const timer = setTimeout(() => resolve('timeout'), 10000);
      sock.onmessage = (e) => { if (!match || String(e.data).includes(match)) { clearTimeout(timer); resolve(String(e.data)); } };
      sock.onclose = (e) => { clearTimeout(timer); resolve(`closed ${e.code}`); };
    });
    const gw = ws('/api/ws');
    r.gateway = await first(gw, 'gateway.ready');
    gw.close();
    const channel = 'portcullis-test-' + Math.random().toString(36).slice(2);
    const events = ws(`/api/events?channel=${channel}`);
    await new Promise((resolve) => { events.onopen = resolve; setTimeout(resolve, 5000); });
    const received = first(events);
    const pub = ws(`/api/pub?channel=${channel}`);
    await new Promise((resolve) => { pub.onopen = resolve; setTimeout(resolve, 5000); });
    pub.send(JSON.stringify({ hello: 'through portcullis' }));
    r.event = await received;
    pub.close(); events.close();
    return r;
  });
  if (input.screenshot) {
    await page.waitForTimeout(1000);
    await page.screenshot({ path: input.screenshot });
  }
} catch (e) {
  out.error = String(e && e.message || e).split('\n')[0];
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
