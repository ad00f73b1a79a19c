// Subscribes this browser to Web Push notifications of its person's pending SSH logins:
// registers /sw.js, subscribes with the console's VAPID key and sends the subscription to
// /api/portal/push/subscribe. Call `hostguardPush.enable()` from a click (browsers ask for
// notification permission only then). Resolves to a sentence for the page to show.
window.hostguardPush = {
  async enable() {
    if (!("serviceWorker" in navigator) || !("PushManager" in window)) {
      return "This browser cannot receive push notifications.";
    }
    const post = (path, form) =>
      fetch(`/api/${path}`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(form),
      });
    const keyRes = await post("portal/push/key", {});
    if (!keyRes.ok) return "Sign in to the portal first.";
    const { public_key } = await keyRes.json();
    if (!public_key) return "Push notifications are not set up on this console; keep the portal open instead.";
    if ((await Notification.requestPermission()) !== "granted") {
      return "Notifications are blocked for this site in the browser's settings.";
    }
    const reg = await navigator.serviceWorker.register("/sw.js", { scope: "/portal/" });
    await navigator.serviceWorker.ready;
    const b64 = public_key.replace(/-/g, "+").replace(/_/g, "/");
    const key = Uint8Array.from(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
    const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    const json = sub.toJSON();
    const res = await post("portal/push/subscribe", {
      endpoint: json.endpoint,
      p256dh: json.keys.p256dh,
      auth: json.keys.auth,
    });
    return res.ok ? "This browser will be notified of logins waiting for you." : `Not subscribed: ${await res.text()}`;
  },
};
