import { Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { confirmFromMail, createTopic, expect, hydrated, signIn, test, typePassword, users } from "./helpers";

async function topicId(page: Page, name: string): Promise<string> {
  await page.goto("/smn/topics");
  await page.getByRole("link", { name, exact: true }).click();
  await expect(page.getByRole("heading", { name })).toBeVisible();
  return new URL(page.url()).pathname.split("/").pop()!;
}

test("the outbox says an SMS the development gateway held is Held, names tenants, filters and pages", async ({
  page,
}) => {
  // A tenant admin subscribes a phone and eleven addresses: twelve messages of Acme Retail.
  await signIn(page, users.acmeAdmin);
  await topicId(page, "ops-alerts");
  await hydrated(page);
  const phone = `+86139${String(Date.now()).slice(-8)}`;
  await page.getByLabel("Protocol").selectOption("sms");
  await page.getByLabel("Endpoints").fill(phone);
  await page.getByRole("button", { name: "Add", exact: true }).click();
  await expect(page.getByRole("status")).toContainText("1 subscription added");
  await page.getByLabel("Protocol").selectOption("email");
  const stamp = Date.now();
  const addresses = Array.from({ length: 10 }, (_, i) => `outbox-${stamp}-${i}@acme.example`);
  await page.getByLabel("Endpoints").fill(addresses.join("\n"));
  await page.getByRole("button", { name: "Add", exact: true }).click();
  await expect(page.getByRole("status")).toContainText("10 subscriptions added");

  await page.context().clearCookies();
  await signIn(page, users.operator);
  await page.goto("/admin/outbox");
  await hydrated(page);
  const table = page.getByRole("table", { name: "Messages, newest first" });
  const smsRow = table.getByRole("row", { name: new RegExp(phone.replace("+", "\\+")) });
  await expect(smsRow).toContainText("Held (development)");
  await expect(smsRow).not.toContainText("Sent");
  await expect(smsRow).toContainText("Acme Retail");

  // Filters go into the URL and survive a reload.
  await page.getByLabel("Channel").selectOption("sms");
  await expect(page).toHaveURL(/channel=sms/);
  await page.getByLabel("Status").selectOption("held");
  await expect(page).toHaveURL(/status=held/);
  await page.getByLabel("Tenant").selectOption({ label: "Acme Retail" });
  await expect(page).toHaveURL(/tenant=/);
  await page.reload();
  await expect(page.getByLabel("Status")).toHaveValue("held");
  await expect(page.getByLabel("Channel")).toHaveValue("sms");
  await expect(smsRow).toBeVisible();
  await expect(table.locator("tbody tr")).not.toContainText(["Email"]);
  // Another tenant's filter hides Acme's SMS (Globex may have held SMS of its own: other specs
  // text its people's phones).
  await page.getByLabel("Tenant").selectOption({ label: "Globex Logistics" });
  await expect(smsRow).toBeHidden();
  await expect(table.locator("tbody tr")).not.toContainText(["Acme Retail"]);

  // Paging: ten a page, the next page holds the rest.
  await page.goto("/admin/outbox?size=10");
  await expect(table.locator("tbody tr")).toHaveCount(10);
  await expect(page.getByText(/messages · page 1 of \d+/)).toBeVisible();
  await page.getByRole("link", { name: "Next" }).click();
  await expect(page).toHaveURL(/page=2/);
  await expect(page.getByText(/messages · page 2 of \d+/)).toBeVisible();
});

test("sign-in from a deep link comes back to it, and never leaves the site", async ({ page }) => {
  await signIn(page, users.acmeAdmin);
  const id = await topicId(page, "ops-alerts");
  await page.context().clearCookies();

  await page.goto(`/smn/topics/${id}`);
  await expect(page).toHaveURL(/\/signin\?next=/);
  await hydrated(page);
  await typePassword(page, users.acmeAdmin);
  await expect(page).toHaveURL(new RegExp(`/smn/topics/${id}$`));
  await expect(page.getByRole("heading", { name: "ops-alerts" })).toBeVisible();

  // Filters in the link come back too.
  await page.context().clearCookies();
  await page.goto("/hss/login-audit?result=denied");
  await expect(page).toHaveURL(/\/signin\?next=/);
  await hydrated(page);
  await typePassword(page, users.acmeAdmin);
  await expect(page).toHaveURL(/\/hss\/login-audit\?result=denied$/);

  // Every role's sign-in keeps `next` on the site by one rule; an end user (no console code, so
  // no wait for a fresh one) tries the ways out.
  const origin = new URL(page.url()).origin;
  for (const next of ["//evil.example", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"]) {
    await page.context().clearCookies();
    await page.goto(`/signin?next=${encodeURIComponent(next)}`);
    await hydrated(page);
    await typePassword(page, users.carmen);
    await expect(page).toHaveURL(new RegExp(`^${origin}/portal(/[a-z]*)?$`));
  }
  // And through the code step too.
  await page.context().clearCookies();
  await page.goto(`/signin?next=${encodeURIComponent("//evil.example")}`);
  await hydrated(page);
  await typePassword(page, users.acmeAdmin);
  await expect(page).toHaveURL(`${origin}/hss/two-factor`);
});

test("a page the user may not see shows only the refusal, no forms", async ({ page }) => {
  const refused = async (path: string) => {
    const response = await page.goto(path);
    expect(response?.status(), path).toBe(403);
    await expect(page.getByRole("main").getByRole("alert")).toContainText("You do not have permission");
    await hydrated(page);
    await expect(page.getByRole("main").locator("form, input, select, textarea, button")).toHaveCount(0);
    await expect(page.getByRole("main").getByRole("table")).toHaveCount(0);
  };
  await signIn(page, users.alice);
  await refused("/hss/two-factor");
  await refused("/admin/outbox");
  await refused("/smn/topics");
  await page.context().clearCookies();
  await signIn(page, users.acmeAdmin);
  await refused("/admin/tenants");
  await refused("/admin/outbox");
  await refused("/portal/methods");
  await page.context().clearCookies();
  await signIn(page, users.operator);
  await refused("/hss/two-factor");
});

test("the install command says where the agent comes from and runs as copied", async ({ page, baseURL }) => {
  await signIn(page, users.acmeAdmin);
  await hydrated(page);
  await page.getByText("Add a server: install the agent").click();
  await page.getByRole("button", { name: "Create install command" }).click();
  const command = page.getByLabel("Install command");
  await expect(command).toBeVisible();
  await expect(page.getByText(/build it on a Debian or Ubuntu machine with scripts\/build-deb\.sh/)).toBeVisible();
  const text = (await command.textContent())!;
  expect(text).toMatch(/sudo dpkg -i hostguard-agent_[\d.]+_amd64\.deb/);
  expect(text).toContain(`--console ${baseURL}`);
  expect(text).toMatch(/'hgi_[A-Za-z0-9_-]+'/);
  expect(text.startsWith("sudo")).toBe(true);
  // A shell accepts it as it is copied.
  execFileSync("bash", ["-n"], { input: text });
});

test("the region chosen in the top bar is kept across reloads and carried in the URL", async ({ page }) => {
  await signIn(page, users.acmeAdmin);
  await hydrated(page);
  const region = page.getByRole("banner").getByLabel("Region");
  await region.selectOption({ label: "AP-Singapore" });
  await expect(page).toHaveURL(/[?&]region=ap-southeast-3/);
  await expect(page.getByRole("table", { name: "Protected servers" }).locator("tbody")).not.toContainText("CN-Hong Kong");
  await page.reload();
  await expect(region).toHaveValue("ap-southeast-3");

  // Another page, a reload there, and back by the menu: still the same region.
  await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Topics" }).click();
  await expect(page.getByRole("heading", { name: "Topics" })).toBeVisible();
  await page.reload();
  await expect(region).toHaveValue("ap-southeast-3");
  await hydrated(page);
  await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Two-Factor Authentication" }).click();
  await expect(page).toHaveURL(/[?&]region=ap-southeast-3/);
  await expect(region).toHaveValue("ap-southeast-3");

  await region.selectOption({ label: "All regions" });
  await expect(page).not.toHaveURL(/region=/);
  await page.reload();
  await expect(region).toHaveValue("");
});

test("a topic page: the endpoints box follows the protocol, clears after adding, and shows Confirmed by itself", async ({
  page,
  browser,
}) => {
  await signIn(page, users.acmeAdmin);
  // A topic of its own: a confirmed subscription on a demo topic would offer that topic for 2FA
  // in the other specs, which expect the demo's topics to have none.
  await createTopic(page, "pages-topic", "Pages topic");
  await topicId(page, "pages-topic");
  await hydrated(page);
  const endpoints = page.getByLabel("Endpoints");
  await page.getByLabel("Protocol").selectOption("sms");
  await expect(endpoints).toHaveAttribute("placeholder", /^\+\d+\n\+\d+$/);
  await page.getByLabel("Protocol").selectOption("email");
  await expect(endpoints).toHaveAttribute("placeholder", /^[^+\n]+@[^\n]+\n[^+\n]+@[^\n]+$/);

  const address = `pages-${Date.now()}@acme.example`;
  await endpoints.fill(address);
  await page.getByLabel("Remark (optional)").fill("night shift");
  await page.getByRole("button", { name: "Add", exact: true }).click();
  await expect(page.getByRole("status")).toHaveText(
    "1 subscription added. Each endpoint must now follow the link in its confirmation message.",
  );
  await expect(endpoints).toHaveValue("");
  await expect(page.getByLabel("Remark (optional)")).toHaveValue("");
  const row = page.getByRole("row", { name: new RegExp(address) });
  await expect(row).toContainText("Unconfirmed");

  await confirmFromMail(browser, address);
  await expect(row).toContainText("Confirmed");
  await expect(row).not.toContainText("Unconfirmed");
});

test("on a phone the menu opens and no page scrolls sideways", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await signIn(page, users.acmeAdmin);
  await hydrated(page);
  const nav = page.getByRole("navigation", { name: "Console" });
  for (const [link, heading] of [
    ["Topics", "Topics"],
    ["Login audit", "Login audit"],
    ["Audit trail", "Audit trail"],
  ]) {
    await nav.getByRole("link", { name: link }).click();
    await expect(page.getByRole("heading", { name: heading, level: 1 })).toBeVisible();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow, `${link} fits the screen`).toBeLessThanOrEqual(0);
  }
});
