import { Browser, expect, Page } from "@playwright/test";
import { linkIn, mailTo } from "./mail";

// The demo sign-ins (also printed by the server and listed in the README).
export const users = {
  operator: { email: "ops@hostguard.example", password: "operator-demo-2026" },
  acmeAdmin: { email: "admin@acme.example", password: "acme-admin-demo-2026" },
  alice: { email: "alice@acme.example", password: "alice-demo-2026" },
  bob: { email: "bob@acme.example", password: "bob-demo-2026" },
};

/** Waits until the wasm has hydrated the page, so clicks are handled by the app. */
export async function hydrated(page: Page) {
  await page.locator("body[data-hydrated=true]").waitFor({ state: "attached" });
}

export async function signIn(page: Page, who: { email: string; password: string }) {
  await page.goto("/signin");
  await hydrated(page);
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).not.toHaveURL(/\/signin/);
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
