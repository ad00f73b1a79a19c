import { AxeBuilder } from "@axe-core/playwright";
import { Browser, BrowserContext, expect, Page, test as base } from "@playwright/test";
import { linkIn, mailTo } from "./mail";
import { totp } from "./totp";

export { expect };

/** What went wrong in each page's console: uncaught exceptions, hydration errors, panics. */
const problems = new WeakMap<Page, string[]>();

/**
 * Console errors the tests provoke on purpose: the browser logs each refusal the server answers
 * with a 4xx (a 403 page, a 422 to a bad form). A 4xx for the app's own files is a real error.
 */
function expected(m: { text(): string; location(): { url: string } }): boolean {
  return (
    /^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text()) &&
    !m.location().url.includes("/pkg/")
  );
}

function watchPage(page: Page, all: string[]) {
  if (problems.has(page)) return;
  const mine: string[] = [];
  problems.set(page, mine);
  const note = (what: string) => {
    const line = `${page.url()}: ${what}`;
    mine.push(line);
    all.push(line);
  };
  page.on("pageerror", (e) => note(`uncaught ${e.name}: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !expected(m)) note(`console error: ${m.text()}`);
    else if (m.type() === "warning" && /hydrat/i.test(m.text())) note(`console warning: ${m.text()}`);
  });
}

function watchContext(context: BrowserContext, all: string[]) {
  context.pages().forEach((p) => watchPage(p, all));
  context.on("page", (p) => watchPage(p, all));
}

/**
 * Playwright's `test`, watching the console of every page a test opens (in its own context and
 * in any it makes with `browser.newContext` or `browser.newPage`): a hydration error, a panic
 * or an uncaught exception fails the test, even when the page still looks fine.
 */
export const test = base.extend<{ consoleWatch: void }>({
  consoleWatch: [
    async ({ context, browser }, use) => {
      const all: string[] = [];
      watchContext(context, all);
      const newContext = browser.newContext.bind(browser);
      const newPage = browser.newPage.bind(browser);
      browser.newContext = async (...args: Parameters<Browser["newContext"]>) => {
        const c = await newContext(...args);
        watchContext(c, all);
        return c;
      };
      browser.newPage = async (...args: Parameters<Browser["newPage"]>) => {
        const p = await newPage(...args);
        watchPage(p, all);
        return p;
      };
      try {
        await use();
      } finally {
        browser.newContext = newContext;
        browser.newPage = newPage;
      }
      expect(all, "hydration errors, panics or uncaught exceptions in the pages' consoles").toEqual([]);
    },
    { auto: true },
  ],
});

// The demo sign-ins (also printed by the server and listed in the README).
export const users = {
  operator: { email: "ops@hostguard.example", password: "operator-demo-2026" },
  acmeAdmin: { email: "admin@acme.example", password: "acme-admin-demo-2026" },
  alice: { email: "alice@acme.example", password: "alice-demo-2026" },
  bob: { email: "bob@acme.example", password: "bob-demo-2026" },
  carmen: { email: "carmen@acme.example", password: "carmen-demo-2026" },
};

/**
 * Waits until the wasm has hydrated the page, so clicks are handled by the app, and fails if
 * hydrating it went wrong: a page that failed to hydrate is still marked hydrated, but dead.
 */
export async function hydrated(page: Page) {
  await page.locator("body[data-hydrated=true]").waitFor({ state: "attached" });
  // Let the rest of the hydration task and its effects run, and any error surface.
  await page.evaluate(() => new Promise((done) => setTimeout(done, 50)));
  expect(problems.get(page) ?? [], `${page.url()} hydrates without errors`).toEqual([]);
}

/**
 * axe on the page, with WCAG 2.2's target size (24 px, or 24 px apart) checked too: axe leaves
 * it off by default, and Lighthouse counts it.
 */
export function axe(page: Page): AxeBuilder {
  return new AxeBuilder({ page }).options({ rules: { "target-size": { enabled: true } } });
}

/** The page's serious and critical accessibility problems ([axe]), each with where it is. */
export async function axeProblems(page: Page): Promise<string[]> {
  const results = await axe(page).analyze();
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

/**
 * The published secret keys of the demo operator's and tenant admins' console authenticators
 * (`domain::demo::CONSOLE_SEEDS`): their sign-in asks for a code after the password.
 */
export const consoleSeeds: Record<string, string> = {
  "ops@hostguard.example": "HOSTGUARDDEMOOPERATORSEEDAAAAAAA",
  "admin@acme.example": "HOSTGUARDDEMOACMEADMINSEEDAAAAAA",
  "admin@globex.example": "HOSTGUARDDEMOGLOBEXADMINSEEDAAAA",
};

// The console accepts each time step's code once per authenticator: every code typed here is of
// a later step than the last one tried with that secret (at most the next 30 seconds' step, as
// the console allows; else it waits for the clock).
const lastSteps = new Map<string, number>();
export async function freshCode(secret: string): Promise<string> {
  for (;;) {
    const at = Date.now();
    const now = Math.floor(at / 30_000);
    for (const step of [now - 1, now, now + 1]) {
      // The console takes a step's code until its clock is two steps past it; a code with less
      // than 10 seconds of that left may expire between typing it and the console checking it.
      const usableUntil = (step + 2) * 30_000 - 10_000;
      if (step > (lastSteps.get(secret) ?? 0) && at < usableUntil) {
        lastSteps.set(secret, step);
        return totp(secret, step * 30_000);
      }
    }
    await new Promise((done) => setTimeout(done, 1000));
  }
}

/** On `/signin/code`: types codes of `secret` until one is taken (another sign-in may have used a step). */
export async function typeConsoleCode(page: Page, secret: string) {
  await hydrated(page);
  // A worker that restarted after a failure forgot which steps it used: up to 3 are refused.
  for (let tries = 0; tries < 6; tries++) {
    await page.getByLabel("Code").fill(await freshCode(secret));
    // The console's answer first, however long a loaded machine takes; then the page it leads to.
    const answered = page.waitForResponse((r) => r.request().method() === "POST" && r.url().includes("/api/auth/sign_in_code"), {
      timeout: 30_000,
    });
    await page.getByRole("button", { name: "Verify" }).click();
    await answered;
    const done = await page
      .waitForURL((u) => !u.pathname.startsWith("/signin"), { timeout: 5_000, waitUntil: "commit" })
      .then(() => true)
      .catch(() => false);
    if (done) return;
  }
  throw new Error("no code was accepted at /signin/code");
}

/**
 * The console takes each step's code of an authenticator once, so a person with a console
 * authenticator can sign in afresh about once per 30 seconds. Tests that only need to be signed in
 * reuse that person's last session (its cookies) while the console still honours it; signing out,
 * a reset or an expiry ends it, and the next sign-in is a full one.
 */
const savedSessions = new Map<string, Awaited<ReturnType<BrowserContext["cookies"]>>>();

export async function signIn(page: Page, who: { email: string; password: string }) {
  const saved = consoleSeeds[who.email] ? savedSessions.get(who.email) : undefined;
  if (saved) {
    await page.context().addCookies(saved);
    await page.goto("/");
    await expect(page).not.toHaveURL(/\/$/);
    if (!new URL(page.url()).pathname.startsWith("/signin")) {
      await hydrated(page);
      return;
    }
    savedSessions.delete(who.email);
  }
  await page.goto("/signin");
  await hydrated(page);
  await typePassword(page, who);
  await expect(page).not.toHaveURL(/\/signin/);
  if (consoleSeeds[who.email]) savedSessions.set(who.email, await page.context().cookies());
}

/**
 * On `/signin` (already loaded): types the email and password and signs in, and types a console
 * code when one is asked for. Leaves the page wherever the sign-in leads.
 */
export async function typePassword(page: Page, who: { email: string; password: string }) {
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).not.toHaveURL(/\/signin(\?.*)?$/);
  if (new URL(page.url()).pathname === "/signin/code") {
    const secret = consoleSeeds[who.email];
    if (!secret) throw new Error(`${who.email} has a console authenticator whose secret the tests do not know`);
    await typeConsoleCode(page, secret);
  }
}

export async function signOut(page: Page) {
  await page.locator(".account-menu summary").click();
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/signin/);
}

/** Creates a topic on the Topics page, which stays open. */
export async function createTopic(page: Page, name: string, display: string) {
  await page.goto("/smn/topics");
  await hydrated(page);
  await page.getByLabel("Topic name").fill(name);
  await page.getByLabel("Display name").fill(display);
  await page.getByRole("button", { name: "Create topic" }).click();
  await expect(page.getByRole("status")).toHaveText("Topic created.");
}

/** Follows the confirmation link the real SMTP server received for `address`, as its owner would. */
export async function confirmFromMail(browser: Browser, address: string) {
  await expect.poll(() => mailTo(address).length, { timeout: 15_000 }).toBe(1);
  const reader = await browser.newContext();
  const mailPage = await reader.newPage();
  await mailPage.goto(linkIn(address, "/smn/confirm?token=")!);
  await mailPage.getByRole("button", { name: "Confirm subscription" }).click();
  await expect(mailPage.getByRole("status")).toContainText("Your subscription is confirmed");
  await reader.close();
}

/** A topic with one subscription, confirmed from the mail the real SMTP server received. */
export async function confirmedTopic(page: Page, browser: Browser, name: string, display: string) {
  await createTopic(page, name, display);
  await page.getByRole("link", { name, exact: true }).click();
  const address = `${name}-${Date.now()}@acme.example`;
  await page.getByLabel("Protocol").selectOption("email");
  await page.getByLabel("Endpoints").fill(address);
  await page.getByRole("button", { name: "Add", exact: true }).click();
  await confirmFromMail(browser, address);
}

/**
 * A first sign-in method comes only from an invitation's link. The demo opens one for each of
 * Acme's people (`domain::demo::invitation_token`; the console prints the links at start-up):
 * its path, for `who`.
 */
export function demoInvitation(who: { email: string }): string {
  return `/invite?token=demo-invitation-${who.email.split("@")[0]}-acme`;
}

/**
 * `admin` invites `email` again from the Users page (a new link, mailed; the old one stops
 * working), and signs out. Returns the new link's path, read from the mail at the SMTP sink.
 */
export async function inviteAgain(page: Page, admin: { email: string; password: string }, email: string): Promise<string> {
  const before = mailTo(email).length;
  await signIn(page, admin);
  await page.goto("/iam/users");
  await hydrated(page);
  const row = page.getByRole("row", { name: new RegExp(email.replace(/[.]/g, "\\.")) });
  await row.getByText(`New invitation for ${email}`).click();
  await row.getByRole("button", { name: "Send new invitation" }).click();
  await expect(page.getByRole("status")).toContainText(`Invitation sent to ${email} by email`);
  await signOut(page);
  await expect.poll(() => mailTo(email).length, { timeout: 15_000 }).toBeGreaterThan(before);
  const link = new URL(linkIn(email, "/invite?token=")!);
  return link.pathname + link.search;
}

/**
 * Follows an invitation link (`path`) in `page`: the password, then an authenticator app named
 * `name` confirmed with its code. Ends signed in on the portal, in a session that may add more
 * sign-in methods for a few minutes. Returns the app's secret (its confirming code is spent).
 */
export async function acceptInvitation(page: Page, path: string, password: string, name: string): Promise<string> {
  await page.goto(path);
  await hydrated(page);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByLabel("Password again").fill(password);
  await page.getByRole("button", { name: "Save password" }).click();
  await page.getByLabel("Name of this authenticator").fill(name);
  await page.getByRole("button", { name: "Show the code to add" }).click();
  const secret = await page.getByLabel("Secret key").inputValue();
  await page.getByLabel("Code from the app").fill(await freshCode(secret));
  await page.getByRole("button", { name: "Confirm and finish" }).click();
  await expect(page).toHaveURL(/\/portal$/);
  await hydrated(page);
  return secret;
}

/** Chromium's virtual authenticator (CDP): a platform passkey that verifies its user. */
export async function virtualAuthenticator(context: BrowserContext, page: Page) {
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
}
