// The console's first load as browsers see it: Lighthouse (npm, in Debian's Chromium, offline)
// on the sign-in page, the 2FA tab and a topic page of a running console, with a cold cache.
// Prints each page's scores and bytes transferred, and what the 2FA tab's first load fetches.
//   node bench/web/lighthouse.mjs http://127.0.0.1:3200 [--json out.json]
// Run by `./scripts/bench.sh --web`, which builds and starts the release console first.
import { createRequire } from "node:module";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { totp } from "./totp.mjs";

const tools = path.resolve(new URL("../../.tools/node_modules/", import.meta.url).pathname);
const require = createRequire(tools + "/");
const lighthouse = (await import(path.join(tools, "lighthouse/core/index.js"))).default;
const chromeLauncher = require("chrome-launcher");

const base = process.argv[2] ?? "http://127.0.0.1:3200";
const jsonOut = process.argv.indexOf("--json") > 0 ? process.argv[process.argv.indexOf("--json") + 1] : null;
const admin = { email: "admin@acme.example", password: "acme-admin-demo-2026", secret: "HOSTGUARDDEMOACMEADMINSEEDAAAAAA" };

/** Signs in as a form would, and returns the session cookie. */
async function signIn(who) {
  const res = await fetch(`${base}/api/auth/sign_in`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: base },
    body: new URLSearchParams({ email: who.email, password: who.password }).toString(),
  });
  const cookie = (res.headers.getSetCookie?.() ?? [])
    .map((c) => c.split(";")[0])
    .find((c) => c.startsWith("hostguard_session="));
  if (!cookie) throw new Error(`sign-in failed: HTTP ${res.status}`);
  if (!(res.headers.get("location") ?? "").startsWith("/signin/code")) return cookie;
  // The demo admin's console authenticator, whose secret key the demo publishes. The console
  // takes each 30-second step's code once, and hydrates.mjs has just used one: on a refusal,
  // the next step's.
  for (let tries = 0; ; tries++) {
    const step = await fetch(`${base}/api/auth/sign_in_code`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: base, cookie },
      body: new URLSearchParams({ code: totp(who.secret) }).toString(),
    });
    const signedIn = (step.headers.getSetCookie?.() ?? [])
      .map((c) => c.split(";")[0])
      .find((c) => c.startsWith("hostguard_session="));
    if (signedIn) return signedIn;
    if (tries >= 1) throw new Error(`the sign-in code was refused: HTTP ${step.status}`);
    await new Promise((done) => setTimeout(done, 30_000 - (Date.now() % 30_000) + 1_000));
  }
}


const cookie = await signIn(admin);
const topics = await (await fetch(`${base}/smn/topics`, { headers: { cookie } })).text();
const topicPath = topics.match(/href="(\/smn\/topics\/[0-9a-f-]{36})"/)?.[1];
if (!topicPath) throw new Error("no topic link on /smn/topics");

const pages = [
  { name: "sign-in page", url: `${base}/signin`, cookie: null },
  { name: "2FA tab", url: `${base}/hss/two-factor`, cookie },
  { name: "topic page", url: `${base}${topicPath}`, cookie },
];
const presets = [
  { name: "desktop", config: (await import(path.join(tools, "lighthouse/core/config/desktop-config.js"))).default },
  { name: "mobile", config: undefined },
];

const chrome = await chromeLauncher.launch({
  chromePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  chromeFlags: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
});
const results = [];
try {
  for (const preset of presets) {
    for (const page of pages) {
      const flags = {
        port: chrome.port,
        output: "json",
        logLevel: "error",
        onlyCategories: ["performance", "accessibility", "best-practices"],
        extraHeaders: page.cookie ? { Cookie: page.cookie } : undefined,
      };
      const run = await lighthouse(page.url, flags, preset.config);
      const lhr = run.lhr;
      if (lhr.runtimeError) throw new Error(`${page.name}: ${lhr.runtimeError.message}`);
      const score = (c) => Math.round((lhr.categories[c]?.score ?? 0) * 100);
      const requests = lhr.audits["network-requests"]?.details?.items ?? [];
      results.push({
        preset: preset.name,
        page: page.name,
        url: page.url.replace(base, ""),
        performance: score("performance"),
        accessibility: score("accessibility"),
        bestPractices: score("best-practices"),
        transferBytes: lhr.audits["total-byte-weight"]?.numericValue ?? 0,
        lcpMs: Math.round(lhr.audits["largest-contentful-paint"]?.numericValue ?? 0),
        tbtMs: Math.round(lhr.audits["total-blocking-time"]?.numericValue ?? 0),
        requests: requests.map((r) => ({
          url: r.url.replace(base, ""),
          transferBytes: r.transferSize,
          resourceBytes: r.resourceSize,
        })),
        failed: Object.values(lhr.audits)
          .filter((a) => a.score !== null && a.score < 1 && a.scoreDisplayMode === "binary")
          .map((a) => a.id),
      });
    }
  }
} finally {
  await chrome.kill();
}

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
console.log("\n== Lighthouse (release build, cold cache)");
console.log("preset   page           performance  accessibility  best practices  transferred  LCP      TBT");
for (const r of results) {
  console.log(
    `${r.preset.padEnd(8)} ${r.page.padEnd(14)} ${String(r.performance).padStart(11)}  ${String(r.accessibility).padStart(13)}  ${String(r.bestPractices).padStart(14)}  ${kb(r.transferBytes).padStart(11)}  ${String(r.lcpMs).padStart(5)} ms  ${String(r.tbtMs).padStart(4)} ms`,
  );
}
for (const r of results.filter((r) => r.failed.length)) {
  console.log(`  ${r.preset} ${r.page}: failed audits: ${r.failed.join(", ")}`);
}
const tab = results.find((r) => r.page === "2FA tab" && r.preset === "desktop");
console.log(`\n== First load of the 2FA tab: ${kb(tab.transferBytes)} transferred (budget 250 KB)`);
for (const r of tab.requests) {
  console.log(`  ${kb(r.transferBytes).padStart(10)} transferred  ${kb(r.resourceBytes).padStart(10)} uncompressed  ${r.url}`);
}
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 2));
