import { linkIn, mailTo } from "./mail";
import { expect, signIn, test, users } from "./helpers";

test("create a topic, subscribe an email, confirm it from the mail, see Confirmed", async ({ page, browser }) => {
  await signIn(page, users.acmeAdmin);
  await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Topics" }).click();
  await page.getByLabel("Topic name").fill("e2e-codes");
  await page.getByLabel("Display name").fill("Acme E2E Codes");
  await page.getByRole("button", { name: "Create topic" }).click();
  await expect(page.getByRole("status")).toHaveText("Topic created.");
  await page.getByRole("link", { name: "e2e-codes", exact: true }).click();
  await expect(page.getByRole("heading", { name: "e2e-codes" })).toBeVisible();

  const address = `e2e-${Date.now()}@acme.example`;
  await page.getByLabel("Protocol").selectOption("email");
  await page.getByLabel("Endpoints").fill(address);
  await page.getByRole("button", { name: "Add", exact: true }).click();
  const row = page.getByRole("row", { name: new RegExp(address) });
  await expect(row).toContainText("Unconfirmed");
  await expect(page.getByLabel("Endpoints")).toHaveValue("");

  // The confirmation mail arrives at the real SMTP server.
  await expect.poll(() => mailTo(address).length, { timeout: 15_000 }).toBe(1);
  expect(mailTo(address)[0]).toContain('From: "Acme E2E Codes"');
  const link = linkIn(address, "/smn/confirm?token=");
  expect(link).toBeTruthy();

  // The person at that address opens the link in their own browser: the page only asks (a
  // mail scanner opening the link confirms nothing), with the address masked; the button
  // confirms.
  const reader = await browser.newContext();
  const mailPage = await reader.newPage();
  await mailPage.goto(link!);
  await expect(mailPage.getByRole("heading", { name: "Confirm subscription" })).toBeVisible();
  await expect(mailPage.getByText(/Confirm that e\*\*\*@acme\.example receives messages of topic e2e-codes/)).toBeVisible();
  await expect(row).toContainText("Unconfirmed");
  await mailPage.getByRole("button", { name: "Confirm subscription" }).click();
  await expect(mailPage.getByRole("status")).toContainText("Your subscription is confirmed");
  await reader.close();

  // The console shows it without a reload.
  await expect(row).toContainText("Confirmed", { timeout: 15_000 });
  await expect(row).not.toContainText("Unconfirmed");
});

test("bad endpoints get one error each and nothing is added", async ({ page }) => {
  await signIn(page, users.acmeAdmin);
  await page.goto("/smn/topics");
  await page.getByRole("link", { name: "ops-alerts", exact: true }).click();
  await page.getByLabel("Protocol").selectOption("sms");
  await page.getByLabel("Endpoints").fill("+8613800000009\n13800000000\n+86 138");
  await page.getByRole("button", { name: "Add", exact: true }).click();
  const errors = page.getByRole("alert");
  await expect(errors.locator("li")).toHaveCount(2);
  await expect(errors).toContainText("Endpoint 2: ");
  await expect(errors).toContainText("Endpoint 3: ");
  await expect(page.getByText("+8613800000009")).toHaveCount(0);
  await expect(page.getByLabel("Endpoints")).toHaveValue("+8613800000009\n13800000000\n+86 138");
});
