import { Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { axeProblems, expect, hydrated, signIn, test } from "./helpers";

// Carmen (Acme) and Esther (Globex) are no other test's: Carmen's history is written here, and
// the two are the one person with accounts in two tenants.
const carmen = { email: "carmen@acme.example", password: "carmen-demo-2026" };
const esther = { email: "esther@globex.example", password: "esther-demo-2026" };
const db = "../target/e2e/hostguard.db";

test.use({ viewport: { width: 390, height: 844 } });

async function noSeriousAxeViolations(page: Page) {
  const bad = await axeProblems(page);
  expect(bad).toEqual([]);
}

async function noSidewaysScroll(page: Page) {
  const [scroll, inner] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  expect(scroll, "no sideways scrolling at 390 px").toBeLessThanOrEqual(inner);
}

async function accountShown(page: Page): Promise<string> {
  return (await page.locator(".account-email").textContent()) ?? "";
}

test("the sign-in history filters by method, result and date at 390 px", async ({ page }) => {
  execFileSync("python3", ["sign-ins.py", db, carmen.email]);
  await signIn(page, carmen);
  await page.goto("/portal/history");
  await hydrated(page);
  const cards = page.locator(".history-item");
  await expect(cards).toHaveCount(5);
  await expect(page.getByText(/5 logins/)).toBeVisible();
  await noSidewaysScroll(page);
  await noSeriousAxeViolations(page);

  await page.getByLabel("Method").selectOption("push");
  await expect(page).toHaveURL(/method=push/);
  await expect(cards).toHaveCount(2);
  await page.getByLabel("Result").selectOption("denied");
  await expect(page).toHaveURL(/result=denied/);
  await expect(cards).toHaveCount(1);
  await expect(cards.first()).toContainText("push denied");
  await noSidewaysScroll(page);

  // A reload keeps the view: the filters live in the URL.
  await page.reload();
  await hydrated(page);
  await expect(cards).toHaveCount(1);

  // The portal's own codes are a method of their own; dates bound the list.
  await page.goto("/portal/history?method=portal_code");
  await hydrated(page);
  await expect(cards).toHaveCount(1);
  await expect(cards.first()).toContainText("Code from the portal");
  // From the start of the day before yesterday (UTC), 48 to 72 hours ago at any time of day:
  // the logins of 26 hours ago and later are in, the one of 3 days ago is not.
  const since = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10);
  await page.goto(`/portal/history?since=${since}`);
  await hydrated(page);
  await expect(cards).toHaveCount(4);
  await page.getByRole("link", { name: "Clear filters" }).click();
  await expect(cards).toHaveCount(5);
});

test("help answers what people ask and links to the place that solves it", async ({ page }) => {
  await signIn(page, carmen);
  await page.goto("/portal");
  await hydrated(page);
  await page.getByRole("button", { name: "Menu" }).click();
  await page.getByRole("link", { name: "Help" }).click();
  await expect(page).toHaveURL(/\/portal\/help$/);
  await expect(page.getByRole("heading", { name: "Help", level: 1 })).toBeVisible();
  for (const q of [
    "I changed or reinstalled my phone",
    "Push requests do not arrive",
    "I forgot or lost my phone",
    "I am abroad, or have no network",
    "I got a request I did not expect",
    "I have several accounts",
  ]) {
    await expect(page.getByRole("heading", { name: q })).toBeVisible();
  }
  await noSidewaysScroll(page);
  await noSeriousAxeViolations(page);

  await page.getByRole("navigation", { name: "Questions" }).getByRole("link", { name: "I forgot or lost my phone" }).click();
  await expect(page).toHaveURL(/#lost-phone$/);
  const lost = page.getByRole("region", { name: "I forgot or lost my phone" });
  await expect(lost).toContainText("ask your administrator");
  await lost.getByRole("link", { name: "Get a code" }).click();
  await expect(page).toHaveURL(/\/portal\/approvals$/);
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "Get a code" })).toBeVisible();
  // Without an approval device in this browser, no code: the button says why by being off.
  await expect(page.getByRole("button", { name: "Get a code" })).toBeDisabled();

  await page.goto("/portal/help#unexpected");
  await hydrated(page);
  await page.getByRole("region", { name: "I got a request I did not expect" }).getByRole("link", { name: "Sign-in history" }).click();
  await expect(page).toHaveURL(/\/portal\/history$/);
});

test("one person switches between their accounts in two tenants without signing in again", async ({ page, context }) => {
  await signIn(page, carmen);
  await page.goto("/portal");
  await hydrated(page);
  await page.locator(".account-menu summary").click();
  await page.getByRole("button", { name: "Add another account" }).click();
  await expect(page).toHaveURL(/\/signin/);
  await hydrated(page);
  await page.getByLabel("Email").fill(esther.email);
  await page.getByLabel("Password").fill(esther.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/portal$/);
  await hydrated(page);
  expect(await accountShown(page)).toBe(esther.email);

  // A second tab, on Esther's history.
  const other = await context.newPage();
  await other.goto("/portal/history");
  await hydrated(other);
  expect(await accountShown(other)).toBe(esther.email);

  // Switch to Carmen: no password asked; the portal loads anew as her.
  await page.locator(".account-menu summary").click();
  await page.getByRole("button", { name: `Switch to ${carmen.email}` }).click();
  await expect(page).toHaveURL(/\/portal$/);
  await hydrated(page);
  expect(await accountShown(page)).toBe(carmen.email);
  await noSidewaysScroll(page);
  // The tab left on Esther's page reloads as Carmen, so it never acts for a page drawn for Esther.
  await expect(other.locator(".account-email")).toHaveText(carmen.email);
  await expect(other.locator(".history-item")).toHaveCount(5);

  // And back to Esther.
  await page.locator(".account-menu summary").click();
  await page.getByRole("button", { name: `Switch to ${esther.email}` }).click();
  await hydrated(page);
  await expect(page.locator(".account-email")).toHaveText(esther.email);
  await page.goto("/portal/history");
  await hydrated(page);
  await expect(page.getByText("No logins yet.")).toBeVisible();

  // "Sign out" ends Esther's session only: Carmen, parked, takes over (as in Google's chooser).
  await page.locator(".account-menu summary").click();
  await expect(page.getByRole("button", { name: "Sign out of all accounts" })).toBeVisible();
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await expect(page).toHaveURL(/\/portal$/);
  await hydrated(page);
  expect(await accountShown(page)).toBe(carmen.email);

  // Esther again, then "Sign out of all accounts": neither stays signed in on this device.
  await page.locator(".account-menu summary").click();
  await page.getByRole("button", { name: "Add another account" }).click();
  await expect(page).toHaveURL(/\/signin/);
  await hydrated(page);
  await page.getByLabel("Email").fill(esther.email);
  await page.getByLabel("Password").fill(esther.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/portal$/);
  await hydrated(page);
  await page.locator(".account-menu summary").click();
  await page.getByRole("button", { name: "Sign out of all accounts" }).click();
  await expect(page).toHaveURL(/\/signin$/);
  const left = (await context.cookies()).filter((c) => /hostguard_(session|accounts)$/.test(c.name));
  expect(left, "both cookies are gone").toEqual([]);
  await page.goto("/portal");
  await expect(page).toHaveURL(/\/signin/);
  await other.goto("/portal");
  await expect(other).toHaveURL(/\/signin/);
});
