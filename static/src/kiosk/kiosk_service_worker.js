/** @odoo-module ignore */
/* eslint-env serviceworker */

/**
 * The room tablet's service worker (scope /spa/kiosk: the page and what is
 * under it): what the kiosk page loads (the page, its assets) comes from the
 * network when the server answers, and from this cache when it does not (no
 * network, or a proxy answering 5xx while the server is away), so the page
 * opens and runs offline. The page is the same for every room and holds no
 * secret: the room's token stays on the device (see kiosk.js). Only GET
 * requests are cached: the day's plan and the session are kept by the page
 * itself (IndexedDB), and nothing the tablet sends goes through a cache.
 */
const CACHE = "spa-kiosk-v2";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) =>
  event.waitUntil(
    (async () => {
      // Earlier caches kept pages whose address held a room's token.
      for (const name of await caches.keys()) {
        if (name.startsWith("spa-kiosk-") && name !== CACHE) {
          await caches.delete(name);
        }
      }
      await self.clients.claim();
    })()
  )
);

function cacheable(request) {
  return (
    request.method === "GET" && new URL(request.url).origin === self.location.origin
  );
}

async function keep(cache, request, response) {
  try {
    await cache.put(request, response);
  } catch {
    // Not every response can be kept (a partial one, Vary: *): served anyway.
  }
}

function cached(cache, request) {
  // The kiosk's own pages and assets: one entry per address.
  return cache.match(request, {ignoreVary: true});
}

async function fromNetwork(request) {
  const cache = await caches.open(CACHE);
  let response;
  try {
    response = await fetch(request);
  } catch {
    return (await cached(cache, request)) || Response.error();
  }
  if (response.ok) {
    await keep(cache, request, response.clone());
  } else if (response.status === 404 || response.status === 403) {
    await cache.delete(request, {ignoreVary: true});
  } else if (response.status >= 500) {
    return (await cached(cache, request)) || response;
  }
  return response;
}

self.addEventListener("fetch", (event) => {
  if (cacheable(event.request)) {
    event.respondWith(fromNetwork(event.request));
  }
});

/** The page asks to keep what it loaded before the worker controlled it. */
self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type !== "spa-kiosk-cache" || !Array.isArray(data.urls)) {
    return;
  }
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      for (const url of data.urls) {
        try {
          const request = new Request(url, {credentials: "same-origin"});
          if (!cacheable(request)) {
            continue;
          }
          const response = await fetch(request);
          if (response.ok) {
            await keep(cache, request, response);
          }
        } catch {
          // Kept for the next time the page loads.
        }
      }
      if (event.source) {
        event.source.postMessage({type: "spa-kiosk-cached"});
      }
    })()
  );
});
