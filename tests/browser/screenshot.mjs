// Opens one page in headless Chromium and saves what a person sees.
// Input (JSON in argv[2]): { url, path }. Prints one JSON line.
import { launch } from './session.mjs';

const input = JSON.parse(process.argv[2]);
const browser = await launch();
const out = {};
try {
  const page = await browser.newPage({ viewport: { width: 800, height: 640 } });
  const r = await page.goto(input.url);
  out.status = r.status();
  await page.screenshot({ path: input.path, fullPage: true });
} catch (e) {
  out.error = String(e && e.message || e).split('\n')[0];
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
