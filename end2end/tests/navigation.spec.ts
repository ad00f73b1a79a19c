import { expect, Page, test } from "@playwright/test";
import { signIn, signOut, users } from "./helpers";

/**
 * Follows every link of the console from the landing page, breadth first, and checks that each
 * one opens a real page: no "Page not found", no error panel.
 */
async function crawl(page: Page, maxPages = 25): Promise<string[]> {
  const start = new URL(page.url()).pathname;
  const seen = new Set<string>([start]);
  const queue = [start];
  const visited: string[] = [];
  while (queue.length > 0 && visited.length < maxPages) {
    const path = queue.shift()!;
    const response = await page.goto(path);
    expect(response?.status(), `${path} answers`).toBeLessThan(400);
    await expect(page.locator("main h1").first(), `${path} has a heading`).toBeVisible();
    await expect(page.getByText("Page not found")).toHaveCount(0);
    await expect(page.locator(".notice-error")).toHaveCount(0);
    const landed = new URL(page.url()).pathname;
    if (!visited.includes(landed)) visited.push(landed);
    const hrefs = await page.locator("a[href]").evaluateAll((as) => as.map((a) => (a as HTMLAnchorElement).href));
    for (const href of hrefs) {
      const url = new URL(href);
      if (url.origin !== new URL(page.url()).origin) continue;
      // Only one server detail page is needed to prove the link works.
      const key = url.pathname.startsWith("/hss/servers/") ? "/hss/servers/*" : url.pathname + url.search;
      if ([...seen].some((s) => s === key || (key === "/hss/servers/*" && s.startsWith("/hss/servers/")))) continue;
      seen.add(key === "/hss/servers/*" ? url.pathname : key);
      queue.push(url.pathname + url.search);
    }
  }
  return visited;
}

test("a tenant admin's navigation reaches every tenant page", async ({ page }) => {
  await signIn(page, users.acmeAdmin);
  const nav = page.getByRole("navigation", { name: "Console" });
  await nav.getByRole("link", { name: "Topics" }).click();
  await expect(page.getByRole("heading", { name: "Topics" })).toBeVisible();
  await expect(page.getByRole("cell", { name: "login-codes", exact: true })).toBeVisible();
  await nav.getByRole("link", { name: "Two-Factor Authentication" }).click();
  await expect(page.getByRole("heading", { name: "Two-Factor Authentication" })).toBeVisible();
  await page.getByRole("link", { name: "acme-app-02" }).click();
  await expect(page.getByRole("heading", { name: "acme-app-02" })).toBeVisible();

  const visited = await crawl(page);
  expect(visited).toEqual(expect.arrayContaining(["/hss/two-factor", "/smn/topics", "/audit"]));
  expect(visited.some((p) => p.startsWith("/smn/topics/"))).toBe(true);
  expect(visited.some((p) => p.startsWith("/hss/servers/"))).toBe(true);
  // Pages of other roles are not offered.
  expect(visited).not.toContain("/admin/tenants");
  expect(visited).not.toContain("/admin/outbox");
  expect(visited).not.toContain("/portal");
});

test("search and paging find servers by name or IP", async ({ page }) => {
  await signIn(page, users.acmeAdmin);
  await page.getByRole("searchbox").fill("192.168.10.35");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page.getByRole("table", { name: "Protected servers" }).locator("tbody tr")).toHaveCount(1);
  await expect(page.getByRole("table", { name: "Protected servers" }).locator("tbody")).toContainText("acme-web-25");

  // The demo's 25 servers (the browser tests' own agents add e2e-lab-… servers).
  await page.getByRole("searchbox").fill("acme-");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page.getByText("25 servers · page 1 of 3")).toBeVisible();
  await page.getByRole("link", { name: "Next" }).click();
  await expect(page.getByText("25 servers · page 2 of 3")).toBeVisible();
  await expect(page.getByRole("table", { name: "Protected servers" }).locator("tbody tr")).toHaveCount(10);
});

test("an operator reaches the tenant accounts", async ({ page }) => {
  await signIn(page, users.operator);
  await expect(page).toHaveURL(/\/admin\/tenants$/);
  await expect(page.getByRole("cell", { name: "Acme Retail" })).toBeVisible();
  await expect(page.getByRole("cell", { name: "Globex Logistics" })).toBeVisible();
  const visited = await crawl(page);
  expect(visited).toEqual(expect.arrayContaining(["/admin/tenants", "/admin/outbox", "/audit"]));
  expect(visited.filter((p) => p.startsWith("/hss") || p.startsWith("/smn") || p === "/portal")).toEqual([]);
});

test("an end user reaches their portal", async ({ page }) => {
  await signIn(page, users.alice);
  await expect(page).toHaveURL(/\/portal$/);
  await expect(page.getByRole("main").getByText("alice@acme.example")).toBeVisible();
  const visited = await crawl(page);
  expect(visited).toEqual(["/portal", "/portal/methods", "/portal/history"]);
});

test("a tenant admin opening an operator page is told it is not theirs", async ({ page }) => {
  await signIn(page, users.acmeAdmin);
  const response = await page.goto("/admin/tenants");
  expect(response?.status()).toBe(403);
  await expect(page.getByRole("alert")).toContainText("You do not have permission");
});

test("a server's page says what stands in the way of 2FA, and how to fix it", async ({ page }) => {
  await signIn(page, users.acmeAdmin);
  await page.getByRole("searchbox").fill("acme-app-11");
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByRole("link", { name: "acme-app-11" }).click();
  const blocker = page.locator("li[data-rule=sshd_use_pam]");
  await expect(blocker).toContainText("Blocker");
  await expect(blocker).toContainText("Set `UsePAM yes` in /etc/ssh/sshd_config");

  // A server with a live agent: the demo's own servers have none, so they go Offline (a
  // blocker) 3 minutes after the demo was made.
  await page.goto("/hss/two-factor?search=e2e-lab-03");
  await page.getByRole("link", { name: "e2e-lab-03" }).click();
  await expect(page.getByText("Ready: nothing blocks two-factor authentication")).toBeVisible({ timeout: 30_000 });
  await expect(page.locator("li[data-rule]", { hasText: "Blocker" })).toHaveCount(0);
});

test("an operator pre-registers a server, and the tenant admin sees it", async ({ page }) => {
  await signIn(page, users.operator);
  // Servers column; the browser tests' agents may be registering meanwhile, so compare counts.
  const servers = page.getByRole("row", { name: /Acme Retail/ }).getByRole("cell").nth(4);
  await expect(servers).toHaveText(/^\d+$/);
  const before = Number(await servers.textContent());
  await page.getByLabel("Tenant").selectOption({ label: "Acme Retail" });
  await page.getByLabel("Server name").fill("acme-prereg-01");
  await page.getByLabel("IP address").fill("10.9.8.7");
  await page.getByLabel("OS").selectOption("windows");
  await page.getByRole("button", { name: "Register server" }).click();
  await expect(page.getByRole("status")).toHaveText("Server acme-prereg-01 registered.");
  await expect.poll(async () => Number(await servers.textContent())).toBeGreaterThan(before);
  await signOut(page);

  await signIn(page, users.acmeAdmin);
  await page.getByRole("searchbox").fill("prereg");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page.getByRole("table", { name: "Protected servers" }).locator("tbody tr")).toHaveCount(1);
  await expect(page.getByRole("table", { name: "Protected servers" }).locator("tbody")).toContainText("10.9.8.7");
  await expect(page.getByRole("table", { name: "Protected servers" }).locator("tbody")).toContainText("Offline");
});
