import { Page } from "@playwright/test";
import { axeProblems, expect, hydrated, signIn, test, users } from "./helpers";

const phone = { width: 390, height: 844 };
const heading = "When someone reports a push as not theirs";
const lockLabel = /Also lock the person/;
const defaultLabel = /Deny the login, pause the person's push notifications/;

/** No serious or critical accessibility violation (axe), and nothing wider than the screen. */
async function checkPage(page: Page, what: string) {
  const bad = await axeProblems(page);
  expect.soft(bad, `${what}: axe`).toEqual([]);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect.soft(overflow, `${what} scrolls sideways by`).toBeLessThanOrEqual(0);
}

test("a tenant admin chooses whether \"This wasn't me\" locks the person, on a phone", async ({ page }) => {
  await page.setViewportSize(phone);
  await signIn(page, users.acmeAdmin);
  await page.goto("/iam/users");
  await hydrated(page);
  const panel = page.getByRole("region", { name: heading });
  await expect(panel).toBeVisible();
  // Off by default: the report denies, pauses notifications and mails the admins.
  await expect(panel.getByRole("radio", { name: defaultLabel })).toBeChecked();
  await expect(panel.getByRole("radio", { name: lockLabel })).not.toBeChecked();
  await checkPage(page, "/iam/users with the push policy");

  await panel.getByRole("radio", { name: lockLabel }).check();
  await panel.getByRole("button", { name: "Save" }).click();
  await expect(panel.getByRole("status")).toHaveText("Saved. It applies to the next report.");
  await expect(panel.getByRole("radio", { name: lockLabel })).toBeChecked();

  // It is the tenant's setting: a reload reads it back from the console.
  await page.reload();
  await hydrated(page);
  await expect(panel.getByRole("radio", { name: lockLabel })).toBeChecked();

  // And back to the default, which the other tests expect.
  await panel.getByRole("radio", { name: defaultLabel }).check();
  await panel.getByRole("button", { name: "Save" }).click();
  await expect(panel.getByRole("status")).toBeVisible();
  await page.reload();
  await hydrated(page);
  await expect(panel.getByRole("radio", { name: defaultLabel })).toBeChecked();
});

test("the push policy is refused to an end user", async ({ page }) => {
  await signIn(page, users.alice);
  await page.goto("/iam/users");
  await expect(page.getByRole("region", { name: heading })).toHaveCount(0);
});
