// The officer app's service worker: keeps the app shell (pages, scripts, table,
// decoder) in the Cache API so the app opens and verifies with no network.
// Pages and scripts are fetched network-first (an update shows at once when
// online) and answered from the cache when the network is down. API calls
// (/v1, /officer/api) are never cached: the app keeps its data in IndexedDB.

const CACHE = "sealtrace-officer-v1";
const SHELL = [
  "/officer/", "/officer/help", "/officer/manifest.webmanifest",
  "/officer/static/app.css", "/officer/static/app.js", "/officer/static/db.js",
  "/officer/static/gs1.js", "/officer/static/gs1-compression.js", "/officer/static/gs1-linters.js", "/officer/static/gs1-table.js", "/officer/static/verify.js",
  "/officer/static/scan.js", "/officer/static/sync.js",
  "/officer/static/icon.svg", "/officer/static/icon-192.png", "/officer/static/icon-512.png",
];
// Present only where the build step could fetch the decoder from npm.
const OPTIONAL = [
  "/officer/static/vendor/zxing/reader/index.js", "/officer/static/vendor/zxing/share.js",
  "/officer/static/vendor/zxing/zxing_reader.wasm",
];

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(SHELL);
    for (const url of OPTIONAL) {
      try {
        const response = await fetch(url);
        if (response.ok) await cache.put(url, response);
      } catch { /* no decoder vendored: BarcodeDetector and typed input still work */ }
    }
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (!url.pathname.startsWith("/officer") || url.pathname.startsWith("/officer/api/")) return;
  const key = url.pathname === "/officer" ? "/officer/" : url.pathname;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const response = await fetch(event.request);
      if (response.ok) await cache.put(key, response.clone());
      return response;
    } catch (error) {
      const cached = await cache.match(key);
      if (cached) return cached;
      throw error;
    }
  })());
});
