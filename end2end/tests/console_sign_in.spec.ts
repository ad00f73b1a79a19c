import { AxeBuilder } from "@axe-core/playwright";
import { Page } from "@playwright/test";
import { expect, hydrated, signIn, signOut, test, users } from "./helpers";
import { linkIn, mailTo } from "./mail";
import { totp } from "./totp";

/** No serious or critical accessibility violation (axe). */
async function accessible(page: Page, what: string) {
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => v.id);
  expect.soft(bad, `${what}: axe`).toEqual([]);
}

// The console accepts each time step's code once: each code typed here is of a later step
// than the last (a step of the next 30 seconds at most, as the console allows; else it waits).
let lastStep = 0;
async function freshCode(secret: string): Promise<string> {
  for (;;) {
    const now = Math.floor(Date.now() / 30_000);
    for (const step of [now - 1, now, now + 1]) {
      if (step > lastStep) {
        lastStep = step;
        return totp(secret, step * 30_000);
      }
    }
    await new Promise((done) => setTimeout(done, 1000));
  }
}

test("a forgotten password is reset from the mailed link, then changed back on Sign-in and security", async ({ page }) => {
  const carmen = users.carmen;
  await page.goto("/signin");
  await hydrated(page);
  await page.getByRole("link", { name: "Forgot your password?" }).click();
  await expect(page).toHaveURL(/\/forgot-password$/);
  await hydrated(page);
  await accessible(page, "forgot password");
  await page.getByLabel("Email").fill(carmen.email);
  await page.getByRole("button", { name: "Send the link" }).click();
  await expect(page.getByRole("status")).toContainText("If an account has this address, a reset link is on its way");

  await expect.poll(() => mailTo(carmen.email).some((m) => m.includes("/reset-password?token=")), { timeout: 15_000 }).toBe(true);
  await page.goto(linkIn(carmen.email, "/reset-password?token=")!);
  await hydrated(page);
  await accessible(page, "reset password");
  await page.getByLabel("New password").fill("carmen-reset-2026!");
  await page.getByRole("button", { name: "Set the password" }).click();
  await expect(page.getByRole("status")).toContainText("Your password was changed");

  await signIn(page, { email: carmen.email, password: "carmen-reset-2026!" });
  await page.goto("/account/security");
  await hydrated(page);
  await accessible(page, "sign-in and security");
  await page.getByLabel("Current password").fill("carmen-reset-2026!");
  await page.getByLabel("New password").fill(carmen.password);
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByRole("status")).toContainText("Password changed.");
  // End users have the portal's methods: no console authenticator here.
  await expect(page.getByRole("heading", { name: "Authenticator app" })).toHaveCount(0);
});

test("an admin adds a console authenticator; sign-in then asks for its code; removing it needs one", async ({ page }) => {
  const admin = { email: "admin@globex.example", password: "globex-admin-demo-2026" };
  await signIn(page, admin);
  await page.goto("/account/security");
  await hydrated(page);
  await page.getByRole("button", { name: "Add authenticator" }).click();
  const secret = (await page.getByLabel("Secret key").inputValue()).trim();
  expect(secret).toMatch(/^[A-Z2-7]{32}$/);
  await page.getByLabel("Code from the app").fill(await freshCode(secret));
  await page.getByRole("button", { name: "Confirm" }).click();
  await expect(page.getByRole("status")).toContainText("the console asks for its code from your next sign-in");
  await signOut(page);

  await page.goto("/signin");
  await hydrated(page);
  await page.getByLabel("Email").fill(admin.email);
  await page.getByLabel("Password").fill(admin.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/signin\/code/);
  await hydrated(page);
  await accessible(page, "sign-in code");
  await page.getByLabel("Code").fill("000000");
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("alert")).toContainText("is not the code your authenticator app shows now");
  await page.getByLabel("Code").fill(await freshCode(secret));
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page).toHaveURL(/\/hss\/two-factor$/);

  await page.goto("/account/security");
  await hydrated(page);
  await page.getByLabel("Current code, to remove it").fill(await freshCode(secret));
  await page.getByRole("button", { name: "Remove authenticator" }).click();
  await expect(page.getByRole("status")).toHaveText("Authenticator removed.");
});
