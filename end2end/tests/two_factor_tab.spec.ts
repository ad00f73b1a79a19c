import { Locator, Page } from "@playwright/test";
import { axe, confirmedTopic, expect, hydrated, signIn, test, users } from "./helpers";

// The 2FA tab as its users meet it: the dialog, controls, filters in the URL, a phone-sized
// screen, refusals, topics. The demo's acme-… servers have no agent behind them (acme-app-11's
// sshd does not use PAM; acme-web-13's agent is offline); e2e-lab-01 has a real agent, and the
// console applies changes after 3 s.
test.describe.configure({ mode: "serial" });

function row(page: Page, name: string) {
  return page.locator(`tr[data-server="${name}"]`);
}

async function openTab(page: Page, query = "") {
  await page.goto(`/hss/two-factor${query}`);
  await hydrated(page);
}

/** Whether the element that has focus is inside `dialog`. */
function focusInside(dialog: Locator) {
  return dialog.evaluate((d) => d.contains(document.activeElement));
}

test("the dialog takes focus, keeps it, closes on Escape and gives focus back", async ({ page }) => {
  await signIn(page, users.acmeAdmin);
  await openTab(page, "?search=acme-app-17");
  const opener = row(page, "acme-app-17").getByRole("button", { name: "Enable 2FA on acme-app-17" });
  await opener.click();
  const dialog = page.getByRole("dialog", { name: "Enable 2FA" });
  await expect(dialog).toBeVisible();
  await expect(dialog).toHaveAttribute("aria-modal", "true");
  await expect.poll(() => focusInside(dialog)).toBe(true);
  const found = await axe(page).include("dialog").analyze();
  expect(found.violations.flatMap((v) => v.nodes.map((n) => `${v.id}: ${n.html} ${n.failureSummary}`))).toEqual([]);
  // Tab and Shift+Tab go round inside the dialog.
  for (let i = 0; i < 10; i++) {
    await page.keyboard.press("Tab");
    expect(await focusInside(dialog)).toBe(true);
  }
  for (let i = 0; i < 10; i++) {
    await page.keyboard.press("Shift+Tab");
    expect(await focusInside(dialog)).toBe(true);
  }
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  // The list reloads every 2 s meanwhile; focus finds the same row's button.
  await expect(row(page, "acme-app-17").getByRole("button", { name: "Enable 2FA on acme-app-17" })).toBeFocused();

  // The batch buttons too, and Close as well as Escape.
  await page.getByLabel("Select acme-app-17").check();
  const batch = page.getByRole("button", { name: "Disable 2FA", exact: true });
  await batch.click();
  const disable = page.getByRole("dialog", { name: "Disable 2FA" });
  await expect.poll(() => focusInside(disable)).toBe(true);
  await disable.getByRole("button", { name: "Close" }).click();
  await expect(disable).toBeHidden();
  await expect(batch).toBeFocused();
});

test("row buttons name their server", async ({ page }) => {
  await signIn(page, users.acmeAdmin);
  await openTab(page, "?search=acme-app-17");
  const r = row(page, "acme-app-17");
  await expect(r.getByRole("button", { name: "Enable 2FA on acme-app-17" })).toBeVisible();
  await expect(r.getByRole("link", { name: "acme-app-17", exact: true })).toBeVisible();
  await expect(r.getByRole("checkbox", { name: "Select acme-app-17" })).toBeVisible();
});

test("controls look like what they are: disabled buttons, radios beside labels, the sort in use", async ({ page }) => {
  await signIn(page, users.acmeAdmin);
  await openTab(page, "?search=acme-app-17");
  // Nothing selected: the batch buttons are off, and look it, with no busy cursor.
  const enable = page.getByRole("button", { name: "Enable 2FA", exact: true });
  await expect(enable).toBeDisabled();
  const look = await enable.evaluate((b) => {
    const s = getComputedStyle(b);
    return { cursor: s.cursor, opacity: Number(s.opacity) };
  });
  expect(look.cursor).not.toMatch(/progress|wait/);
  expect(look.opacity).toBeLessThan(0.6);

  // The Sort box shows the order the list is in.
  await expect(page.getByRole("combobox", { name: /^Sort/ }).locator("option:checked")).toHaveText("Name A–Z");
  await openTab(page, "?search=acme-app&sort=-name");
  await expect(page.getByRole("combobox", { name: /^Sort/ }).locator("option:checked")).toHaveText("Name Z–A");

  // Each radio sits right beside its label, which fits on one line.
  await row(page, "acme-app-17").getByRole("button", { name: "Enable 2FA on acme-app-17" }).click();
  const dialog = page.getByRole("dialog", { name: "Enable 2FA" });
  for (const name of ["SMS/Email", "Verification code"]) {
    const radio = dialog.getByRole("radio", { name });
    const label = dialog.locator("label.radio", { hasText: name });
    const r = (await radio.boundingBox())!;
    const l = (await label.boundingBox())!;
    expect(r.width).toBeLessThan(30);
    const text = await label.evaluate((el, name) => {
      const words = Array.from(el.childNodes).find((n) => n.nodeType === Node.TEXT_NODE && n.textContent?.trim() === name)!;
      const range = document.createRange();
      range.selectNodeContents(words);
      const rects = range.getClientRects();
      return { left: rects[0].left, lines: new Set(Array.from(rects).map((x) => Math.round(x.top))).size };
    }, name);
    expect(text.left - (r.x + r.width)).toBeLessThan(16);
    expect(text.lines).toBe(1);
    expect(l.height).toBeLessThan(40);
  }
  await page.keyboard.press("Escape");
});

test("filters apply when changed, and the URL keeps the view for a reload or a shared link", async ({ page }) => {
  await signIn(page, users.acmeAdmin);
  await openTab(page);
  await page.getByRole("combobox", { name: /^2FA Status/ }).selectOption("disabled");
  await expect(page).toHaveURL(/status=disabled/);
  await page.getByRole("combobox", { name: /^OS/ }).selectOption("windows");
  await expect(page).toHaveURL(/status=disabled&os=windows/);
  // Typing searches once it pauses; no Search click.
  await page.getByRole("searchbox").pressSequentially("acme-rdp", { delay: 30 });
  await expect(page).toHaveURL(/search=acme-rdp/);
  await expect(page.locator("tr[data-server]")).not.toHaveCount(0);
  for (const name of await page.locator("tr[data-server]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-server")))) {
    expect(name).toMatch(/^acme-rdp-/);
  }
  // The region of the top bar is in the URL too.
  await page.getByRole("combobox", { name: "Region" }).selectOption({ label: "CN-Hong Kong" });
  await expect(page).toHaveURL(/region=ap-southeast-1/);
  const url = page.url();
  expect(url).not.toContain("&=");
  expect(url).not.toMatch(/[?&][a-z]+=(&|$)/);
  const shown = await page.locator("tr[data-server]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-server")));
  expect(shown.length).toBeGreaterThan(0);

  // A reload, or the link opened elsewhere, shows the same view.
  await page.reload();
  await hydrated(page);
  await expect(page.getByRole("combobox", { name: /^2FA Status/ }).locator("option:checked")).toHaveText("Disabled");
  await expect(page.getByRole("combobox", { name: /^OS/ }).locator("option:checked")).toHaveText("Windows");
  await expect(page.getByRole("searchbox")).toHaveValue("acme-rdp");
  await expect(page.getByRole("combobox", { name: "Region" })).toHaveValue("ap-southeast-1");
  await expect
    .poll(() => page.locator("tr[data-server]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-server"))))
    .toEqual(shown);
  // Back to all regions for the next tests.
  await page.getByRole("combobox", { name: "Region" }).selectOption({ label: "All regions" });
  await expect(page).not.toHaveURL(/region=/);
});

test("OK is off while every selected server is blocked", async ({ page }) => {
  await signIn(page, users.acmeAdmin);
  await openTab(page, "?search=acme-app-11");
  await row(page, "acme-app-11").getByRole("button", { name: "Enable 2FA on acme-app-11" }).click();
  const dialog = page.getByRole("dialog", { name: "Enable 2FA" });
  await dialog.getByLabel("Verification code").check();
  await expect(dialog.getByText("Blocked", { exact: true })).toBeVisible();
  await expect(dialog.getByRole("button", { name: "OK" })).toBeDisabled();
  await expect(dialog).toContainText("Every selected server is blocked");
});

test("a save that refuses some servers is a warning naming each refused server once", async ({ page }) => {
  await signIn(page, users.acmeAdmin);
  await openTab(page, "?search=acme-app-");
  await page.getByLabel("Select acme-app-11").check();
  await page.getByLabel("Select acme-app-17").check();
  await page.getByRole("button", { name: "Enable 2FA", exact: true }).click();
  const dialog = page.getByRole("dialog", { name: "Enable 2FA" });
  await dialog.getByLabel("Verification code").check();
  await dialog.getByRole("button", { name: "OK" }).click();
  const outcome = dialog.getByRole("alert");
  await expect(outcome).toContainText("1 server changed, 1 server refused.");
  await expect(outcome.locator("li")).toHaveCount(1);
  await expect(outcome.locator("li")).toContainText("acme-app-11: sshd does not use PAM");
  await expect(outcome).not.toContainText("acme-app-11: acme-app-11");
  // Not the green box of a success.
  await expect(dialog.getByRole("status")).toHaveCount(0);
  await page.keyboard.press("Escape");
  await expect(row(page, "acme-app-17")).toContainText("Enabling…");
});

test("enabling a server whose agent is offline says the change waits for the agent, and when it applies", async ({ page }) => {
  await signIn(page, users.acmeAdmin);
  await openTab(page, "?search=acme-web-13");
  await expect(row(page, "acme-web-13")).toContainText("Offline");
  await row(page, "acme-web-13").getByRole("button", { name: "Enable 2FA on acme-web-13" }).click();
  const dialog = page.getByRole("dialog", { name: "Enable 2FA" });
  await expect(dialog.locator('li[data-server="acme-web-13"]')).toContainText("The change will wait for the agent");
  // The console's apply delay (3 s in these tests), and PAM and sshd for a Linux server.
  await expect(dialog.getByRole("note")).toContainText("in about 3 seconds");
  await expect(dialog.getByRole("note")).toContainText("(PAM and sshd)");
  await page.keyboard.press("Escape");

  // A Windows server has no PAM or sshd.
  await openTab(page, "?search=acme-rdp-04");
  await row(page, "acme-rdp-04").getByRole("button", { name: "Enable 2FA on acme-rdp-04" }).click();
  const windows = page.getByRole("dialog", { name: "Enable 2FA" });
  await expect(windows.getByRole("note")).toContainText("in about 3 seconds");
  await expect(windows.getByRole("note")).not.toContainText("PAM");
  await expect(windows.getByRole("note")).not.toContainText("sshd");
  // No agent applies 2FA on Windows yet: the dialog says so, and there is nothing to save.
  await expect(windows.locator('li[data-server="acme-rdp-04"]')).toContainText("Blocker: acme-rdp-04: Windows servers are not supported yet");
  await expect(windows.getByRole("button", { name: "OK" })).toBeDisabled();
});

test("creating a topic from the dialog keeps the selection, and the list catches up on return", async ({ page, browser }) => {
  await signIn(page, users.acmeAdmin);
  await openTab(page, "?search=e2e-lab-01");
  await expect(row(page, "e2e-lab-01")).toContainText("Online", { timeout: 30_000 });
  await row(page, "e2e-lab-01").getByRole("button", { name: "Enable 2FA on e2e-lab-01" }).click();
  const dialog = page.getByRole("dialog", { name: "Enable 2FA" });
  const [tab] = await Promise.all([
    page.waitForEvent("popup"),
    dialog.getByRole("link", { name: "Create a topic" }).first().click(),
  ]);
  await confirmedTopic(tab, browser, "e2e-tab", "Acme Tab Codes");
  await tab.close();
  // Back on the console's tab: the dialog is still open for the same server, and offers the
  // new topic.
  await page.bringToFront();
  await page.evaluate(() => window.dispatchEvent(new Event("focus")));
  await expect(dialog).toBeVisible();
  await expect(dialog.locator("li[data-server]")).toHaveText([/e2e-lab-01/]);
  await dialog.getByLabel("Topic").selectOption({ label: "Acme Tab Codes (e2e-tab)" });
  await dialog.getByRole("button", { name: "OK" }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByRole("status")).toHaveText("1 server changed.");
  await expect(row(page, "e2e-lab-01")).toContainText("Enabled", { timeout: 30_000 });
  await expect(row(page, "e2e-lab-01").getByRole("button", { name: "Change topic for e2e-lab-01" })).toBeVisible();
});

test("long topic URNs are shortened, with a button that copies the whole URN", async ({ page, context }) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  await signIn(page, users.acmeAdmin);
  await openTab(page, "?search=e2e-lab-01");
  const cell = row(page, "e2e-lab-01");
  await expect(cell).toContainText("Acme Tab Codes");
  const urn = cell.getByText("urn:smn:…:e2e-tab", { exact: true });
  await expect(urn).toBeVisible();
  const full = (await urn.getAttribute("title"))!;
  expect(full).toMatch(/^urn:smn:[^:]+:[0-9a-f]+:e2e-tab$/);
  await cell.getByRole("button", { name: "Copy the URN of topic Acme Tab Codes" }).click();
  await expect(cell).toContainText("Copied");
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(full);

  // The topic pages too.
  await page.goto("/smn/topics");
  await hydrated(page);
  const topicRow = page.getByRole("row", { name: /e2e-tab/ });
  await expect(topicRow.getByText("urn:smn:…:e2e-tab", { exact: true })).toHaveAttribute("title", full);
  await topicRow.getByRole("button", { name: "Copy the URN of topic e2e-tab" }).click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(full);
  await topicRow.getByRole("link", { name: "e2e-tab", exact: true }).click();
  await expect(page.getByText("urn:smn:…:e2e-tab", { exact: true })).toHaveAttribute("title", full);
  await expect(page.getByRole("button", { name: "Copy the topic URN" })).toBeVisible();
});

test("a save that changes no server is an error listing each server once", async ({ page }) => {
  await signIn(page, users.acmeAdmin);
  await openTab(page, "?search=acme-rdp-04");
  // Change Topic on a server without 2FA by SMS/Email: nothing to change.
  await page.getByLabel("Select acme-rdp-04").check();
  await page.getByRole("button", { name: "Change Topic", exact: true }).click();
  const dialog = page.getByRole("dialog", { name: "Change Topic" });
  await dialog.getByLabel("Topic").selectOption({ label: "Acme Tab Codes (e2e-tab)" });
  await dialog.getByRole("button", { name: "OK" }).click();
  const outcome = dialog.getByRole("alert");
  await expect(outcome).toContainText("No server changed: 1 server refused.");
  await expect(outcome.locator("li")).toHaveCount(1);
  await expect(outcome.locator("li")).toContainText("acme-rdp-04: only a server with 2FA by SMS/Email on");
  await expect(dialog.getByRole("status")).toHaveCount(0);
});

test("on a phone-sized screen each server's status and actions are in view", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await signIn(page, users.acmeAdmin);
  await openTab(page, "?search=e2e-lab-01");
  const r = row(page, "e2e-lab-01");
  await expect(r).toContainText("Enabled");
  for (const part of [
    r.getByText("Enabled", { exact: true }),
    r.getByRole("button", { name: "Disable 2FA on e2e-lab-01" }),
    r.getByRole("button", { name: "Change topic for e2e-lab-01" }),
    r.getByRole("link", { name: "Details", exact: true }),
  ]) {
    const box = (await part.boundingBox())!;
    expect(box.x).toBeGreaterThanOrEqual(0);
    expect(box.x + box.width).toBeLessThanOrEqual(390);
  }
  // No sideways scrolling anywhere on the page.
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);

  // The dialog fits the phone too; disabling puts e2e-lab-01 back as the other specs expect it.
  await r.getByRole("button", { name: "Disable 2FA on e2e-lab-01" }).click();
  const dialog = page.getByRole("dialog", { name: "Disable 2FA" });
  const box = (await dialog.boundingBox())!;
  expect(box.x + box.width).toBeLessThanOrEqual(390);
  await dialog.getByRole("button", { name: "OK" }).click();
  await expect(r).toContainText("Disabled", { timeout: 30_000 });
});

test("deleting a topic or a subscription asks first", async ({ page }) => {
  await signIn(page, users.acmeAdmin);
  await page.goto("/smn/topics");
  await hydrated(page);
  await page.getByLabel("Topic name").fill("e2e-doomed");
  await page.getByRole("button", { name: "Create topic" }).click();
  await expect(page.getByRole("status")).toHaveText("Topic created.");

  // A subscription: Cancel keeps it, Delete deletes it.
  await page.getByRole("link", { name: "e2e-doomed", exact: true }).click();
  const address = `doomed-${Date.now()}@acme.example`;
  await page.getByLabel("Protocol").selectOption("email");
  await page.getByLabel("Endpoints").fill(address);
  await page.getByRole("button", { name: "Add", exact: true }).click();
  const sub = page.getByRole("row", { name: new RegExp(address) });
  await expect(sub).toBeVisible();
  await sub.getByRole("button", { name: `Delete ${address}` }).click();
  const ask = page.getByRole("dialog", { name: `Delete subscription ${address}?` });
  await expect(ask).toBeVisible();
  await ask.getByRole("button", { name: "Cancel" }).click();
  await expect(ask).toBeHidden();
  await expect(sub).toBeVisible();
  await expect(sub.getByRole("button", { name: `Delete ${address}` })).toBeFocused();
  await sub.getByRole("button", { name: `Delete ${address}` }).click();
  await ask.getByRole("button", { name: "Delete" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Subscription deleted." })).toBeVisible();
  await expect(sub).toHaveCount(0);

  // The topic: Escape keeps it, Delete deletes it.
  await page.goto("/smn/topics");
  await hydrated(page);
  const del = page.getByRole("button", { name: "Delete topic e2e-doomed" });
  await del.click();
  const askTopic = page.getByRole("dialog", { name: "Delete topic e2e-doomed?" });
  await expect(askTopic).toHaveAttribute("aria-modal", "true");
  await expect.poll(() => focusInside(askTopic)).toBe(true);
  await page.keyboard.press("Escape");
  await expect(askTopic).toBeHidden();
  await expect(del).toBeFocused();
  await expect(page.getByRole("link", { name: "e2e-doomed", exact: true })).toBeVisible();
  await del.click();
  await askTopic.getByRole("button", { name: "Delete" }).click();
  await expect(page.getByRole("status")).toHaveText("Topic deleted.");
  await expect(page.getByRole("link", { name: "e2e-doomed", exact: true })).toHaveCount(0);
});

test("Disable on a server already disabled changes nothing for it, and says so", async ({ page }) => {
  await signIn(page, users.acmeAdmin);
  await openTab(page, "?search=acme-web-19");
  await expect(row(page, "acme-web-19")).toContainText("Disabled");
  await page.getByLabel("Select acme-web-19").check();
  await page.getByRole("button", { name: "Disable 2FA", exact: true }).click();
  const dialog = page.getByRole("dialog", { name: "Disable 2FA" });
  await dialog.getByRole("button", { name: "OK" }).click();
  await expect(dialog).toBeHidden();
  const status = page.getByRole("status");
  await expect(status).toContainText("No server changed.");
  await expect(status).toContainText("1 server skipped: nothing to change.");
  await expect(status.locator("li[data-server=acme-web-19]")).toContainText("already has 2FA off");
  // Past the 3 s apply delay nothing was handed to its (absent) agent: still Disabled, not Disabling or Failed.
  await page.waitForTimeout(4_000);
  await expect(row(page, "acme-web-19")).toContainText("Disabled");
  await expect(row(page, "acme-web-19")).not.toContainText("Disabling");
});
