import { acceptInvitation, demoInvitation, expect, signIn, test, users } from "./helpers";
import { totp } from "./totp";

test("an end user adds an authenticator app with the code it shows", async ({ page }) => {
  // Her first method comes from the invitation link the demo made for her; the session it signs in adds more.
  await acceptInvitation(page, demoInvitation(users.alice), users.alice.password, "Alice's first app");
  await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Sign-in methods" }).click();
  await expect(page.getByRole("heading", { name: "Sign-in methods" })).toBeVisible();
  await page.getByLabel("Name", { exact: true }).fill("E2E phone");
  await page.getByRole("button", { name: "Add authenticator" }).click();

  await expect(page.getByRole("img", { name: /QR code/ })).toBeVisible();
  const secret = await page.getByLabel("Secret key").inputValue();
  expect(secret).toMatch(/^[A-Z2-7]{32}$/);
  await page.getByLabel("Code from the app").fill(totp(secret));
  await page.getByRole("button", { name: "Confirm" }).click();

  await expect(page.getByRole("status")).toHaveText("E2E phone added.");
  await expect(page.getByRole("row", { name: /E2E phone/ })).toContainText("Never");
  await expect(page.getByLabel("Secret key")).toHaveCount(0);
});

test("an end user generates recovery codes and sees ten, once", async ({ page }, testInfo) => {
  // A retry (playwright.config.ts) needs someone
  // who has no codes yet either: the first try may have made Bob's.
  const who = testInfo.retry === 0 ? users.bob : users.carmen;
  await acceptInvitation(page, demoInvitation(who), who.password, "First app");
  await page.goto("/portal/methods");
  await expect(page.getByText("You have no recovery codes.")).toBeVisible();
  await page.getByRole("button", { name: "Generate new recovery codes" }).click();
  const shown = page.getByRole("status").getByRole("listitem");
  await expect(shown).toHaveCount(10);
  await expect(shown.first()).toHaveText(/^[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$/);
  await expect(page.getByText("shown only this once")).toBeVisible();
  await expect(page.getByText(/10 of 10 recovery codes left/)).toBeVisible();

  // Shown once: a reload shows how many are left, not the codes.
  await page.reload();
  await expect(page.getByText(/10 of 10 recovery codes left/)).toBeVisible();
  await expect(page.getByRole("status").getByRole("listitem")).toHaveCount(0);
});

test("a tenant admin maps a server account to an end user on one server", async ({ page }) => {
  await signIn(page, users.acmeAdmin);
  await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Server accounts" }).click();
  await expect(page.getByRole("heading", { name: "Server accounts" })).toBeVisible();
  // The demo maps root to Alice on every server.
  await expect(page.getByRole("row", { name: /root All servers Alice Chen/ })).toBeVisible();

  await page.getByLabel("Server account").fill("e2e-deploy");
  await page.getByLabel("User", { exact: true }).selectOption({ label: "Bob Okafor <bob@acme.example>" });
  await page.getByLabel("Server", { exact: true }).selectOption({ label: "acme-web-01" });
  await page.getByRole("button", { name: "Map account" }).click();
  await expect(page.getByRole("status")).toHaveText("e2e-deploy is now mapped to bob@acme.example on acme-web-01.");
  const row = page.getByRole("row", { name: /e2e-deploy/ });
  await expect(row).toContainText("acme-web-01");
  await expect(row).toContainText("Bob Okafor");

  await page.getByRole("button", { name: "Remove the mapping of e2e-deploy on acme-web-01" }).click();
  await expect(page.getByText("Mapping removed.")).toBeVisible();
  await expect(page.getByRole("row", { name: /e2e-deploy/ })).toHaveCount(0);
});
