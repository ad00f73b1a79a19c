import { Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { axeProblems, expect, hydrated, signIn, signOut, test, users, virtualAuthenticator } from "./helpers";
import { linkIn, mailTo } from "./mail";
import { totp } from "./totp";

// Passkeys belong to a domain, never to an IP address: the console on 127.0.0.1 is the relying
// party `localhost` on the same port, so this test browses there (cookies and all).
const port = Number(process.env.E2E_PORT ?? 3100);
const origin = `http://localhost:${port}`;
const db = "../target/e2e/hostguard.db";

test.use({ baseURL: origin });

async function noSeriousAxeViolations(page: Page) {
  const bad = await axeProblems(page);
  expect(bad).toEqual([]);
}

function pushRequest(email: string, number: number, server: string): string {
  return execFileSync("python3", ["push-request.py", db, email, String(number), server, "deploy", "203.0.113.7"])
    .toString()
    .trim();
}

function status(id: string): string {
  return execFileSync("python3", ["push-request.py", db, "--status", id]).toString().trim();
}

test("a person adds a passkey, signs in with it and approves a login with it", async ({ page, browser }) => {
  // An invited person: a password and an authenticator app from the invitation.
  const email = `passkey-${Date.now()}@acme.example`;
  await signIn(page, users.acmeAdmin);
  await page.goto("/iam/users");
  await hydrated(page);
  await page.getByLabel("Email (sign-in name)").fill(email);
  await page.getByLabel("Name", { exact: true }).fill("Pia Passkey");
  await page.getByRole("button", { name: "Send invitation" }).click();
  await expect(page.getByRole("status")).toContainText(`Invitation sent to ${email}`);
  await signOut(page);
  await expect.poll(() => mailTo(email).length, { timeout: 15_000 }).toBe(1);
  const link = linkIn(email, "/invite?token=")!.replace("127.0.0.1", "localhost");

  const context = await browser.newContext({ baseURL: origin });
  const person = await context.newPage();
  await virtualAuthenticator(context, person);
  await person.goto(link);
  await hydrated(person);
  await person.getByLabel("Password", { exact: true }).fill("a long enough password");
  await person.getByLabel("Password again").fill("a long enough password");
  await person.getByRole("button", { name: "Save password" }).click();
  await person.getByLabel("Name of this authenticator").fill("Pia's phone");
  await person.getByRole("button", { name: "Show the code to add" }).click();
  const secret = await person.getByLabel("Secret key").inputValue();
  await person.getByLabel("Code from the app").fill(totp(secret));
  await person.getByRole("button", { name: "Confirm and finish" }).click();
  await expect(person).toHaveURL(/\/portal$/);

  // Security info: a current code (the next one: the first was used up), then the passkey.
  await person.goto("/portal/methods");
  await hydrated(person);
  const code = person.getByLabel("Current code");
  if (await code.isVisible()) {
    await code.fill(totp(secret, Date.now() + 30_000));
    await person.getByRole("button", { name: "Verify" }).first().click();
    await expect(code).toBeHidden();
  }
  await person.getByLabel("Passkey name").fill("Pia's laptop");
  await person.getByRole("button", { name: "Add a passkey" }).click();
  await expect(person.getByRole("status").filter({ hasText: "added" })).toHaveText("Pia's laptop added.");
  await expect(person.getByRole("row", { name: /Pia's laptop/ })).toContainText("Never");
  await noSeriousAxeViolations(person);

  // Renamed in place (the step-up above still holds), and still so after a reload.
  const key = person.getByRole("row", { name: /Pia's laptop/ });
  await key.getByText("Rename").click();
  await key.getByLabel("New name").fill("Pia's work laptop");
  await key.getByRole("button", { name: "Save name" }).click();
  await expect(person.getByRole("status").filter({ hasText: "Renamed" })).toHaveText("Renamed Pia's work laptop.");
  await person.reload();
  await hydrated(person);
  await expect(person.getByRole("row", { name: /Pia's work laptop/ })).toContainText("Never");
  await expect(person.getByRole("row", { name: /Pia's laptop/ })).toHaveCount(0);
  // The list, with its Rename open, fits a phone's width.
  await person.setViewportSize({ width: 390, height: 844 });
  await person.getByRole("row", { name: /Pia's work laptop/ }).getByText("Rename").click();
  const overflow = await person.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow, "/portal/methods at 390 px scrolls sideways by").toBeLessThanOrEqual(0);
  await person.setViewportSize({ width: 1280, height: 720 });

  // Signed out, back in with the passkey alone: no email, no password.
  await signOut(person);
  await hydrated(person);
  await noSeriousAxeViolations(person);
  await person.getByRole("button", { name: "Use a passkey" }).click();
  await expect(person).toHaveURL(/\/portal$/);
  await hydrated(person);
  await expect(person.getByText("Pia Passkey").first()).toBeVisible();

  // A login waits for a push; the prompt's short address opens the Approvals page, where the
  // number and the passkey approve it. A wrong number is refused first.
  const request = pushRequest(email, 472, "acme-web-01");
  await person.goto("/a");
  await expect(person).toHaveURL(/\/portal\/approvals$/);
  await hydrated(person);
  const card = person.getByRole("region", { name: "Login as deploy on acme-web-01 from 203.0.113.7" });
  await expect(card).toBeVisible();
  const approve = card.getByRole("button", { name: "Approve with a passkey" });
  await expect(approve).toBeVisible();
  await noSeriousAxeViolations(person);
  await card.getByLabel("Number shown at the login prompt").fill("471");
  await approve.click();
  await expect(card.getByRole("alert")).toContainText("is not the number the login prompt shows");
  expect(status(request)).toBe("pending");
  await card.getByLabel("Number shown at the login prompt").fill("472");
  await approve.click();
  await expect.poll(() => status(request)).toBe("approved");
  await expect(person.getByText("No login is waiting for you.")).toBeVisible();
  await context.close();
});
