import { Page } from "@playwright/test";
import { axeProblems, consoleSeeds, expect, freshCode, hydrated, signIn, signOut, test, typeConsoleCode, users } from "./helpers";
import { linkIn, mailTo } from "./mail";

// A test here types up to ten authenticator codes; each step's code is taken once, so some
// waits for the next 30-second step (`freshCode`), which counts against the test's time.
test.describe.configure({ timeout: 180_000 });

/** No serious or critical accessibility violation (axe). */
async function accessible(page: Page, what: string) {
  const bad = await axeProblems(page);
  expect.soft(bad, `${what}: axe`).toEqual([]);
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

test("an admin turns the rule off, swaps authenticators; sign-in asks for the code; removing one needs one", async ({ page }) => {
  const admin = { email: "admin@globex.example", password: "globex-admin-demo-2026" };
  // The demo admin has an authenticator: the helper typed its code.
  await signIn(page, admin);
  await page.goto("/account/security");
  await hydrated(page);
  await accessible(page, "sign-in and security (admin)");
  await expect(page.getByRole("cell", { name: "Demo authenticator" })).toBeVisible();
  // While the organisation asks its admins for one, it stays.
  await page.getByLabel("Current code, to remove it").fill(await freshCode(consoleSeeds[admin.email]));
  await page.getByRole("button", { name: "Remove authenticator" }).click();
  await expect(page.getByRole("alert")).toContainText("cannot be removed");
  await page.getByLabel("Tenant admins need a code from an authenticator app at console sign-in").uncheck();
  // The switch needs a current code too, not only the session.
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "6-digit code" })).toBeVisible();
  await page.getByLabel("Current code from your authenticator app").fill(await freshCode(consoleSeeds[admin.email]));
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Admins now sign in with a password alone." })).toBeVisible();
  await page.getByLabel("Current code, to remove it").fill(await freshCode(consoleSeeds[admin.email]));
  await page.getByRole("button", { name: "Remove authenticator" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Authenticator removed." })).toBeVisible();

  await page.getByRole("button", { name: "Add authenticator" }).click();
  const secret = (await page.getByLabel("Secret key").inputValue()).trim();
  expect(secret).toMatch(/^[A-Z2-7]{32}$/);
  await page.getByLabel("Code from the app").fill(await freshCode(secret));
  await page.getByRole("button", { name: "Confirm" }).click();
  await expect(page.getByRole("status").filter({ hasText: "the console asks for its code from your next sign-in" })).toBeVisible();
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
  await typeConsoleCode(page, secret);
  await expect(page).toHaveURL(/\/hss\/two-factor$/);

  // Leaves the admin as the other tests expect: no authenticator, the rule off.
  await page.goto("/account/security");
  await hydrated(page);
  await page.getByLabel("Current code, to remove it").fill(await freshCode(secret));
  await page.getByRole("button", { name: "Remove authenticator" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Authenticator removed." })).toBeVisible();
  await addOneAtSignIn(page, admin);
});

/** The code of the newest enrolment mail to `to`, once there are more than `before`. */
async function enrolmentCode(to: string, before: number): Promise<string> {
  const codes = () => mailTo(to).filter((m) => m.includes("Code from the email"));
  await expect.poll(() => codes().length, { timeout: 15_000 }).toBeGreaterThan(before);
  const all = codes();
  const code = all[all.length - 1].match(/^(\d{6})\r?$/m)?.[1];
  expect(code).toBeTruthy();
  return code!;
}

/** With the rule back on and no authenticator, `admin` must add one right after the password,
 * proving the mailbox with a mailed code; then leaves the rule off and no authenticator again. */
async function addOneAtSignIn(page: Page, admin: { email: string; password: string }) {
  const toggle = page.getByLabel("Tenant admins need a code from an authenticator app at console sign-in");
  await toggle.check();
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Admins now need a code at sign-in." })).toBeVisible();
  await signOut(page);

  const before = mailTo(admin.email).filter((m) => m.includes("Code from the email")).length;
  await page.goto("/signin");
  await hydrated(page);
  await page.getByLabel("Email").fill(admin.email);
  await page.getByLabel("Password").fill(admin.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/signin\/enrol/);
  await hydrated(page);
  await page.getByLabel("Name").fill("Work phone");
  await page.getByRole("button", { name: "Show the QR code" }).click();
  await expect(page.getByText(`We sent it to ${admin.email}`)).toBeVisible();
  await accessible(page, "add an authenticator at sign-in");
  const secret = (await page.getByLabel("Secret key").inputValue()).trim();
  const mailed = await enrolmentCode(admin.email, before);
  await page.getByLabel("Code from the app").fill(await freshCode(secret));
  await page.getByLabel("Code from the email").fill(mailed === "000000" ? "111111" : "000000");
  await page.getByRole("button", { name: "Confirm and sign in" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "is not the code from the email" })).toBeVisible();
  await page.getByLabel("Code from the email").fill(mailed);
  await page.getByRole("button", { name: "Confirm and sign in" }).click();
  await expect(page).toHaveURL(/\/hss\/two-factor$/);

  // Leaves the admin without an authenticator and the rule off, as the other tests expect.
  await page.goto("/account/security");
  await hydrated(page);
  await toggle.uncheck();
  await page.getByLabel("Current code from your authenticator app").fill(await freshCode(secret));
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Admins now sign in with a password alone." })).toBeVisible();
  await page.getByLabel("Current code, to remove it").fill(await freshCode(secret));
  await page.getByRole("button", { name: "Remove authenticator" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Authenticator removed." })).toBeVisible();
}
