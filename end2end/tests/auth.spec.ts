import { expect, hydrated, signIn, signOut, test, users } from "./helpers";

test("a tenant admin signs in, lands on Two-Factor Authentication, and signs out", async ({ page, context }) => {
  await signIn(page, users.acmeAdmin);
  await expect(page).toHaveURL(/\/hss\/two-factor$/);
  await expect(page.getByRole("heading", { name: "Two-Factor Authentication" })).toBeVisible();
  await expect(page.getByRole("link", { name: "acme-app-02", exact: true })).toBeVisible();
  await expect(page.locator(".account-menu summary")).toContainText("Acme Retail Admin");

  await signOut(page);
  // The session is gone: a console page sends the browser back to sign in.
  await page.goto("/hss/two-factor");
  await expect(page).toHaveURL(/\/signin/);
  const cookies = await context.cookies();
  expect(cookies.find((c) => c.name === "hostguard_session" && c.value.length > 0 && c.expires > Date.now() / 1000 + 60 * 60 * 24) ?? null).toBeNull();
});

test("a wrong password shows an error and does not sign in", async ({ page }) => {
  await page.goto("/signin");
  await hydrated(page);
  await page.getByLabel("Email").fill(users.bob.email);
  await page.getByLabel("Password").fill("not-bobs-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toHaveText("The email or password is incorrect.");
  await expect(page).toHaveURL(/\/signin/);

  // An account that does not exist gets exactly the same answer.
  await page.getByLabel("Email").fill("nobody@acme.example");
  await page.getByLabel("Password").fill("whatever-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toHaveText("The email or password is incorrect.");
});

test("without the wasm, a wrong password still shows an error", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto("/signin");
  await page.getByLabel("Email").fill(users.bob.email);
  await page.getByLabel("Password").fill("still-not-bobs-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/signin\?error=invalid_credentials$/);
  await expect(page.getByRole("alert")).toHaveText("The email or password is incorrect.");

  // And the right password signs in.
  await page.getByLabel("Email").fill(users.bob.email);
  await page.getByLabel("Password").fill(users.bob.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/portal$/);
  await context.close();
});

test("signed out, every console page sends the browser to sign in", async ({ page }) => {
  for (const path of ["/", "/hss/two-factor", "/smn/topics", "/admin/tenants", "/portal"]) {
    await page.goto(path);
    // With the way back to the page asked for.
    await expect(page).toHaveURL(path === "/" ? /\/signin$/ : /\/signin\?next=/);
  }
});
