// The Hermes dashboard at /hermes/ and JupyterLab at /jupyter/ behind one
// portcullis, in headless Chromium, with a reload in the middle:
//  1. alice signs in, runs print(6*7) in a Lab kernel and holds a kernel socket;
//     her Hermes page holds a socket on Hermes's event channel;
//  2. bob signs in: Hermes works, /jupyter/lab is the 403 page, /jupyter/api/…
//     is 403 JSON, and a kernel socket is refused;
//  3. the config is swapped for one without alice on /jupyter/ and SIGHUP sent:
//     her kernel socket closes, her Hermes socket stays, her next Lab request
//     gets 403.
//
// Input (JSON in argv[2]): { site, hostname, reload: { from, to, pid }, shots: { forbidden, lab } }.
import { copyFileSync } from 'node:fs';
import { launch, signIn } from './session.mjs';

const input = JSON.parse(process.argv[2]);
const browser = await launch(input.hostname);
const out = {};
const site = input.site;

// Opens `url` as a WebSocket in `page` and keeps it on `window[name]`;
// resolves whether it opened.
const holdSocket = (page, name, url) => page.evaluate(([name, url]) => new Promise((resolve) => {
  const ws = new WebSocket(url);
  window[name] = ws;
  window[name + 'Closed'] = null;
  ws.onopen = () => resolve(true);
  ws.onclose = () => { window[name + 'Closed'] = performance.now(); resolve(false); };
  setTimeout(() => resolve(false), 10000);
}), [name, url]);

try {
  const aliceContext = await browser.newContext({ ignoreHTTPSErrors: true });
  const lab = await aliceContext.newPage();
  lab.setDefaultTimeout(60000);
  await signIn(lab, { startUrl: `${site}/jupyter/lab`, login: 'alice', landing: `${site}/jupyter/lab` }, out);
  await lab.locator('.jp-LauncherCard[data-category="Notebook"]').first().click();
  await lab.getByText(/\(ipykernel\) \| Idle/).first().waitFor({ timeout: 90000 });
  await lab.locator('.jp-Notebook .jp-Cell .cm-content').first().click();
  await lab.keyboard.type('print(6*7)');
  await lab.keyboard.press('Shift+Enter');
  const output = lab.locator('.jp-OutputArea-output').first();
  await output.waitFor({ timeout: 60000 });
  out.aliceOutput = (await output.innerText()).trim();
  if (input.shots?.lab) await lab.screenshot({ path: input.shots.lab });
  const kernels = await lab.evaluate(async () => (await fetch('/jupyter/api/kernels')).json());
  out.kernel = kernels[0]?.id;
  const wss = site.replace('https://', 'wss://');
  out.aliceKernelSocket = await holdSocket(lab, 'kernel', `${wss}/jupyter/api/kernels/${out.kernel}/channels`);

  const hermes = await aliceContext.newPage();
  await hermes.goto(`${site}/hermes/`);
  await hermes.waitForFunction(() => document.querySelector('#root')?.children.length > 0);
  const token = await hermes.evaluate(() => window.__HERMES_SESSION_TOKEN__);
  // Hermes's event channel (its gateway socket is the SPA's own, which Hermes
  // may replace): subscribed now, published to after the reload.
  const channel = 'portcullis-routes-' + Math.random().toString(36).slice(2);
  const eventsUrl = `${wss}/hermes/api/events?channel=${channel}&token=${encodeURIComponent(token)}`;
  out.aliceHermesSocket = await holdSocket(hermes, 'events', eventsUrl);

  // bob: Hermes only.
  const bobContext = await browser.newContext({ ignoreHTTPSErrors: true });
  const bob = await bobContext.newPage();
  bob.setDefaultTimeout(20000);
  const bobOut = {};
  await signIn(bob, { startUrl: `${site}/hermes/`, login: 'bob', landing: `${site}/hermes/` }, bobOut);
  await bob.waitForFunction(() => document.querySelector('#root')?.children.length > 0);
  out.bobHermesTitle = await bob.title();
  const page = await bob.goto(`${site}/jupyter/lab`);
  out.bobLabStatus = page.status();
  out.bobLabText = await bob.locator('body').innerText();
  out.bobLabSignOut = await bob.locator('form[action="/auth/logout"] button').count();
  if (input.shots?.forbidden) await bob.screenshot({ path: input.shots.forbidden });
  await bob.goto(`${site}/hermes/`);
  out.bobApi = await bob.evaluate(async () => {
    const r = await fetch('/jupyter/api/contents');
    return { status: r.status, body: await r.text() };
  });
  out.bobKernelSocket = await holdSocket(bob, 'stolen', `${wss}/jupyter/api/kernels/${out.kernel}/channels`);

  // The reload: alice is no longer on /jupyter/'s list.
  const before = await lab.evaluate(() => performance.now());
  copyFileSync(input.reload.from, input.reload.to);
  process.kill(input.reload.pid, 'SIGHUP');
  const closedAt = await lab.evaluate(() => new Promise((resolve) => {
    const check = () => (window.kernelClosed !== null ? resolve(window.kernelClosed) : setTimeout(check, 20));
    check();
    setTimeout(() => resolve(null), 5000);
  }));
  out.kernelClosedMs = closedAt === null ? null : Math.round(closedAt - before);
  await hermes.waitForTimeout(2500);
  out.hermesStillOpen = await hermes.evaluate(() => window.events.readyState === WebSocket.OPEN);
  // Something published on the channel after the reload still reaches her.
  out.hermesEventAfter = await hermes.evaluate(([pubUrl]) => new Promise((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), 5000);
    window.events.onmessage = (e) => { clearTimeout(timer); resolve(String(e.data)); };
    const pub = new WebSocket(pubUrl);
    pub.onopen = () => { pub.send(JSON.stringify({ after: 'the reload' })); };
  }), [eventsUrl.replace('/api/events', '/api/pub')]);
  out.aliceLabAfter = await lab.evaluate(async () => {
    const r = await fetch('/jupyter/api/contents');
    return { status: r.status, body: await r.text() };
  });
  out.aliceHermesAfter = await hermes.evaluate(async () => (await fetch('/hermes/api/status', {
    headers: { 'X-Hermes-Session-Token': window.__HERMES_SESSION_TOKEN__ },
  })).status);
} catch (e) {
  out.error = String(e && e.message || e).split('\n')[0];
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
