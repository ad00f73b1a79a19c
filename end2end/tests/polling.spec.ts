import { Page } from "@playwright/test";
import { expect, hydrated, signIn, test, users } from "./helpers";

// The 2FA tab looks at its list again every 2 s while it is open. Leaving the page must stop
// that, and coming back must start one poll, not one more on top of the earlier visits'.
const LIST = "/api/two-factor/list";
const WINDOW_MS = 5_000;

/** Counts the list requests the page sends from now on. */
function listRequests(page: Page) {
  const seen = { count: 0 };
  page.on("request", (request) => {
    if (new URL(request.url()).pathname === LIST) seen.count += 1;
  });
  return seen;
}

/** The intervals the page has started and not cleared (a leaked one may poll a dead page, so
 * requests alone would not show it). */
async function activeIntervals(page: Page): Promise<number> {
  return page.evaluate(() => (window as unknown as { __activeIntervals: Set<number> }).__activeIntervals.size);
}

test("the 2FA tab polls at one rate however often it is opened, and not at all once left", async ({ page }) => {
  await page.addInitScript(() => {
    const active = new Set<number>();
    const set = window.setInterval.bind(window);
    const clear = window.clearInterval.bind(window);
    (window as unknown as { __activeIntervals: Set<number> }).__activeIntervals = active;
    window.setInterval = ((handler: TimerHandler, timeout?: number, ...args: unknown[]) => {
      const id = set(handler, timeout, ...args);
      active.add(id);
      return id;
    }) as typeof window.setInterval;
    window.clearInterval = (id?: number) => {
      if (id !== undefined) active.delete(id);
      clear(id);
    };
  });
  await signIn(page, users.acmeAdmin);
  await page.goto("/smn/topics");
  await hydrated(page);
  const before = await activeIntervals(page);

  const nav = page.getByRole("navigation", { name: "Console" });
  const away = async () => {
    await nav.getByRole("link", { name: "Topics" }).click();
    await expect(page.getByRole("heading", { name: "Topics" })).toBeVisible();
  };
  const back = async () => {
    await nav.getByRole("link", { name: "Two-Factor Authentication" }).click();
    await expect(page.getByRole("heading", { name: "Two-Factor Authentication" })).toBeVisible();
    await expect(page.locator("tr[data-server]").first()).toBeVisible();
  };
  // In-app navigation (no page load), so timers of earlier visits would still be running.
  await back();
  for (let visit = 0; visit < 4; visit++) {
    await away();
    await back();
  }
  expect(await activeIntervals(page), "one timer for the open tab").toBe(before + 1);

  const open = listRequests(page);
  await page.waitForTimeout(WINDOW_MS);
  // One 2 s poll asks 2 or 3 times in 5 s; five stacked ones would ask 10 or more.
  expect(open.count, "the list is polled while the tab is open").toBeGreaterThanOrEqual(1);
  expect(open.count, "one poll, not one per visit").toBeLessThanOrEqual(3);

  await away();
  expect(await activeIntervals(page), "leaving the tab clears its timer").toBe(before);
  const left = listRequests(page);
  await page.waitForTimeout(WINDOW_MS);
  expect(left.count, "no polling after leaving the tab").toBe(0);
});
