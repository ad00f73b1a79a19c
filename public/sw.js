// HostGuard's service worker: shows Web Push notifications of pending SSH logins while the
// portal is closed. A notification only says that a login waits and opens the Approvals page,
// where the person types the number the SSH prompt shows; it has no actions, so nothing is
// approved or denied from a lock screen.
self.addEventListener("push", (event) => {
  let p = {};
  try {
    p = event.data ? event.data.json() : {};
  } catch (_) {
    p = {};
  }
  if (p.type !== "push_request") return;
  const where = [p.account && p.server ? `${p.account}@${p.server}` : p.server, p.source_ip && `from ${p.source_ip}`]
    .filter(Boolean)
    .join(" ");
  const url = new URL("/portal/approvals", self.location.origin).href;
  event.waitUntil(
    self.registration.showNotification("Approve a login?", {
      body: `${where || "An SSH login"} waits for you. Open HostGuard and type the number the prompt shows.`,
      tag: `push-${p.id}`,
      requireInteraction: true,
      // Only this console's own page, whatever the payload says.
      data: { url },
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL("/portal/approvals", self.location.origin).href;
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      const open = windows.find((w) => new URL(w.url).pathname === "/portal/approvals");
      return open ? open.focus() : self.clients.openWindow(url);
    }),
  );
});
