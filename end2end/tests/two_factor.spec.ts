import { Page } from "@playwright/test";
import { confirmedTopic, expect, hydrated, signIn, test, users } from "./helpers";

// The console under test runs real agents under sandbox roots (e2e-lab-01 … 03, and
// e2e-lab-04-broken whose sshd refuses the change), with a 3 s apply delay.
test.describe.configure({ mode: "serial" });

function row(page: Page, name: string) {
  return page.locator(`tr[data-server="${name}"]`);
}

async function openTab(page: Page, search: string) {
  await page.goto(`/hss/two-factor?search=${search}`);
  await hydrated(page);
}

test("enable 2FA on three servers with a confirmed topic and watch them turn Enabled", async ({ page, browser }) => {
  await signIn(page, users.acmeAdmin);
  await confirmedTopic(page, browser, "e2e-2fa", "Acme Login Codes");

  await openTab(page, "e2e-lab-0");
  for (const name of ["e2e-lab-01", "e2e-lab-02", "e2e-lab-03"]) {
    // The agents registered themselves with install tokens when the console started.
    await expect(row(page, name)).toContainText("Online", { timeout: 30_000 });
    await expect(row(page, name)).toContainText("Disabled");
    await page.getByLabel(`Select ${name}`).check();
  }
  await expect(page.getByText("3 selected")).toBeVisible();
  await page.getByRole("button", { name: "Enable 2FA", exact: true }).click();

  const dialog = page.getByRole("dialog", { name: "Enable 2FA" });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByLabel("SMS/Email")).toBeChecked();
  // Only topics with a confirmed subscription are offered.
  const topics = dialog.getByLabel("Topic");
  await expect(topics.locator("option", { hasText: "(e2e-2fa)" })).toHaveCount(1);
  // The demo's own topics have no confirmed subscription, so they are not offered.
  await expect(topics.locator("option", { hasText: "(ops-alerts)" })).toHaveCount(0);
  await expect(topics.locator("option", { hasText: "(login-codes)" })).toHaveCount(0);
  await topics.selectOption({ label: "Acme Login Codes (e2e-2fa)" });
  await expect(dialog.getByRole("link", { name: "Create a topic" })).toBeVisible();
  await expect(dialog.getByText("Selected servers (3)")).toBeVisible();
  await expect(dialog.locator("li[data-server]")).toHaveCount(3);
  await expect(dialog.getByText("Ready")).toHaveCount(3);
  await expect(dialog.getByRole("note")).toContainText("modifies the system login configuration");
  await expect(dialog.getByRole("note")).toContainText("in about 3 seconds");
  await dialog.getByRole("button", { name: "OK" }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByRole("status")).toContainText("3 servers changed.");

  for (const name of ["e2e-lab-01", "e2e-lab-02", "e2e-lab-03"]) {
    await expect(row(page, name)).toContainText("Enabling…");
  }
  // Live: no reload. The delay runs out, the agents apply and acknowledge.
  for (const name of ["e2e-lab-01", "e2e-lab-02", "e2e-lab-03"]) {
    await expect(row(page, name)).toContainText("Enabled", { timeout: 30_000 });
    await expect(row(page, name)).toContainText("SMS/Email");
    await expect(row(page, name)).toContainText("Acme Login Codes");
  }
});

test("a blocked server shows its reason and is not changed", async ({ page }) => {
  await signIn(page, users.acmeAdmin);
  await openTab(page, "acme-app-11");
  await row(page, "acme-app-11").getByRole("button", { name: "Enable 2FA on acme-app-11" }).click();
  const dialog = page.getByRole("dialog", { name: "Enable 2FA" });
  await dialog.getByLabel("Verification code").check();
  await expect(dialog.getByText("Blocked", { exact: true })).toBeVisible();
  await expect(dialog.locator(".readiness .blocker")).toContainText("acme-app-11");
  await expect(dialog.locator(".readiness .blocker")).toContainText("UsePAM");
  // Nothing to save: OK is off.
  await expect(dialog.getByRole("button", { name: "OK" })).toBeDisabled();
  await dialog.getByRole("button", { name: "Close" }).click();
  await expect(row(page, "acme-app-11")).toContainText("Disabled");
});

test("a change the server's sshd refuses is rolled back and shown Failed with the reason", async ({ page }) => {
  await signIn(page, users.acmeAdmin);
  await openTab(page, "e2e-lab-04-broken");
  await expect(row(page, "e2e-lab-04-broken")).toContainText("Online", { timeout: 30_000 });
  await row(page, "e2e-lab-04-broken").getByRole("button", { name: "Enable 2FA on e2e-lab-04-broken" }).click();
  const dialog = page.getByRole("dialog", { name: "Enable 2FA" });
  await dialog.getByLabel("Verification code").check();
  await expect(dialog.getByLabel("Topic")).toHaveCount(0);
  await dialog.getByRole("button", { name: "OK" }).click();
  await expect(row(page, "e2e-lab-04-broken")).toContainText("Failed", { timeout: 30_000 });
  await expect(row(page, "e2e-lab-04-broken")).toContainText("sshd -t failed");
  await expect(row(page, "e2e-lab-04-broken").getByRole("button", { name: "Retry" })).toBeVisible();
});

test("disable 2FA on a server, then filter by status", async ({ page }) => {
  await signIn(page, users.acmeAdmin);
  await openTab(page, "e2e-lab-0");
  await expect(row(page, "e2e-lab-01")).toContainText("Enabled");
  await row(page, "e2e-lab-01").getByRole("button", { name: "Disable 2FA on e2e-lab-01" }).click();
  const dialog = page.getByRole("dialog", { name: "Disable 2FA" });
  await expect(dialog.getByRole("note")).toContainText("restores the system login configuration");
  await dialog.getByRole("button", { name: "OK" }).click();
  await expect(row(page, "e2e-lab-01")).toContainText("Disabling…");
  await expect(row(page, "e2e-lab-01")).toContainText("Disabled", { timeout: 30_000 });
  await expect(row(page, "e2e-lab-01")).toContainText("--");

  // Filtered by status: only the two still enabled.
  await page.goto("/hss/two-factor?search=e2e-lab&status=enabled");
  await hydrated(page);
  await expect(page.locator("tr[data-server]")).toHaveCount(2);
});
