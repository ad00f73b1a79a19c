import { Page } from "@playwright/test";
import { expect, hydrated, signIn, test, users } from "./helpers";

// Statuses that tell the truth. The console under test has the demo's servers (no agents: each
// was last heard from when the demo was made, acme-web-22 13 minutes before) and real agents
// under sandbox roots (e2e-lab-04-broken's sshd refuses the agent's change).
test.describe.configure({ mode: "serial" });

function row(page: Page, name: string) {
  return page.locator(`tr[data-server="${name}"]`);
}

async function openTab(page: Page, search: string) {
  await page.goto(`/hss/two-factor?search=${search}`);
  await hydrated(page);
}

test("a demo server whose agent has not been heard from for 13 minutes shows Offline", async ({ page }) => {
  await signIn(page, users.acmeAdmin);
  await openTab(page, "acme-web-22");
  await expect(row(page, "acme-web-22")).toContainText("Offline");
  await expect(row(page, "acme-web-22")).not.toContainText("Online");

  await page.getByRole("link", { name: "acme-web-22", exact: true }).click();
  await expect(page.getByRole("heading", { name: "acme-web-22" })).toBeVisible();
  const agent = page.locator("dt", { hasText: /^Agent$/ }).locator("+ dd");
  await expect(agent).toContainText("Offline");
  await expect(agent).toContainText("last seen");
  // Enabling 2FA would wait for an agent that is not there: readiness says so first.
  await expect(page.locator("li[data-rule=agent_online]")).toContainText("Warning");
  await expect(page.locator("li[data-rule=agent_online]")).toContainText("The change will wait for the agent");
  await expect(page.getByText("Ready: nothing stands in the way")).toHaveCount(0);
});

test("a failed first enable shows Failed with no method or topic, and the failure as a blocker", async ({ page }) => {
  await signIn(page, users.acmeAdmin);
  await openTab(page, "e2e-lab-04-broken");
  const broken = row(page, "e2e-lab-04-broken");
  await expect(broken).toContainText("Online", { timeout: 30_000 });
  await broken.getByRole("button", { name: "Enable 2FA on e2e-lab-04-broken" }).click();
  const dialog = page.getByRole("dialog", { name: "Enable 2FA" });
  await dialog.getByLabel("Verification code").check();
  await dialog.getByRole("button", { name: "OK" }).click();
  await expect(broken).toContainText("Enabling…");
  await expect(broken).toContainText("Failed", { timeout: 30_000 });
  // sshd's reason, naming the host's file, not the agent's sandbox.
  await expect(broken).toContainText("/etc/ssh/sshd_config.d/50-hostguard.conf");
  await expect(broken).not.toContainText("e2e/agents");
  // Nothing is in force on the host: no method, no topic.
  await expect(broken).not.toContainText("Verification code");
  await expect(broken).not.toContainText("SMS/Email");

  await page.getByRole("link", { name: "e2e-lab-04-broken", exact: true }).click();
  await expect(page.getByRole("heading", { name: "e2e-lab-04-broken" })).toBeVisible();
  await expect(page.getByTestId("two-factor-status")).toContainText("Failed: ");
  await expect(page.getByTestId("two-factor-status")).toContainText("2FA is off on this server.");
  const failure = page.locator("li[data-rule=last_apply_failed]");
  await expect(failure).toContainText("Blocker");
  await expect(failure).toContainText("the last 2FA change failed");
  await expect(page.getByText("Ready: nothing stands in the way")).toHaveCount(0);
});

test("a field error names the field in words", async ({ page }) => {
  await signIn(page, users.acmeAdmin);
  await page.goto("/smn/topics");
  await hydrated(page);
  await page.getByRole("link", { name: "ops-alerts", exact: true }).click();
  await page.getByLabel("Protocol").selectOption("sms");
  await page.getByLabel("Endpoints").fill("+8613800000019\n13800000000");
  await page.getByRole("button", { name: "Add", exact: true }).click();
  // "Endpoint 2", counted as the user typed them, not the field key `endpoints[1].endpoint`.
  const error = page.getByRole("alert").filter({ hasText: "13800000000" });
  await expect(error).toHaveText(/^Endpoint 2: "13800000000" /);
  await expect(error).not.toContainText("endpoints[");
});
