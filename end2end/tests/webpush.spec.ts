import { expect, hydrated, signIn, test } from "./helpers";

// Bob (Acme) only looks at the Approvals page here; no other test changes what it shows him.
const bob = { email: "bob@acme.example", password: "bob-demo-2026" };

test.use({ viewport: { width: 390, height: 844 } });

test("the service worker is served and opens only the Approvals page", async ({ request }) => {
  const res = await request.get("/sw.js");
  expect(res.status()).toBe(200);
  expect(res.headers()["content-type"]).toContain("javascript");
  const body = await res.text();
  expect(body).toContain('"/portal/approvals"');
  expect(body).not.toContain("actions:");
});

test("without a VAPID key the portal says notifications are not set up", async ({ page }) => {
  await signIn(page, bob);
  await page.goto("/portal/approvals");
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "Notifications" })).toBeVisible();
  await page.getByRole("button", { name: "Notify this browser" }).click();
  await expect(page.getByRole("status").filter({ hasText: "not set up" })).toContainText(
    "Push notifications are not set up on this console",
  );
});
