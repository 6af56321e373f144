// A person approving (or denying) a device in headless Chromium, driven by
// portcullis's Rust tests, while a plain HTTP client plays the device.
//
// Input (JSON in argv[2]): { startUrl (the device's verification_uri_complete),
//   login, landing, decision: "approve" | "deny", devicesUrl?, revoke?, shots
//   (a directory for screenshots) }. Signs in at oidc-provider through
// portcullis's login page, lands on the code page, presses Continue, reads the
// confirmation, presses the decision's button; then, with devicesUrl, opens the
// list of paired devices and, with revoke, revokes the first. Prints one JSON
// line with what it saw.
import { launch, signIn } from './session.mjs';

const input = JSON.parse(process.argv[2]);
const browser = await launch();
const out = {};
const shot = (page, name) => page.screenshot({ path: `${input.shots}/${name}`, fullPage: true });
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 800, height: 760 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  await signIn(page, input, out);
  out.codeValue = await page.locator('input[name=user_code]').inputValue();
  await shot(page, 'device-code.png');

  await page.locator('button[value=check]').click();
  await page.waitForSelector('text=Approve this device?');
  out.confirmUrl = page.url();
  out.facts = await page.locator('dl').innerText();
  out.csp = (await (await page.request.get(input.startUrl)).headers())['content-security-policy'];
  await shot(page, 'device-confirm.png');

  await page.locator(`button[value=${input.decision}]`).click();
  await page.waitForLoadState('load');
  out.decided = await page.locator('h1').innerText();
  await shot(page, `device-${input.decision}d.png`);

  if (input.devicesUrl) {
    await page.goto(input.devicesUrl);
    out.devicesBefore = await page.locator('body').innerText();
    await shot(page, 'devices.png');
    if (input.revoke) {
      await page.locator('button[name=revoke]').first().click();
      await page.waitForLoadState('load');
      out.devicesAfter = await page.locator('body').innerText();
      out.afterRevokeUrl = page.url();
    }
  }
} catch (e) {
  out.error = String(e && e.message || e).split('\n')[0];
  try {
    const pages = browser.contexts()[0]?.pages() || [];
    if (pages[0]) out.pageText = (await pages[0].locator('body').innerText()).slice(0, 400);
  } catch { /* nothing more to tell */ }
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
