// The local web push page (sheetbrain serve, /dev/push): registers the service worker, and with
// the pasted bearer token subscribes this browser through GET /api/notifications/vapid-public-key
// and POST /api/notifications/subscriptions. Text is only ever set as textContent.
"use strict";

(() => {
  const SCOPE = "/dev/push/";
  const WORKER = `${SCOPE}sw.js`;
  const SUBSCRIBE_TIMEOUT_S = 20; // a reachable push service answers in a second or two
  const $ = (id) => document.getElementById(id);
  // The page's policy requires Trusted Types: the worker's URL is the one script URL it makes.
  const scriptURLs = window.trustedTypes
    ? window.trustedTypes.createPolicy("sheetbrain-push", {
        createScriptURL: (url) => {
          if (url !== WORKER) throw new TypeError(`Not the page's service worker: ${url}`);
          return url;
        },
      })
    : { createScriptURL: (url) => url };
  let registration = null;

  function status(text, kind) {
    $("status").textContent = text;
    $("status").dataset.kind = kind || "info";
  }

  function bytesOf(base64url) {
    const padded = base64url.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (base64url.length % 4)) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }

  function sameBytes(buffer, bytes) {
    if (!buffer) return false;
    const view = new Uint8Array(buffer);
    return view.length === bytes.length && view.every((b, i) => b === bytes[i]);
  }

  async function api(method, path, body) {
    const token = $("token").value.trim();
    if (!token) throw new Error("Paste a bearer token first (sheetbrain token --user … --org …).");
    const headers = { Authorization: `Bearer ${token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
    if (response.status === 204) return null;
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const message = (data && data.error && data.error.message) || (data && data.message) || response.statusText;
      const hint = response.status === 401 ? " Mint a new token: they last an hour." : "";
      throw new Error(`${method} ${path}: ${response.status} ${message}${hint}`);
    }
    return data;
  }

  function show(subscription, id) {
    $("endpoint").textContent = subscription ? subscription.endpoint : "none";
    $("subscription").textContent = id || "none";
  }

  async function register() {
    if (!window.isSecureContext) {
      throw new Error("Not a secure context: open this page as http://localhost:PORT/dev/push or http://127.0.0.1:PORT/dev/push.");
    }
    if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
      throw new Error("This browser has no service workers, push or notifications here.");
    }
    registration = await navigator.serviceWorker.register(scriptURLs.createScriptURL(WORKER), { scope: SCOPE });
    await navigator.serviceWorker.ready;
    $("worker").textContent = `registered (scope ${registration.scope})`;
    document.body.dataset.worker = "ready";
    show(await registration.pushManager.getSubscription(), null);
  }

  async function subscribe() {
    if (!registration) throw new Error("The service worker is not registered.");
    const permission = await Notification.requestPermission();
    if (permission !== "granted") throw new Error(`Notifications are ${permission} for this page: allow them in the site settings.`);
    status("Fetching the server's VAPID key…");
    const key = bytesOf((await api("GET", "/api/notifications/vapid-public-key")).public_key);
    let subscription = await registration.pushManager.getSubscription();
    if (subscription && !sameBytes(subscription.options.applicationServerKey, key)) {
      await subscription.unsubscribe(); // made with another server key: it would never receive ours
      subscription = null;
    }
    if (!subscription) {
      status("Subscribing through the browser's push service…");
      // Chromium keeps trying, without an answer, while its push service (FCM) is unreachable.
      let timer = null;
      const silence = new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer in ${SUBSCRIBE_TIMEOUT_S} s (is the push service reachable from this machine?)`)),
          SUBSCRIBE_TIMEOUT_S * 1000,
        );
      });
      try {
        subscription = await Promise.race([
          registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }),
          silence,
        ]);
      } catch (error) {
        throw new Error(`The browser could not subscribe through its push service: ${error.name}: ${error.message}`);
      } finally {
        clearTimeout(timer);
      }
    }
    const stored = await api("POST", "/api/notifications/subscriptions", subscription.toJSON());
    show(subscription, stored.subscription_id);
    status("Subscribed: this browser now receives the organization's threshold notifications.", "ok");
  }

  async function unsubscribe() {
    const subscription = registration && (await registration.pushManager.getSubscription());
    if (!subscription) {
      show(null, null);
      status("This browser has no push subscription.", "ok");
      return;
    }
    // Posting the same endpoint again answers 200 with its id, which the DELETE needs.
    const stored = await api("POST", "/api/notifications/subscriptions", subscription.toJSON());
    await api("DELETE", `/api/notifications/subscriptions/${encodeURIComponent(stored.subscription_id)}`);
    await subscription.unsubscribe();
    show(null, null);
    status("Unsubscribed, here and on the server.", "ok");
  }

  async function tryNotification() {
    if (!registration) throw new Error("The service worker is not registered.");
    const permission = await Notification.requestPermission();
    if (permission !== "granted") throw new Error(`Notifications are ${permission} for this page.`);
    await registration.showNotification("SheetBrain: notifications work here", {
      body: "Shown by this page, without the server or a push service.",
      tag: "sheetbrain-try",
    });
    status("A notification was shown (no server involved).", "ok");
  }

  function received(event) {
    if (!event.data || event.data.kind !== "push") return;
    const item = document.createElement("li");
    item.textContent = `${new Date().toLocaleTimeString()} — ${event.data.shown.title}: ${event.data.shown.body}`;
    $("received").prepend(item);
  }

  async function history() {
    const page = await api("GET", "/api/notifications?limit=20");
    const rows = page.notifications.map((n) => {
      const row = document.createElement("tr");
      const deliveries = n.deliveries.map((d) => `${d.channel} ${d.status}`).join(", ") || "none";
      for (const text of [n.created_at, n.metric, `${n.threshold}%`, `${n.used} / ${n.limit}`, deliveries]) {
        const cell = document.createElement("td");
        cell.textContent = text;
        row.append(cell);
      }
      return row;
    });
    $("notifications").replaceChildren(...rows);
    status(`${rows.length} notification(s) of this organization, newest first.`, "ok");
  }

  function action(run) {
    return () => run().catch((error) => status(error.message, "error"));
  }

  $("subscribe").addEventListener("click", action(subscribe));
  $("unsubscribe").addEventListener("click", action(unsubscribe));
  $("try").addEventListener("click", action(tryNotification));
  $("history").addEventListener("click", action(history));
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.addEventListener("message", received);
    navigator.serviceWorker.startMessages();
  }
  register()
    .then(() => status("Ready: paste a token, then subscribe.", "info"))
    .catch((error) => status(error.message, "error"));
})();
