import { Page } from "@playwright/test";
import { axeProblems, expect, hydrated, signIn, signOut, test, users, virtualAuthenticator } from "./helpers";
import { linkIn, mailTo } from "./mail";
import { totp } from "./totp";

const phone = { width: 390, height: 844 };

/** No serious or critical accessibility violation (axe), and nothing wider than the screen. */
async function checkPage(page: Page, what: string) {
  const bad = await axeProblems(page);
  expect.soft(bad, `${what}: axe`).toEqual([]);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect.soft(overflow, `${what} scrolls sideways by`).toBeLessThanOrEqual(0);
}

test("an admin invites, and the invitee enrols on a phone from the mail and signs in", async ({ page, browser }) => {
  // The whole journey, four pages with their accessibility checks: longer than one page's test.
  test.slow();
  const email = `new-${Date.now()}@acme.example`;
  await signIn(page, users.acmeAdmin);
  await page.goto("/iam/users");
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "Users", exact: true })).toBeVisible();
  await checkPage(page, "/iam/users");
  await page.getByLabel("Email (sign-in name)").fill(email);
  await page.getByLabel("Name", { exact: true }).fill("Nora New");
  await page.getByRole("button", { name: "Send invitation" }).click();
  await expect(page.getByRole("status")).toContainText(`Invitation sent to ${email} by email`);
  const row = page.getByRole("row", { name: new RegExp(`Nora New ${email.replace(/[.]/g, "\\.")}`) });
  await expect(row).toContainText("Invited");
  await expect(row).toContainText("Pending");
  await signOut(page);

  // The invitee reads the mail at the SMTP sink and follows its link on a phone.
  await expect.poll(() => mailTo(email).length, { timeout: 15_000 }).toBe(1);
  expect(mailTo(email)[0]).toContain("Acme Retail invites you to HostGuard");
  const link = linkIn(email, "/invite?token=")!;
  const context = await browser.newContext({ viewport: phone });
  const invitee = await context.newPage();
  await invitee.goto(link);
  await hydrated(invitee);
  await expect(invitee.getByRole("heading", { name: "Accept your invitation" })).toBeVisible();
  await expect(invitee.getByText(`Your sign-in name is ${email}`)).toBeVisible();
  await checkPage(invitee, "/invite (password)");

  // Mismatched passwords are refused, then the password is set.
  await invitee.getByLabel("Password", { exact: true }).fill("a long enough password");
  await invitee.getByLabel("Password again").fill("another long password");
  await invitee.getByRole("button", { name: "Save password" }).click();
  await expect(invitee.getByRole("alert")).toContainText("must be the same password");
  await invitee.getByLabel("Password again").fill("a long enough password");
  await invitee.getByRole("button", { name: "Save password" }).click();
  await expect(invitee.getByRole("heading", { name: "2. Add an authenticator app" })).toBeVisible();

  // Before the authenticator, the account cannot sign in.
  const other = await browser.newPage();
  await signInAttempt(other, email, "a long enough password");
  await expect(other.getByRole("alert")).toContainText("not active yet");
  await other.close();

  await invitee.getByLabel("Name of this authenticator").fill("Nora's phone");
  await invitee.getByRole("button", { name: "Show the code to add" }).click();
  const open = invitee.getByRole("link", { name: "Open in the authenticator app on this phone" });
  await expect(open).toHaveAttribute("href", /^otpauth:\/\/totp\/HostGuard:/);
  await expect(invitee.getByRole("img", { name: /QR code/ })).toBeVisible();
  const secret = await invitee.getByLabel("Secret key").inputValue();
  expect(secret).toMatch(/^[A-Z2-7]{32}$/);
  await checkPage(invitee, "/invite (authenticator)");
  await invitee.getByRole("button", { name: "Copy" }).click();
  await expect(invitee.getByText(/Copied|refused to copy/)).toBeVisible();
  await invitee.getByLabel("Code from the app").fill("000000");
  await invitee.getByRole("button", { name: "Confirm and finish" }).click();
  await expect(invitee.getByRole("alert")).toContainText("Code");
  await invitee.getByLabel("Code from the app").fill(totp(secret));
  await invitee.getByRole("button", { name: "Confirm and finish" }).click();
  await expect(invitee).toHaveURL(/\/portal$/);
  await hydrated(invitee);
  await expect(invitee.getByText("Nora New").first()).toBeVisible();
  await checkPage(invitee, "/portal after the invitation");
  await context.close();

  // Signed out, the invitee signs in with the password; the admin sees the person active.
  const again = await browser.newContext({ viewport: phone });
  const later = await again.newPage();
  await signInAttempt(later, email, "a long enough password");
  await expect(later).toHaveURL(/\/portal/);
  await again.close();
  await signIn(page, users.acmeAdmin);
  await page.goto(`/iam/users?search=${encodeURIComponent(email)}`);
  await hydrated(page);
  await expect(row).toContainText("Active");
  await expect(row).toContainText("Nora's phone");
  await expect(row).toContainText("Accepted");
});

test("the invitee may choose a passkey as their first sign-in method", async ({ page, browser }) => {
  const email = `passkey-first-${Date.now()}@acme.example`;
  await signIn(page, users.acmeAdmin);
  await page.goto("/iam/users");
  await hydrated(page);
  await page.getByLabel("Email (sign-in name)").fill(email);
  await page.getByLabel("Name", { exact: true }).fill("Kai Key");
  await page.getByRole("button", { name: "Send invitation" }).click();
  await expect(page.getByRole("status")).toContainText(`Invitation sent to ${email}`);
  await expect.poll(() => mailTo(email).length, { timeout: 15_000 }).toBe(1);

  // Passkeys belong to a domain, never to an IP address: the link is followed on localhost.
  const origin = new URL(page.url()).origin.replace("127.0.0.1", "localhost");
  const link = linkIn(email, "/invite?token=")!.replace("127.0.0.1", "localhost");
  const context = await browser.newContext({ baseURL: origin, viewport: phone });
  const invitee = await context.newPage();
  await virtualAuthenticator(context, invitee);
  await invitee.goto(link);
  await hydrated(invitee);
  await invitee.getByLabel("Password", { exact: true }).fill("a long enough password");
  await invitee.getByLabel("Password again").fill("a long enough password");
  await invitee.getByRole("button", { name: "Save password" }).click();
  await expect(invitee.getByRole("heading", { name: "Or use a passkey" })).toBeVisible();
  await checkPage(invitee, "/invite (app or passkey)");
  await invitee.getByLabel("Name of this passkey").fill("Kai's laptop");
  await invitee.getByRole("button", { name: "Add a passkey" }).click();
  await expect(invitee).toHaveURL(/\/portal$/);
  await hydrated(invitee);
  await expect(invitee.getByText("Kai Key").first()).toBeVisible();
  await context.close();

  // The account is active, its first method the passkey; the invitation is used.
  await page.goto(`/iam/users?search=${encodeURIComponent(email)}`);
  await hydrated(page);
  const row = page.getByRole("row", { name: new RegExp(email.replace(/[.]/g, "\\.")) });
  await expect(row).toContainText("Active");
  await expect(row).toContainText("Kai's laptop");
  await expect(row).toContainText("Accepted");
});

test("a portal session never adds a first method: the demo's people use their invitation link", async ({ page }) => {
  // Carmen (Acme) is signed in by her password alone: the portal sends her to her invitation.
  await signIn(page, users.carmen);
  await page.goto("/portal/methods");
  await hydrated(page);
  await expect(page.getByText(/only from the link in your invitation, which works until/)).toBeVisible();
  await expect(page.getByRole("button", { name: "Add authenticator" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Generate new recovery codes" })).toHaveCount(0);
  await checkPage(page, "/portal/methods without a method");
});

async function signInAttempt(page: Page, email: string, password: string) {
  await page.goto("/signin");
  await hydrated(page);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

test("an expired or unknown link says so, and passes axe on a phone", async ({ browser }) => {
  const context = await browser.newContext({ viewport: phone });
  const page = await context.newPage();
  await page.goto("/invite?token=nonsense");
  await expect(page.getByRole("heading", { name: "This invitation link is not valid" })).toBeVisible();
  await checkPage(page, "/invite (unknown link)");
  await context.close();
});

test("the Users page revokes, locks and unlocks, each button named for its person", async ({ page }) => {
  const email = `revoked-${Date.now()}@acme.example`;
  await signIn(page, users.acmeAdmin);
  await page.goto("/iam/users");
  await hydrated(page);
  await page.getByLabel("Email (sign-in name)").fill(email);
  await page.getByRole("button", { name: "Send invitation" }).click();
  await expect(page.getByRole("status")).toContainText(`Invitation sent to ${email}`);
  const row = page.getByRole("row", { name: new RegExp(email.replace(/[.]/g, "\\.")) });
  await page.getByRole("button", { name: `Revoke the invitation of ${email}` }).click();
  await expect(page.getByRole("status").filter({ hasText: "Invitation revoked" })).toBeVisible();
  await expect(row).toContainText("Revoked");
  await page.getByRole("button", { name: `Lock ${email}` }).click();
  await expect(page.getByRole("status").filter({ hasText: "Locked" })).toBeVisible();
  await expect(row).toContainText("Locked");
  await page.getByRole("button", { name: `Unlock ${email}` }).click();
  await expect(page.getByRole("status").filter({ hasText: "Unlocked" })).toBeVisible();
  await expect(row).toContainText("Invited");

  // The link of the revoked invitation no longer works.
  await expect.poll(() => mailTo(email).length, { timeout: 15_000 }).toBe(1);
  await page.goto(linkIn(email, "/invite?token=")!);
  await expect(page.getByRole("heading", { name: "This invitation cannot be used" })).toBeVisible();
  await expect(page.getByRole("alert")).toContainText("no longer works");
});
