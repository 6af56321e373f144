// JupyterLab through portcullis, in headless Chromium, as a person uses it: sign
// in at the real IdP, land in the Lab UI, open a Python notebook, run
// `print(6*7)` in its kernel (over the kernel WebSocket), save it (Jupyter's XSRF
// check), download it through /files/ (Jupyter's Referer check), then sign out
// with a kernel socket open and see what a script's fetch gets afterwards.
//
// Input (JSON in argv[2]): { startUrl, login, landing, base, screenshot, hostname }.
// `base` is the public path of the Lab ('/jupyter' or ''); with `hostname`,
// Chromium resolves that name to 127.0.0.1.
import { launch, signIn } from './session.mjs';

const input = JSON.parse(process.argv[2]);
const browser = await launch(input.hostname);
const out = {};
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.setDefaultTimeout(60000);
  await signIn(page, input, out);

  // The Lab UI: its launcher, then a new Python notebook from it.
  await page.locator('.jp-LauncherCard[data-category="Notebook"]').first().click();
  out.labLoaded = true;
  // Wait until the Lab is connected to an idle kernel (the status bar says so):
  // the Lab may start a kernel, replace it, and connect to the second.
  await page.getByText(/\(ipykernel\) \| Idle/).first().waitFor({ timeout: 90000 });
  out.kernelIdle = true;
  await page.locator('.jp-Notebook .jp-Cell .cm-content').first().click();
  await page.keyboard.type('print(6*7)');
  await page.keyboard.press('Shift+Enter');
  const output = page.locator('.jp-OutputArea-output').first();
  await output.waitFor({ timeout: 60000 });
  out.output = (await output.innerText()).trim();
  if (input.screenshot) await page.screenshot({ path: input.screenshot });

  // Save (a PUT that must pass Jupyter's XSRF check), then read it back.
  // The notebook toolbar's save button (headless Chromium keeps Ctrl+S).
  await page.locator('.jp-NotebookPanel-toolbar [data-command="docmanager:save"]').first().click();
  // The first save of an untitled notebook asks for a name; keep the one offered.
  await page.locator('.jp-Dialog .jp-mod-accept').first().click({ timeout: 5000 }).catch(() => {});
  out.saved = await page.evaluate(async (base) => {
    // Saving is asynchronous: poll until the file holds the cell.
    let nb; let cell;
    for (let i = 0; i < 40 && !cell; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const list = await (await fetch(`${base}/api/contents`)).json();
      nb = list.content.find((f) => f.type === 'notebook');
      if (!nb) continue;
      const doc = await (await fetch(`${base}/api/contents/${encodeURIComponent(nb.path)}`)).json();
      cell = doc.content.cells.find((c) => String(c.source).includes('6*7'));
    }
    if (!cell) return { error: 'the notebook was not saved' };
    const files = await fetch(`${base}/files/${encodeURIComponent(nb.path)}`);
    return {
      path: nb.path,
      source: cell.source,
      outputs: JSON.stringify(cell.outputs),
      filesStatus: files.status,
    };
  }, input.base);

  // Sign out with a kernel socket open; then a script's fetch.
  out.logout = await page.evaluate(async (base) => {
    const r = {};
    const kernels = await (await fetch(`${base}/api/kernels`)).json();
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}${base}/api/kernels/${kernels[0].id}/channels`);
    r.opened = await new Promise((resolve) => {
      ws.onopen = () => resolve(true);
      ws.onerror = () => resolve(false);
      setTimeout(() => resolve(false), 10000);
    });
    const closed = new Promise((resolve) => { ws.onclose = () => resolve(performance.now()); });
    const started = performance.now();
    const res = await fetch(`${base}/auth/logout`, { method: 'POST', headers: { Accept: 'application/json' } });
    r.logoutStatus = res.status;
    const timeout = new Promise((resolve) => setTimeout(() => resolve(null), 5000));
    const at = await Promise.race([closed, timeout]);
    r.closeMs = at === null ? null : Math.round(at - started);
    const after = await fetch(`${base}/lab/api/settings`);
    r.afterStatus = after.status;
    r.afterType = after.headers.get('content-type');
    r.afterBody = await after.text();
    return r;
  }, input.base);
} catch (e) {
  out.error = String(e && e.message || e).split('\n')[0];
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
