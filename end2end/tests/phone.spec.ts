import { Page } from "@playwright/test";
import { acceptInvitation, axeProblems, expect, hydrated, inviteAgain, signIn, signOut, test } from "./helpers";
import { smsCode } from "./sms";
import { totp } from "./totp";

// Globex's Dmitri is left to this spec: his administrator invites him again, and he follows the
// link and uses the portal on a phone only.
const dmitri = { email: "dmitri@globex.example", password: "dmitri-demo-2026" };
const globexAdmin = { email: "admin@globex.example", password: "globex-admin-demo-2026" };
const number = "+4915112345678";

test.use({ viewport: { width: 390, height: 844 } });
test.describe.configure({ timeout: 180_000 });

/** No serious or critical axe violation, and no sideways scrolling. */
async function fits(page: Page, what: string) {
  const width = await page.evaluate(() => document.scrollingElement!.scrollWidth);
  expect.soft(width, `${what} scrolls sideways`).toBeLessThanOrEqual(390);
  const bad = await axeProblems(page);
  expect.soft(bad, `${what}: axe`).toEqual([]);
}

async function newCode(previous: string): Promise<string> {
  let code = "";
  await expect.poll(() => (code = smsCode(number)), { timeout: 15_000 }).not.toEqual(previous);
  return code;
}

test("on a phone: add a phone with the code texted to it, then remove a factor after a step-up", async ({ page }) => {
  // His password alone adds no first method: the portal sends him to his invitation.
  await signIn(page, dmitri);
  await page.goto("/portal/methods");
  await hydrated(page);
  await expect(page.getByText(/only from the link in your invitation/)).toBeVisible();
  await expect(page.getByRole("button", { name: "Send code" })).toHaveCount(0);
  await fits(page, "/portal/methods without a method");
  await signOut(page);

  // His administrator invites him again; the link adds his first method, an authenticator app,
  // and signs him in to a session that may add more for a few minutes.
  const link = await inviteAgain(page, globexAdmin, dmitri.email);
  await acceptInvitation(page, link, dmitri.password, "Authenticator");
  // The menu folds behind its button; the button opens it.
  const nav = page.getByRole("navigation", { name: "Console" });
  const menu = nav.getByRole("button", { name: "Menu" });
  await expect(menu).toBeVisible();
  await expect(menu).toHaveAttribute("aria-expanded", "false");
  await expect(nav.getByRole("link", { name: "Sign-in methods" })).toBeHidden();
  await fits(page, "/portal");
  await menu.click();
  await expect(menu).toHaveAttribute("aria-expanded", "true");
  await nav.getByRole("link", { name: "Sign-in methods" }).click();
  await expect(page.getByRole("heading", { name: "Sign-in methods", level: 1 })).toBeVisible();
  await expect(nav.getByRole("link", { name: "Sign-in history" })).toBeHidden();
  await hydrated(page);

  // He adds his phone: a code is texted to it (held in the development outbox).
  await page.getByLabel("Phone number").fill(number);
  await page.getByLabel("Phone name").fill("Dmitri's mobile");
  await page.getByRole("button", { name: "Send code" }).click();
  await expect(page.getByText(`We sent a code to ${number}`)).toBeVisible();
  const first = await newCode("");
  await page.getByLabel("Code sent to the phone").fill(first === "000000" ? "111111" : "000000");
  await page.getByRole("button", { name: "Confirm phone" }).click();
  await expect(page.getByRole("alert")).toContainText("2 more tries");
  await page.getByLabel("Code sent to the phone").fill(first);
  await page.getByRole("button", { name: "Confirm phone" }).click();
  await expect(page.getByText("Dmitri's mobile confirmed.")).toBeVisible();
  await expect(page.getByRole("row", { name: /Dmitri's mobile/ })).toContainText(number);
  await fits(page, "/portal/methods with a phone");

  // In the same minutes he adds a second authenticator app: on a phone, a link opens the app,
  // and the whole secret key is there with a Copy button.
  await page.getByLabel("Name", { exact: true }).fill("Tablet app");
  await page.getByRole("button", { name: "Add authenticator" }).click();
  await expect(page.getByRole("link", { name: "Open in my authenticator app" })).toHaveAttribute(
    "href",
    /^otpauth:\/\/totp\/HostGuard:dmitri%40globex\.example\?secret=[A-Z2-7]{32}&issuer=HostGuard$/,
  );
  const secretBox = page.getByLabel("Secret key");
  const secret = await secretBox.inputValue();
  expect(secret).toMatch(/^[A-Z2-7]{32}$/);
  const box = (await secretBox.boundingBox())!;
  expect(box.x + box.width).toBeLessThanOrEqual(390);
  await expect(page.getByRole("button", { name: "Copy key" })).toBeVisible();
  await fits(page, "/portal/methods adding an authenticator");
  await page.getByLabel("Code from the app").fill(totp(secret));
  await page.getByRole("button", { name: "Confirm", exact: true }).click();
  await expect(page.getByText("Tablet app added.")).toBeVisible();
  // After a change the page offers to sign out his other sessions.
  await expect(page.getByRole("button", { name: "End my other sessions" })).toBeVisible();
  await signOut(page);

  // A new session: removing a factor needs a step-up; a code texted to the phone gives one.
  await signIn(page, dmitri);
  await page.goto("/portal/methods");
  await hydrated(page);
  await page.getByRole("button", { name: "Remove Authenticator" }).click();
  await expect(page.getByRole("alert")).toContainText("Enter a current code");
  await page.getByRole("button", { name: "Text a code to Dmitri's mobile" }).click();
  const second = await newCode(first);
  await page.getByLabel("Current code").fill(second);
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByText(/Code accepted: you can change your sign-in methods until/)).toBeVisible();
  await page.getByRole("button", { name: "Remove Authenticator" }).click();
  await expect(page.getByText("Authenticator removed.")).toBeVisible();
  await page.getByRole("button", { name: "Remove Tablet app" }).click();
  await expect(page.getByRole("row", { name: /Tablet app/ })).toHaveCount(0);
  await expect(page.getByRole("row", { name: /Authenticator app/ })).toHaveCount(0);
  // The phone is now the last one: it stays.
  await page.getByRole("button", { name: "Remove Dmitri's mobile" }).click();
  await expect(page.getByRole("alert")).toContainText("one must remain");
  await page.getByRole("button", { name: "End my other sessions" }).click();
  await expect(page.getByText(/^(You had no other sessions|\d+ other sessions? (was|were) ended)\.$/)).toBeVisible();

  // Every portal page fits the phone.
  for (const path of ["/portal", "/portal/methods", "/portal/history"]) {
    await page.goto(path);
    await hydrated(page);
    await expect(page.locator("main h1").first()).toBeVisible();
    await fits(page, path);
  }
});
