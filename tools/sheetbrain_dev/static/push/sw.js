// The service worker of the local web push page (sheetbrain serve, /dev/push/ only). A push
// message is the API's JSON ({"type": "usage_threshold", "org_id", "metric", "threshold",
// "used", "limit", "period"}, decrypted by the browser); each one is shown as a notification
// (pushManager.subscribe's userVisibleOnly promises that) and passed on to the open page.
"use strict";

const METRICS = { audits_per_month: "audits", ai_tokens_per_month: "AI tokens" };

function describe(message) {
  if (!message || message.type !== "usage_threshold") {
    return { title: "SheetBrain", body: "A push message arrived that this page does not know.", tag: "sheetbrain" };
  }
  const metric = METRICS[message.metric] || String(message.metric);
  return {
    title: `SheetBrain: ${message.threshold}% of your ${metric}`,
    body: `${message.used} of ${message.limit} ${metric} used this period (from ${message.period}).`,
    // One notification per threshold and period: a second delivery replaces the first.
    tag: `${message.org_id}:${message.metric}:${message.threshold}:${message.period}`,
  };
}

function read(data) {
  if (!data) return null;
  try {
    return data.json();
  } catch (error) {
    return null;
  }
}

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  const message = read(event.data);
  const shown = describe(message);
  event.waitUntil(
    Promise.all([
      self.registration.showNotification(shown.title, { body: shown.body, tag: shown.tag, data: message }),
      self.clients
        .matchAll({ type: "window", includeUncontrolled: true })
        .then((clients) => clients.forEach((client) => client.postMessage({ kind: "push", message, shown }))),
    ]),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((clients) => {
      const open = clients.find((client) => new URL(client.url).pathname.startsWith("/dev/push/"));
      return open ? open.focus() : self.clients.openWindow("/dev/push/");
    }),
  );
});
