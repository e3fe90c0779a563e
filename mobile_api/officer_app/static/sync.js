// Uploading what was recorded offline. Scans go to POST /v1/scans:batch (idempotent
// per scan_id on the server), inspections to POST /officer/api/inspections:batch
// (one per scan, idempotent). An item is marked synced only when the server
// acknowledged it (status 200 in its result); a 4xx result other than 408/429 is a
// final refusal, kept and shown, never retried; anything else stays queued and is
// retried on the next sync. One sync runs at a time.

import * as db from "./db.js";

const BATCH = 200;
const RETRYABLE = new Set([408, 429]);
let running = null;

const isFinal = (status) => status >= 400 && status < 500 && !RETRYABLE.has(status);

async function post(token, path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  if (response.status === 401) throw Object.assign(new Error("signed out"), { status: 401 });
  if (!response.ok) throw Object.assign(new Error(`upload refused: ${response.status}`), { status: response.status });
  return response.json();
}

function scanItem(scan) {
  const item = { scan_id: scan.scan_id, code: scan.text, scanned_at: scan.scanned_at, device_id: scan.device_id };
  if (scan.location) item.location = scan.location;
  return item;
}

async function syncScans(token, changes) {
  const queued = (await db.all("scans")).filter((s) => s.state === "queued")
    .sort((a, b) => (a.scanned_at < b.scanned_at ? -1 : 1));
  for (let start = 0; start < queued.length; start += BATCH) {
    const chunk = queued.slice(start, start + BATCH);
    const answer = await post(token, "/v1/scans:batch", { scans: chunk.map(scanItem) });
    for (const result of answer.results) {
      const scan = chunk[result.index];
      if (result.status === 200) {
        scan.state = "synced";
        scan.online = { verdict: result.answer.verdict, reasons: result.answer.reasons, status: result.answer.status,
          product: productLabel(result.answer.product) };
        scan.differs = scan.offline.verdict !== result.answer.verdict;
        scan.synced_at = new Date().toISOString();
        changes.push(scan);
      } else if (isFinal(result.status)) {
        scan.state = "refused";
        scan.error = result.error ? result.error.detail : `status ${result.status}`;
        changes.push(scan);
      } else {
        scan.attempts = (scan.attempts || 0) + 1;
      }
      await db.put("scans", scan);
    }
  }
}

async function syncInspections(token) {
  const scans = new Map((await db.all("scans")).map((s) => [s.scan_id, s]));
  const queued = (await db.all("inspections"))
    .filter((i) => i.state === "queued" && scans.get(i.scan_id)?.state === "synced");
  for (let start = 0; start < queued.length; start += BATCH) {
    const chunk = queued.slice(start, start + BATCH);
    const body = chunk.map(({ scan_id, outcome, quantity, notes, inspected_at }) =>
      ({ scan_id, outcome, quantity, notes, inspected_at }));
    const answer = await post(token, "/officer/api/inspections:batch", { inspections: body });
    for (const result of answer.results) {
      const inspection = chunk[result.index];
      if (result.status === 200) {
        inspection.state = "synced";
        inspection.server_id = result.inspection.id;
        inspection.seizure_url = result.inspection.seizure_url;
      } else if (isFinal(result.status)) {
        inspection.state = "refused";
        inspection.error = result.error ? result.error.detail : `status ${result.status}`;
      }
      await db.put("inspections", inspection);
    }
  }
}

// Upload everything queued; resolves to the scans whose state changed (for notices).
export function syncAll(token) {
  if (!running) {
    running = (async () => {
      const changes = [];
      try {
        await syncScans(token, changes);
        await syncInspections(token);
      } finally {
        running = null;
      }
      return changes;
    })();
  }
  return running;
}

// The brand's product data as one line (name, strength, pack size); null when it gave none.
function productLabel(product) {
  if (!product || !product.productName) return null;
  return [product.productName, product.availableStrength, product.netContent].filter(Boolean).join(" · ");
}
