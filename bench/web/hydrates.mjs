// The release build works in a browser, not only scores: in Debian's Chromium, each page the
// bench measures hydrates (its lazy wasm chunk loads) with no error, and the 2FA tab's dialog
// opens. Lighthouse's scores alone would not notice a page that never hydrates.
//   node bench/web/hydrates.mjs http://127.0.0.1:3200
import { createRequire } from "node:module";
import path from "node:path";
import { totp } from "./totp.mjs";

const end2end = path.resolve(new URL("../../end2end/node_modules/", import.meta.url).pathname);
const { chromium } = createRequire(end2end + "/")("@playwright/test");
const base = process.argv[2] ?? "http://127.0.0.1:3200";


const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"],
});
const errors = [];
let failed = false;
try {
  const page = await browser.newPage();
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  const hydrated = async (what) => {
    await page.locator("body[data-hydrated=true]").waitFor({ state: "attached", timeout: 30_000 });
    console.log(`  ${what}: hydrated`);
  };
  await page.goto(`${base}/signin`);
  await hydrated("sign-in page");
  await page.getByLabel("Email").fill("admin@acme.example");
  await page.getByLabel("Password").fill("acme-admin-demo-2026");
  await page.getByRole("button", { name: "Sign in" }).click();
  // The demo admin has a console authenticator (its secret key is published with the demo).
  await page.waitForURL((url) => url.pathname !== "/signin");
  if (new URL(page.url()).pathname === "/signin/code") {
    await hydrated("sign-in code page");
    await page.getByLabel("Code").fill(totp("HOSTGUARDDEMOACMEADMINSEEDAAAAAA"));
    await page.getByRole("button", { name: "Verify" }).click();
  }
  await page.waitForURL((url) => !url.pathname.startsWith("/signin"));
  await page.goto(`${base}/hss/two-factor`);
  await hydrated("2FA tab");
  await page.getByRole("button", { name: /^Enable 2FA on / }).first().click();
  await page.getByRole("dialog", { name: "Enable 2FA" }).waitFor({ timeout: 15_000 });
  console.log("  2FA tab: the Enable dialog opens");
  await page.keyboard.press("Escape");
  await page.getByRole("dialog").waitFor({ state: "detached", timeout: 15_000 }).catch(() => {});
  await page.getByRole("link", { name: "Topics" }).first().click();
  await page.waitForURL(/\/smn\/topics/);
  await page.locator('main a[href^="/smn/topics/"]').first().click();
  await page.getByRole("heading", { name: "Subscriptions" }).first().waitFor({ timeout: 15_000 });
  console.log("  topic page: reached by client-side navigation");
} catch (e) {
  failed = true;
  console.log(`  FAILED: ${e.message.split("\n")[0]}`);
} finally {
  await browser.close();
}
for (const e of errors) console.log(`  browser error: ${e.slice(0, 300)}`);
if (failed || errors.length) process.exit(1);
