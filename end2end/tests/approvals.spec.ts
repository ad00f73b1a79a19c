import { Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { axeProblems, acceptInvitation, expect, hydrated, inviteAgain, test } from "./helpers";

// Farid (Globex) is no other test's: his enrolment is opened here, his factors made here.
const farid = { email: "farid@globex.example", password: "farid-demo-2026" };
const globexAdmin = { email: "admin@globex.example", password: "globex-admin-demo-2026" };
const db = "../target/e2e/hostguard.db";

test.use({ viewport: { width: 390, height: 844 } });

/** A pending push request for `email`, written as the login side writes one; its id. */
function pushRequest(email: string, number: number, server: string): string {
  return execFileSync("python3", ["push-request.py", db, email, String(number), server, "deploy", "203.0.113.7"])
    .toString()
    .trim();
}

function status(id: string): string {
  return execFileSync("python3", ["push-request.py", db, "--status", id]).toString().trim();
}

async function noSeriousAxeViolations(page: Page) {
  const bad = await axeProblems(page);
  expect(bad).toEqual([]);
}

test("a person registers this browser and approves a push live with its number", async ({ page }) => {
  // Farid's administrator invites him again; from the link Farid adds an authenticator app,
  // which signs him in to a session that may change his sign-in methods for a few minutes.
  const link = await inviteAgain(page, globexAdmin, farid.email);
  await acceptInvitation(page, link, farid.password, "Farid's app");

  // The Approvals page: register this browser (its key is made here and never leaves it).
  await page.goto("/portal/approvals");
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "Approvals" })).toBeVisible();
  await expect(page.getByText("No login is waiting for you.")).toBeVisible();
  await page.getByLabel("Device name").fill("Farid's browser");
  await page.getByRole("button", { name: "Register this browser" }).click();
  await expect(page.getByRole("status")).toHaveText("This browser is registered as Farid's browser.");
  await expect(page.getByText("This browser approves your logins as Farid's browser.")).toBeVisible();
  await expect(page.getByRole("row", { name: /Farid's browser/ })).toContainText("Never");

  // A login asks for a push: it appears without a reload.
  const first = pushRequest(farid.email, 472, "globex-web-01");
  const card = page.getByRole("region", { name: "Login as deploy on globex-web-01 from 203.0.113.7" });
  await expect(card).toBeVisible();
  await expect(card).toContainText(/\d+ seconds left/);
  await noSeriousAxeViolations(page);

  // A wrong number is refused and counted; the right one approves, signed by this browser.
  await card.getByLabel("Number shown at the login prompt").fill("471");
  await card.getByRole("button", { name: "Approve" }).click();
  await expect(card.getByRole("alert")).toContainText("is not the number the login prompt shows");
  await card.getByLabel("Number shown at the login prompt").fill("472");
  await card.getByRole("button", { name: "Approve" }).click();
  await expect.poll(() => status(first)).toBe("approved");
  await expect(page.getByText("No login is waiting for you.")).toBeVisible();

  // Another one he did not start: This wasn't me denies it and pauses notifications.
  const second = pushRequest(farid.email, 318, "globex-db-02");
  const other = page.getByRole("region", { name: "Login as deploy on globex-db-02 from 203.0.113.7" });
  await expect(other).toBeVisible();
  await other.getByRole("button", { name: "This wasn't me" }).click();
  await expect.poll(() => status(second)).toBe("fraud");
  await page.reload();
  await hydrated(page);
  await expect(page.getByText(/Notifications outside this page are paused until/)).toBeVisible();
  await noSeriousAxeViolations(page);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow, "the page scrolls sideways by").toBeLessThanOrEqual(0);
});
