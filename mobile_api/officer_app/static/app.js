// The officer app: sign-in, the bundle kept in IndexedDB, offline verification,
// the record of every scan and inspection, and their upload when the network is back.
// Every value from a code, the bundle or the server is written with textContent.

import * as db from "./db.js";
import { decode, decoderName, fromKeyboard, scanCamera } from "./scan.js";
import { syncAll } from "./sync.js";
import { applyDelta, b64urlDecode, openBundle, verifyOffline } from "./verify.js";

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 30000;
const MAX_DELTAS = 20;
const TITLES = {
  authentic: "Genuine",
  suspect: "Suspect: check further",
  counterfeit: "Counterfeit",
  unverifiable: "Cannot confirm offline",
  recalled: "Genuine, but recalled: do not release for sale",
  expired: "Genuine, but expired: do not release for sale",
  invalid: "Not a product code",
};

const state = { auth: null, keys: null, bundle: null, deviceId: null, current: null, seq: 0, refreshing: null };

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

function ago(ms) {
  const minutes = Math.round((Date.now() - ms) / 60000);
  if (minutes < 1) return "just now";
  if (minutes < 90) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h ago` : `${Math.round(hours / 24)} days ago`;
}

function pinned() {
  return { registryKey: b64urlDecode(state.keys.registry_key), bundleKey: b64urlDecode(state.keys.bundle_key) };
}

function showNetwork() {
  const online = navigator.onLine;
  $("network").textContent = online ? "Online" : "Offline";
  $("network").className = "status-line " + (online ? "online" : "offline");
}

function showBundle() {
  const b = state.bundle;
  if (!b) {
    $("bundle-status").textContent = "No bundle on this device yet: connect to a network to download it.";
    return;
  }
  const stale = Date.now() > b.expiresAt;
  $("bundle-status").textContent = `Bundle ${b.version}, made ${ago(b.generatedAt)}, `
    + (stale ? "EXPIRED: sync before relying on offline answers" : `valid until ${new Date(b.expiresAt).toLocaleString()}`);
  $("bundle-status").dataset.version = b.version;
  $("bundle-status").className = "status-line" + (stale ? " error" : "");
}

async function loadHeldBundle() {
  const held = await db.get("kv", "bundle");
  if (!held) return;
  try {
    let bundle = await openBundle(held.full, pinned());
    for (const delta of held.deltas) bundle = await applyDelta(bundle, delta, pinned());
    state.bundle = bundle;
  } catch (error) {
    state.bundle = null;
    notice(`The stored bundle could not be verified (${error.message}); it will be downloaded again.`);
    await db.del("kv", "bundle");
  }
}

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}), Authorization: `Bearer ${state.auth.token}` };
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) {
    notice("The service no longer accepts this device's sign-in: sign in again (your records are kept).");
    throw new Error("unauthenticated");
  }
  return response;
}

async function refreshBundle() {
  if (!navigator.onLine || !state.auth) return;
  if (state.refreshing) return state.refreshing;
  state.refreshing = (async () => {
    // No If-None-Match: an unchanged bundle is re-signed with a later expiry under the
    // same ETag, and only a fresh delta brings that expiry. Many deltas: start afresh.
    const held = (await db.get("kv", "bundle")) || null;
    const delta = state.bundle && held && held.deltas.length < MAX_DELTAS;
    const since = delta ? `?since=${encodeURIComponent(state.bundle.version)}` : "";
    const response = await api("/v1/offline-bundle" + since);
    if (!response.ok) throw new Error(`bundle download refused: ${response.status}`);
    const text = await response.text();
    if (delta && response.headers.get("X-Bundle-Kind") === "delta") {
      // Verified before it is kept: a delta that does not apply is never stored.
      const next = await applyDelta(state.bundle, text, pinned());
      held.deltas.push(text);
      await db.put("kv", held, "bundle");
      state.bundle = next;
    } else {
      state.bundle = await openBundle(text, pinned());
      await db.put("kv", { full: text, deltas: [] }, "bundle");
    }
  })();
  try {
    await state.refreshing;
  } catch (error) {
    if (error.message !== "unauthenticated") notice(`Could not refresh the bundle: ${error.message}`);
  } finally {
    state.refreshing = null;
    showBundle();
  }
}

function notice(text, attrs = {}) {
  const box = el("p", text, { class: "notice", ...attrs });
  $("notices").prepend(box);
}

async function sync() {
  if (!navigator.onLine || !state.auth) return;
  try {
    const changed = await syncAll(state.auth.token);
    for (const scan of changed) {
      if (scan.state === "synced" && scan.differs) {
        notice(`The service's verdict on ${scan.gtin} / ${scan.serial} differs from the offline one: `
          + `${scan.offline.verdict} offline, ${scan.online.verdict} online `
          + `(${scan.online.reasons.map((r) => r.message).join(" ")})`, { "data-differs": scan.scan_id });
      } else if (scan.state === "refused") {
        notice(`The service refused the scan of ${scan.text.slice(0, 60)}: ${scan.error}`);
      }
    }
  } catch (error) {
    if (error.status === 401) notice("Sign in again to upload your scans; they are kept on this device.");
  }
  await showScans();
}

async function showScans() {
  const scans = (await db.all("scans")).sort((a, b) => (a.scanned_at < b.scanned_at ? 1 : -1));
  const inspections = new Map((await db.all("inspections")).map((i) => [i.scan_id, i]));
  const body = $("scans");
  body.replaceChildren();
  for (const scan of scans) {
    const row = el("tr", null, { "data-scan-id": scan.scan_id, "data-state": scan.state });
    const inspection = inspections.get(scan.scan_id);
    row.append(
      el("td", new Date(scan.scanned_at).toLocaleString()),
      el("td", `${scan.gtin} / ${scan.serial}`),
      el("td", scan.offline.verdict, { class: "offline-verdict" }),
      el("td", scan.online ? scan.online.verdict + (scan.differs ? " (differs)" : "") : "–", { class: "online-verdict" }),
      el("td", scan.state + (inspection ? `; inspection ${inspection.outcome} ${inspection.state}` : "")),
    );
    body.append(row);
  }
  const waiting = scans.filter((s) => s.state === "queued").length
    + [...inspections.values()].filter((i) => i.state === "queued").length;
  $("queue-status").textContent = waiting ? `${waiting} record(s) waiting to upload` : "Everything is uploaded.";
  $("queue-status").dataset.waiting = String(waiting);
  if (state.current) showCurrentSync(scans.find((s) => s.scan_id === state.current), inspections.get(state.current));
}

function showCurrentSync(scan, inspection) {
  if (!scan) return;
  const line = scan.state === "synced"
    ? `Uploaded. Online verdict: ${scan.online.verdict}` + (scan.differs ? ` (offline it was ${scan.offline.verdict})` : "")
      + `. Product: ${scan.online.product || `GTIN ${scan.gtin}`}.`
    : scan.state === "refused" ? `Refused by the service: ${scan.error}` : "Recorded on this device; it uploads when the network is back.";
  $("result-sync").textContent = line;
  $("result-sync").dataset.online = scan.online ? scan.online.verdict : "";
  $("inspection-status").textContent = inspection ? `Inspection: ${inspection.outcome} (${inspection.state})` : "";
}

function bannerOf(result) {
  if (result.verdict !== "authentic") return result.verdict;
  const codes = result.reasons.map((r) => r.code);
  if (codes.includes("LOT_RECALLED")) return "recalled";
  if (codes.includes("CODE_EXPIRED")) return "expired";
  return "authentic";
}

function showResult(result, scanId) {
  state.seq += 1;
  state.current = scanId;
  const banner = bannerOf(result);
  $("result").classList.remove("hidden");
  $("result").dataset.seq = String(state.seq);
  const box = $("verdict");
  box.className = `verdict-${banner}`;
  box.dataset.verdict = result.verdict;
  box.dataset.banner = banner;
  $("verdict-title").textContent = TITLES[banner];
  $("reasons").replaceChildren(...result.reasons.map((r) => el("li", r.message, { "data-code": r.code })));
  const facts = $("facts");
  facts.replaceChildren();
  if (result.code) {
    for (const [name, value] of [["Product", result.product], ["GTIN", result.code.gtin], ["Serial", result.code.serial], ["Lot", result.code.lot],
      ["Expiry (YYMMDD)", result.code.expiry], ["Brand", result.brand]]) {
      if (value) facts.append(el("dt", name), el("dd", value));
    }
    facts.append(el("dt", "Bundle"), el("dd", `${result.bundleVersion}, made ${ago(result.bundleGeneratedAt)}`));
  }
  const contact = $("contact");
  contact.replaceChildren();
  if (result.contact && Object.keys(result.contact).length) {
    contact.append(el("strong", `Right holder: ${result.brand}. `));
    if (result.contact.email) contact.append(el("a", result.contact.email, { href: `mailto:${result.contact.email}` }), " ");
    if (result.contact.phone) contact.append(el("a", result.contact.phone, { href: `tel:${result.contact.phone.replace(/\s/g, "")}` }), " ");
    if (result.contact.url && /^https:\/\//.test(result.contact.url)) {
      contact.append(el("a", result.contact.url, { href: result.contact.url, rel: "noreferrer" }));
    }
  }
  $("inspection-form").classList.toggle("hidden", !scanId);
  $("result-sync").textContent = scanId ? "Recorded on this device." : "";
  $("inspection-status").textContent = "";
}

async function place() {
  if (!$("use-location").checked || !navigator.geolocation) return null;
  return new Promise((resolve) => {
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ lat: p.coords.latitude, lon: p.coords.longitude, accuracy_m: Math.round(p.coords.accuracy) }),
      () => resolve(null), { timeout: 5000, maximumAge: 60000 });
  });
}

async function verifyAndRecord(raw) {
  const text = fromKeyboard(raw);
  if (!text.trim()) return;
  if (!state.bundle) {
    showResult({ verdict: "unverifiable", reasons: [{ code: "NO_BUNDLE", message: "No bundle on this device yet: connect to a network once." }], code: null }, null);
    return;
  }
  const result = await verifyOffline(state.bundle, text, Date.now());
  let scanId = null;
  if (result.verdict !== "invalid") {
    scanId = crypto.randomUUID();
    await db.put("scans", {
      scan_id: scanId, text, scanned_at: new Date().toISOString(), device_id: state.deviceId,
      location: await place(), gtin: result.code.gtin, serial: result.code.serial,
      offline: { verdict: result.verdict, reasons: result.reasons }, state: "queued",
    });
  }
  showResult(result, scanId);
  await showScans();
  sync();
}

async function onPhoto() {
  const file = $("photo").files[0];
  if (!file) return;
  $("decoder-status").textContent = "Reading the photo…";
  try {
    const texts = await decode(file);
    if (!texts.length) {
      $("decoder-status").textContent = "No QR or DataMatrix code found in the photo; try again closer, or type the code.";
      return;
    }
    $("decoder-status").textContent = `Read: ${texts[0].replace(/\x1d/g, "<GS>").slice(0, 120)}`;
    await verifyAndRecord(texts[0]);
  } catch (error) {
    $("decoder-status").textContent = error.message;
  } finally {
    $("photo").value = "";
  }
}

let stopCamera = null;

async function onCamera() {
  if (stopCamera) { stopCamera(); stopCamera = null; $("video").classList.add("hidden"); return; }
  try {
    $("video").classList.remove("hidden");
    stopCamera = await scanCamera($("video"), (text) => {
      stopCamera = null;
      $("video").classList.add("hidden");
      verifyAndRecord(text);
    });
  } catch (error) {
    $("video").classList.add("hidden");
    $("decoder-status").textContent = `Camera unavailable: ${error.message}`;
  }
}

async function onInspection(event) {
  event.preventDefault();
  if (!state.current) return;
  const quantity = $("quantity").value ? Number($("quantity").value) : null;
  const existing = await db.get("inspections", state.current);
  if (existing && existing.state !== "queued") {
    $("inspection-status").textContent = "This scan's inspection is already uploaded; record changes in the console.";
    return;
  }
  await db.put("inspections", {
    scan_id: state.current, outcome: new FormData($("inspection-form")).get("outcome"),
    quantity, notes: $("notes").value || null, inspected_at: new Date().toISOString(), state: "queued",
  });
  $("notes").value = "";
  await showScans();
  sync();
}

async function signedIn(auth, keys) {
  state.auth = auth;
  state.keys = keys;
  await db.put("kv", auth, "auth");
  await db.put("kv", keys, "keys");
  await start();
}

async function onSignIn(event) {
  event.preventDefault();
  $("signin-error").textContent = "";
  try {
    const response = await fetch("/officer/api/sign-in", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: $("signin-name").value, password: $("signin-password").value }),
    });
    const body = await response.json();
    if (!response.ok) throw new Error(body.detail || `sign-in refused (${response.status})`);
    $("signin-password").value = "";
    await signedIn({ token: body.token, name: body.name, role: body.role },
      { registry_key: body.registry_key, bundle_key: body.bundle_key });
  } catch (error) {
    $("signin-error").textContent = navigator.onLine ? error.message : "Signing in needs a network.";
  }
}

async function onToken(event) {
  event.preventDefault();
  const token = $("signin-token").value.trim();
  try {
    const response = await fetch("/officer/api/keys", { headers: { Authorization: `Bearer ${token}` } });
    if (!response.ok) throw new Error(`this token is not an officer's (${response.status})`);
    $("signin-token").value = "";
    await signedIn({ token, name: "API token " + token.slice(0, 12), role: "officer" }, await response.json());
  } catch (error) {
    $("signin-error").textContent = error.message;
  }
}

async function onSignOut() {
  const waiting = (await db.all("scans")).filter((s) => s.state === "queued").length;
  if (waiting) {
    notice(`${waiting} scan(s) are not uploaded yet: connect and sync before signing out.`);
    return;
  }
  try { await api("/officer/api/sign-out", { method: "POST" }); } catch { /* revoked or offline: forget it here anyway */ }
  await db.del("kv", "auth");
  location.reload();
}

async function start() {
  $("signin").hidden = true;
  $("app").hidden = false;
  $("account").textContent = state.auth.name;
  $("device").textContent = state.deviceId;
  await loadHeldBundle();
  showBundle();
  await showScans();
  const decoder = await decoderName();
  $("decoder-status").textContent = decoder
    ? `Camera and photos are read with ${decoder}.`
    : "This device has no barcode decoder: type or paste the code, or use a hardware scanner.";
  $("decoder-status").dataset.decoder = decoder || "none";
  await refreshBundle();
  await sync();
}

async function main() {
  showNetwork();
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/officer/sw.js", { scope: "/officer/" }).catch(() => {});
  }
  state.deviceId = await db.get("kv", "device_id");
  if (!state.deviceId) {
    state.deviceId = "officer-app:" + crypto.randomUUID();
    await db.put("kv", state.deviceId, "device_id");
  }
  $("use-location").checked = (await db.get("kv", "use_location")) === true;
  $("use-location").addEventListener("change", () => db.put("kv", $("use-location").checked, "use_location"));
  $("signin-form").addEventListener("submit", onSignIn);
  $("token-form").addEventListener("submit", onToken);
  $("code-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("code").value;
    $("code").value = "";
    verifyAndRecord(text);
  });
  // A keyboard-wedge scanner sends FNC1 as Ctrl+] (GS): keep it in the field.
  $("code").addEventListener("keydown", (event) => {
    if (event.ctrlKey && (event.key === "]" || event.code === "BracketRight")) {
      event.preventDefault();
      const input = $("code");
      input.setRangeText("\x1d", input.selectionStart, input.selectionEnd, "end");
    }
  });
  $("photo").addEventListener("change", onPhoto);
  $("camera").addEventListener("click", onCamera);
  $("inspection-form").addEventListener("submit", onInspection);
  $("sync-now").addEventListener("click", async () => { await refreshBundle(); await sync(); });
  $("sign-out").addEventListener("click", onSignOut);
  window.addEventListener("online", async () => { showNetwork(); await refreshBundle(); await sync(); });
  window.addEventListener("offline", showNetwork);
  setInterval(async () => { if (state.auth) { await refreshBundle(); await sync(); } }, REFRESH_MS);
  state.auth = await db.get("kv", "auth");
  state.keys = await db.get("kv", "keys");
  if (state.auth && state.keys) await start();
  else $("signin").hidden = false;
  document.body.dataset.ready = "true";
}

main();
