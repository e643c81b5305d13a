/** @odoo-module ignore */
/* eslint-env serviceworker */

/**
 * The room tablet's service worker (scope /spa/kiosk/): the kiosk page and
 * its assets come from the network when there is one, and from this cache
 * when there is none, so the page opens and runs offline. A kiosk address the
 * server refuses (a new token was made) is dropped from the cache at once.
 */
const CACHE = "spa-kiosk-v1";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

function cacheable(url) {
    return (
        url.origin === self.location.origin &&
        (url.pathname.startsWith("/spa/kiosk/") ||
            url.pathname.startsWith("/web/assets/") ||
            url.pathname.startsWith("/web/static/") ||
            url.pathname.startsWith("/spa_session_protocol/static/"))
    );
}

self.addEventListener("fetch", (event) => {
    const request = event.request;
    if (request.method !== "GET") {
        return;
    }
    const url = new URL(request.url);
    if (!cacheable(url)) {
        return;
    }
    event.respondWith(
        fetch(request)
            .then(async (response) => {
                const cache = await caches.open(CACHE);
                if (response.ok) {
                    await cache.put(request, response.clone());
                } else if (response.status === 404 || response.status === 403) {
                    await cache.delete(request);
                }
                return response;
            })
            .catch(async () => {
                const cached = await caches.match(request);
                return cached || Response.error();
            })
    );
});
