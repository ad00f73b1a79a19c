import { expect, Page } from "@playwright/test";

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
