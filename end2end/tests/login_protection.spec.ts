import { Page } from "@playwright/test";
import { expect, hydrated, signIn, test, users } from "./helpers";

// The demo seeds a few logins on Acme's servers (acme-web-01, acme-app-02, acme-db-03,
// acme-web-07): allowed, denied, exempt, offline, one still running.

async function openServer(page: Page, name: string) {
  await page.goto(`/hss/two-factor?search=${name}`);
  await hydrated(page);
  await page.getByRole("link", { name, exact: true }).click();
  await expect(page.getByRole("heading", { name, exact: true })).toBeVisible();
  await hydrated(page);
}

function loginRows(page: Page) {
  return page.getByRole("table", { name: "Logins, newest first" }).locator("tbody tr");
}

test("the login audit filters by result, and a reload keeps the filter", async ({ page }) => {
  await signIn(page, users.acmeAdmin);
  await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Login audit" }).click();
  await expect(page.getByRole("heading", { name: "Login audit" })).toBeVisible();
  await hydrated(page);
  const rows = loginRows(page);
  await expect(rows.first()).toBeVisible();
  const all = await rows.count();
  await expect(page.getByRole("table").getByText("Allowed").first()).toBeVisible();
  await expect(page.getByRole("table").getByText("Offline").first()).toBeVisible();

  await page.getByLabel("Result").selectOption("denied");
  await expect(page).toHaveURL(/\/hss\/login-audit\?result=denied$/);
  await expect.poll(() => rows.count()).toBeLessThan(all);
  await expect(rows.first()).toBeVisible();
  for (const result of await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-result")))) {
    expect(result).toBe("denied");
  }
  await expect(rows.first().getByText("Denied")).toBeVisible();
  const denied = await rows.count();

  await page.reload();
  await hydrated(page);
  await expect(page.getByLabel("Result")).toHaveValue("denied");
  await expect(rows).toHaveCount(denied);
  for (const result of await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-result")))) {
    expect(result).toBe("denied");
  }

  // An account that never logged in: the empty state says so.
  await page.getByLabel("Account").fill("nobody-here");
  await page.getByLabel("Account").press("Enter");
  await expect(page).toHaveURL(/\?account=nobody-here&result=denied$/);
  await expect(page.getByText("No logins match these filters.")).toBeVisible();
});

test("a server's page shows its latest logins and links to its audit", async ({ page }) => {
  await signIn(page, users.acmeAdmin);
  await openServer(page, "acme-web-01");
  const latest = page.getByRole("table", { name: "The latest 10 logins to this server, newest first" });
  await expect(latest.locator("tbody tr").first()).toBeVisible();
  await page.getByRole("link", { name: "All logins to this server in the Login audit" }).click();
  await expect(page).toHaveURL(/\/hss\/login-audit\?server=[0-9a-f-]{36}$/);
  await expect(page.getByLabel("Server")).toHaveValue(/[0-9a-f-]{36}/);
  await expect(page.getByLabel("Server").locator("option:checked")).toHaveText("acme-web-01");
  const servers = await loginRows(page).evaluateAll((trs) => trs.map((tr) => tr.children[1].textContent));
  expect(servers.length).toBeGreaterThan(0);
  expect(new Set(servers)).toEqual(new Set(["acme-web-01"]));

  await page.getByRole("link", { name: "Clear filters" }).click();
  await expect(page).toHaveURL(/\/hss\/login-audit$/);
  await expect(page.getByLabel("Server")).toHaveValue("");
  await expect.poll(() => loginRows(page).count()).toBeGreaterThan(servers.length);
});

test("fail mode Safe and an exempt network are saved and shown after a reload", async ({ page }) => {
  await signIn(page, users.acmeAdmin);
  await openServer(page, "acme-web-07");
  const section = page.getByRole("region", { name: "Login protection" });
  await expect(section.getByLabel("Secure — deny when the console cannot be reached (default)")).toBeChecked();
  await expect(section.getByLabel("Allow accounts without an enrolled user (audited)")).not.toBeChecked();
  await section.getByLabel("Safe — allow and record").check();
  await section.getByLabel("Exempt networks").fill("10.20.0.0/16");
  await section.getByRole("button", { name: "Save login protection" }).click();
  await expect(section.getByRole("status")).toContainText("Login protection saved");

  await page.reload();
  await hydrated(page);
  await expect(section.getByLabel("Safe — allow and record")).toBeChecked();
  await expect(section.getByLabel("Exempt networks")).toHaveValue("10.20.0.0/16");
});

test("a bad exempt network is refused with an error naming it, and nothing is saved", async ({ page }) => {
  await signIn(page, users.acmeAdmin);
  await openServer(page, "acme-web-13");
  const section = page.getByRole("region", { name: "Login protection" });
  const networks = section.getByLabel("Exempt networks");
  await networks.fill("10.20.0.0/16\n10.0.0.0/33");
  await section.getByRole("button", { name: "Save login protection" }).click();
  await expect(section.locator("#exempt-networks-errors")).toContainText('Entry 2: "10.0.0.0/33" must be a network');
  await expect(networks).toHaveAttribute("aria-invalid", "true");
  await expect(networks).toHaveValue("10.20.0.0/16\n10.0.0.0/33");
  await expect(section.getByText("Nothing was saved")).toBeVisible();

  await page.reload();
  await hydrated(page);
  await expect(networks).toHaveValue("");
});

test("new break-glass codes are shown once", async ({ page }) => {
  await signIn(page, users.acmeAdmin);
  await openServer(page, "acme-app-05");
  const status = page.getByTestId("break-glass-status");
  await expect(status).toHaveText("No unused codes.");
  await page.getByText("Issue new codes", { exact: true }).click();
  await expect(page.getByText("The unused codes issued before stop working at once.")).toBeVisible();
  await page.getByRole("button", { name: "Replace with 10 new codes" }).click();
  const codes = page.getByRole("list", { name: "New break-glass codes" }).getByRole("listitem");
  await expect(codes).toHaveCount(10);
  await expect(codes.first()).toHaveText(/^[A-Z2-9]{5}(-[A-Z2-9]{5}){3}$/);
  await expect(page.getByText("Store these codes safely now.")).toBeVisible();
  await expect(status).toContainText("10 unused, issued");
  const first = (await codes.first().textContent())!;

  await page.reload();
  await hydrated(page);
  await expect(status).toContainText("10 unused, issued");
  await expect(page.getByRole("list", { name: "New break-glass codes" })).toHaveCount(0);
  await expect(page.getByText(first)).toHaveCount(0);
});

test("the server page hydrates on every direct load and reload, and its buttons work", async ({ page }) => {
  await signIn(page, users.acmeAdmin);
  await openServer(page, "acme-app-02");
  const url = page.url();
  const replace = page.getByRole("button", { name: "Replace with 10 new codes" });
  for (let i = 0; i < 10; i++) {
    if (i % 2 === 0) await page.goto(url);
    else await page.reload();
    await hydrated(page);
    // Enabled only by the page's wasm: a page that failed to hydrate keeps it disabled.
    await page.getByText("Issue new codes", { exact: true }).click();
    await expect(replace, `load ${i + 1}`).toBeEnabled();
  }
  // And they work: saving says so, and a new set of codes is shown.
  const section = page.getByRole("region", { name: "Login protection" });
  await section.getByRole("button", { name: "Save login protection" }).click();
  await expect(section.getByRole("status")).toContainText("Login protection saved");
  await replace.click();
  await expect(page.getByRole("list", { name: "New break-glass codes" }).getByRole("listitem")).toHaveCount(10);
});
