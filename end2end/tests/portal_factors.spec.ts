import { Page } from "@playwright/test";
import { acceptInvitation, expect, hydrated, signIn, signOut, test } from "./helpers";
import { linkIn, mailTo } from "./mail";
import { totp } from "./totp";

// Globex's people start without an invitation in the demo (Acme's have one open).
const esther = { email: "esther@globex.example", password: "esther-demo-2026" };
const globexAdmin = { email: "admin@globex.example", password: "globex-admin-demo-2026" };

async function methodsPage(page: Page) {
  await page.goto("/portal/methods");
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "Sign-in methods" })).toBeVisible();
}

test("a first sign-in method needs an invitation, and later changes a current code", async ({ page }) => {
  // Esther's password alone adds nothing: she is told to ask her administrator.
  await signIn(page, esther);
  await methodsPage(page);
  await expect(page.getByText("Ask your administrator to send you an invitation.")).toBeVisible();
  await expect(page.getByRole("button", { name: "Generate new recovery codes" })).toHaveCount(0);
  await signOut(page);

  // Her administrator invites her again from the Users page; the row says until when.
  await signIn(page, globexAdmin);
  await page.goto("/iam/users");
  await hydrated(page);
  const row = page.getByRole("row", { name: /^Esther Lim esther@globex\.example/ });
  await expect(row).toContainText("Active");
  await row.getByText("New invitation for esther@globex.example").click();
  await row.getByRole("button", { name: "Send new invitation" }).click();
  await expect(page.getByRole("status")).toContainText("Invitation sent to esther@globex.example by email");
  await expect(row).toContainText(/Pending.*until \d{4}-\d\d-\d\d/);
  await signOut(page);

  // Her password alone still adds nothing; the link in her mail adds her authenticator app.
  await signIn(page, esther);
  await methodsPage(page);
  await expect(page.getByText(/only from the link in your invitation, which works until/)).toBeVisible();
  await signOut(page);
  await expect.poll(() => linkIn(esther.email, "/invite?token="), { timeout: 15_000 }).toBeTruthy();
  const link = new URL(linkIn(esther.email, "/invite?token=")!);
  const secret = await acceptInvitation(page, link.pathname + link.search, esther.password, "Esther's phone");
  await signOut(page);

  // In a new session, someone with only her password is asked for a current code first.
  await signIn(page, esther);
  await methodsPage(page);
  await expect(page.getByRole("heading", { name: "Confirm it's you" })).toBeVisible();
  await page.getByRole("button", { name: "Generate new recovery codes" }).click();
  await expect(page.getByRole("alert")).toContainText("Enter a current code");
  await expect(page.getByRole("status").getByRole("listitem")).toHaveCount(0);
  await page.getByLabel("Current code").fill("000000");
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("alert").first()).toContainText("is not a current code");

  // With the app's code (the next one: the one she confirmed with is spent) she may.
  await page.getByLabel("Current code").fill(totp(secret, Date.now() + 30_000));
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByText(/Code accepted: you can change your sign-in methods until/)).toBeVisible();
  await page.getByRole("button", { name: "Generate new recovery codes" }).click();
  await expect(page.getByRole("status").getByRole("listitem")).toHaveCount(10);

  // Each change was mailed to her, with how to report it.
  await expect
    .poll(() => mailTo(esther.email).filter((m) => m.includes("If this wasn't you")).length, { timeout: 15_000 })
    .toBe(3);
  const mails = mailTo(esther.email).join("\n");
  expect(mails).toContain("Globex Logistics invites you to HostGuard");
  expect(mails).toContain("Esther's phone");
  expect(mails).toContain("10 new recovery codes were made");
  expect(mails).toContain("Your password was set from an invitation link");
});
