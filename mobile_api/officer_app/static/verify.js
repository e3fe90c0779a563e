// The officer's offline verifier, in the page: the same rules as
// mobile_api.offline.verify_offline (tests/vectors/offline-vectors.json is run
// by both). Ed25519 and SHA-256 come from WebCrypto; no network, no clock: the
// bundle, the pinned keys and `now` are arguments. docs/mobile.md has the format.

import { GS1Error, canonicalElementString, parseCode } from "./gs1.js";

const enc = new TextEncoder();
const BUNDLE_TAG = "sealtrace/offline-bundle/v1";
const TRUST_LIST_TAG = "sealtrace/trust-list/v1";
const CERTIFICATE_TAG = "sealtrace/line-certificate/v1";
const ROTATION_TAG = "sealtrace/root-rotation/v1";
const CODE_TAG = "sealtrace/code/v1\x00";
const KEY_ID_TAG = "sealtrace/key-id/v1\x00";
const BLOOM_TAG = "sealtrace/decommissioned/v1\x00";
const MASK64 = (1n << 64n) - 1n;
const DAY_MS = 86400000;
const LATEST_DAY_END_MS = 36 * 3600 * 1000; // an expiry day is over everywhere on Earth

export class TrustError extends Error {}

export const MESSAGES = {
  TRUST_OK: "The code is signed by a certified line key of its brand.",
  SIGNATURE_MISSING: "The code carries no signature.",
  SIGNATURE_MALFORMED: "The code's signature field is not a well-formed signature.",
  KEY_UNKNOWN: "The code was signed with a key that is not in the trust list.",
  SIGNATURE_INVALID: "The signature does not match the code's data.",
  CERTIFICATE_INVALID: "The signing key is not properly certified by a registered brand.",
  GTIN_OUTSIDE_KEY_PREFIXES: "The signing key is not allowed to sign this product's GTIN.",
  OUTSIDE_SIGNING_WINDOW: "The code was first seen outside its key's signing window.",
  KEY_REVOKED: "The signing key has been revoked as compromised.",
  TRUST_LIST_STALE: "The trust list has expired, so the code cannot be confirmed.",
};

// --- bytes ---------------------------------------------------------------------------------

export function b64urlDecode(text) {
  if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text)) throw new TrustError("not base64url");
  return b64Decode(text.replace(/-/g, "+").replace(/_/g, "/"));
}

export function b64Decode(text) {
  const binary = atob(text + "=".repeat((4 - (text.length % 4)) % 4));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

export function b64Encode(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

const b64url = (bytes) => b64Encode(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

function concat(...parts) {
  const arrays = parts.map((p) => (typeof p === "string" ? enc.encode(p) : p));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) { out.set(a, at); at += a.length; }
  return out;
}

const sha256 = async (bytes) => new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
const sameBytes = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);

// --- canonical JSON and envelopes (keys.canonical) ------------------------------------------

export function canonicalJson(value) {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new TrustError("canonical JSON carries integers only");
    return String(value);
  }
  if (Array.isArray(value)) return "[" + value.map(canonicalJson).join(",") + "]";
  const keys = Object.keys(value).sort();
  return "{" + keys.map((k) => JSON.stringify(k) + ":" + canonicalJson(value[k])).join(",") + "}";
}

const keyCache = new Map();

async function importKey(raw) {
  const id = b64url(raw);
  if (!keyCache.has(id)) {
    keyCache.set(id, crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]));
  }
  return keyCache.get(id);
}

async function ed25519Verify(raw, signature, message) {
  try {
    return await crypto.subtle.verify("Ed25519", await importKey(raw), signature, message);
  } catch {
    return false;
  }
}

export async function keyIdBytes(raw) {
  return (await sha256(concat(KEY_ID_TAG, raw))).slice(0, 3);
}

export async function keyId(raw) {
  return b64url(await keyIdBytes(raw));
}

function envelopeParts(envelope, what) {
  if (!envelope || typeof envelope !== "object" || !envelope.signed || !Array.isArray(envelope.signatures)) {
    throw new TrustError(`${what} is not a signed envelope`);
  }
  return [envelope.signed, envelope.signatures];
}

async function signedBy(signed, signatures, tag, raw) {
  const message = concat(tag, new Uint8Array([0]), canonicalJson(signed));
  const kid = await keyId(raw);
  for (const { keyid, sig } of signatures) {
    if (keyid !== kid) continue;
    let bytes;
    try { bytes = b64urlDecode(sig); } catch { continue; }
    if (bytes.length === 64 && (await ed25519Verify(raw, bytes, message))) return true;
  }
  return false;
}

// --- the trust list (keys.trust) ------------------------------------------------------------

const parseTime = (text) => {
  if (typeof text !== "string" || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(text)) {
    throw new TrustError(`not an RFC 3339 UTC time: ${text}`);
  }
  return Date.parse(text);
};
const withinPrefixes = (gtin14, prefixes) => prefixes.some((p) => gtin14.slice(1).startsWith(p));

async function openTrustList(text, registryKey) {
  const [signed, signatures] = envelopeParts(JSON.parse(text), "trust list");
  if (!(await signedBy(signed, signatures, TRUST_LIST_TAG, registryKey))) {
    throw new TrustError("the trust list is not signed by the registry key");
  }
  if (signed.type !== "sealtrace/trust-list" || signed.spec_version !== 1) throw new TrustError("not a sealtrace trust list");
  const brands = [];
  for (const b of signed.brands) {
    let current = b64urlDecode(b.registered_root);
    for (const envelope of b.rotations) {
      const [rot, sigs] = envelopeParts(envelope, "root rotation");
      const oldKey = b64urlDecode(rot.old_key), newKey = b64urlDecode(rot.new_key);
      const valid = rot.brand === b.id && sameBytes(oldKey, current)
        && (await signedBy(rot, sigs, ROTATION_TAG, oldKey)) && (await signedBy(rot, sigs, ROTATION_TAG, newKey));
      if (!valid) throw new TrustError(`brand ${b.id}: broken root rotation chain`);
      current = newKey;
    }
    const root = b64urlDecode(b.root_key);
    if (!sameBytes(current, root)) throw new TrustError(`brand ${b.id}: root is not the end of its chain`);
    brands.push({ id: b.id, name: b.name, contact: b.contact, prefixes: b.prefixes, root });
  }
  const lineKeys = [];
  for (const envelope of signed.line_keys) {
    const [cert, sigs] = envelopeParts(envelope, "line certificate");
    const raw = b64urlDecode(cert.public_key);
    if (cert.kid !== (await keyId(raw))) throw new TrustError("a line certificate's kid does not match its key");
    const brand = brands.find((b) => b.id === cert.brand);
    const valid = brand !== undefined && (await signedBy(cert, sigs, CERTIFICATE_TAG, brand.root))
      && cert.prefixes.every((p) => brand.prefixes.some((w) => p.startsWith(w)));
    lineKeys.push({
      brand: cert.brand, kid: cert.kid, raw, prefixes: cert.prefixes, valid,
      notBefore: parseTime(cert.not_before), notAfter: parseTime(cert.not_after),
    });
  }
  const revocations = signed.revocations.map((r) => ({
    raw: b64urlDecode(r.public_key), since: parseTime(r.compromised_since),
  }));
  return { version: signed.version, expiresAt: parseTime(signed.expires_at), brands, lineKeys, revocations };
}

function splitSignature(digsig) {
  if (digsig.length !== 90 || !/^[A-Za-z0-9_-]+$/.test(digsig)) return null;
  const raw = b64urlDecode(digsig);
  if (raw.length !== 67 || b64url(raw) !== digsig) return null;
  return [raw.slice(0, 3), raw.slice(3)];
}

async function signatureCheck(trust, code) {
  if (code.signature === null) return { reason: "SIGNATURE_MISSING" };
  const parts = splitSignature(code.signature);
  if (parts === null) return { reason: "SIGNATURE_MALFORMED" };
  const [kid, signature] = parts;
  const kidText = b64url(kid);
  const message = concat(CODE_TAG, kid, canonicalElementString(code));
  const candidates = trust.lineKeys.filter((c) => c.kid === kidText);
  for (const cert of candidates) {
    if (await ed25519Verify(cert.raw, signature, message)) return { reason: "VALID", cert };
  }
  return { reason: candidates.length ? "SIGNATURE_INVALID" : "KEY_UNKNOWN" };
}

// The trust decision with online=false: what a trust list alone can say.
async function evaluate(trust, code, now) {
  const gtinBrand = trust.brands.find((b) => withinPrefixes(code.gtin, b.prefixes)) || null;
  const decide = (outcome, reason, brand) => ({ outcome, reason, brand });
  const check = await signatureCheck(trust, code);
  if (check.reason === "SIGNATURE_MISSING") {
    return decide(gtinBrand ? "counterfeit" : "cannot_confirm", check.reason, gtinBrand);
  }
  if (check.reason === "SIGNATURE_MALFORMED" || check.reason === "SIGNATURE_INVALID") {
    return decide("counterfeit", check.reason, gtinBrand);
  }
  if (check.reason === "KEY_UNKNOWN") return decide("cannot_confirm", check.reason, gtinBrand);
  const cert = check.cert;
  const brand = trust.brands.find((b) => b.id === cert.brand) || gtinBrand;
  if (!cert.valid) return decide("counterfeit", "CERTIFICATE_INVALID", brand);
  if (!withinPrefixes(code.gtin, cert.prefixes)) return decide("counterfeit", "GTIN_OUTSIDE_KEY_PREFIXES", brand);
  if (now < cert.notBefore) return decide("cannot_confirm", "OUTSIDE_SIGNING_WINDOW", brand);
  if (trust.revocations.some((r) => sameBytes(r.raw, cert.raw))) return decide("cannot_confirm", "KEY_REVOKED", brand);
  if (now > trust.expiresAt) return decide("cannot_confirm", "TRUST_LIST_STALE", brand);
  return decide("genuine", "TRUST_OK", brand);
}

// --- the bundle (mobile_api.bundle) ---------------------------------------------------------

function filterId(f) {
  const salt = b64Encode(f.salt).replace(/\+/g, "-").replace(/\//g, "_");
  return `bloom-v1:${f.capacity}:${f.fpPerMillion}:${f.mBits}:${f.k}:${salt}`;
}

function bloomOf(json) {
  if (!json || json.kind !== "bloom-v1") throw new TrustError("the bundle's filter is not a bloom-v1 filter");
  const bits = b64Decode(json.bits);
  if (json.m_bits % 8 || bits.length !== json.m_bits / 8 || json.k < 1 || json.k > 64) {
    throw new TrustError("the bundle's filter has inconsistent sizes");
  }
  return { capacity: json.capacity, fpPerMillion: json.fp_per_million, mBits: json.m_bits, k: json.k,
    salt: b64Decode(json.salt), bits, count: json.count };
}

function probes(f, key) {
  const view = new DataView(key.buffer, key.byteOffset, 16);
  const h1 = view.getBigUint64(0, true);
  const h2 = view.getBigUint64(8, true) | 1n;
  const m = BigInt(f.mBits);
  const out = [];
  for (let i = 0n; i < BigInt(f.k); i++) out.push(Number(((h1 + i * h2) & MASK64) % m));
  return out;
}

export async function codeKey(salt, gtin, serial) {
  return (await sha256(concat(BLOOM_TAG, salt, `${gtin}\x1d${serial}`))).slice(0, 16);
}

async function mightContain(f, gtin, serial) {
  return probes(f, await codeKey(f.salt, gtin, serial)).every((p) => f.bits[p >> 3] & (1 << (p & 7)));
}

function addKeys(f, keys) {
  for (let at = 0; at < keys.length; at += 16) {
    for (const p of probes(f, keys.slice(at, at + 16))) f.bits[p >> 3] |= 1 << (p & 7);
    f.count += 1;
  }
}

const flagKey = (gtin, serial) => `${gtin}\x1d${serial}`;

async function openSigned(text, keys) {
  const [signed, signatures] = envelopeParts(JSON.parse(text), "offline bundle");
  if (!(await signedBy(signed, signatures, BUNDLE_TAG, keys.bundleKey))) {
    throw new TrustError("the offline bundle is not signed by the pinned bundle key");
  }
  if (signed.type !== "sealtrace/offline-bundle" || signed.spec_version !== 1) {
    throw new TrustError("not a version 1 sealtrace offline bundle");
  }
  return [signed, await openTrustList(signed.trust_list, keys.registryKey)];
}

// GTIN -> {brand_id, productName, availableStrength?, netContent?} (mobile_api.bundle).
const productsOf = (list) => new Map((list || []).map((p) => [p.gtin, p]));

const lotsOf = (signed) => new Set(signed.recalled_lots.map(([gtin, lot]) => `${gtin}\x1d${lot}`));

// keys: {registryKey, bundleKey} as raw 32-byte Uint8Arrays, pinned at sign-in.
export async function openBundle(text, keys) {
  const [signed, trust] = await openSigned(text, keys);
  if (signed.kind !== "full") throw new TrustError("this is a delta; apply it to a full bundle");
  const flagged = new Map((signed.flagged || []).map((f) => [flagKey(f.gtin, f.serial), f]));
  return { version: signed.version, generatedAt: parseTime(signed.generated_at),
    expiresAt: parseTime(signed.expires_at), trust, recalledLots: lotsOf(signed),
    decommissioned: bloomOf(signed.decommissioned), flagged, products: productsOf(signed.products) };
}

// The bundle after a delta, or the server's full bundle when it sent one instead.
export async function applyDelta(bundle, text, keys) {
  const [signed, trust] = await openSigned(text, keys);
  if (signed.kind === "full") return openBundle(text, keys);
  if (signed.base_version !== bundle.version) throw new TrustError(`this delta applies to ${signed.base_version}, not ${bundle.version}`);
  if (signed.filter_id !== filterId(bundle.decommissioned)) throw new TrustError("this delta is for another filter");
  if (trust.version < bundle.trust.version) throw new TrustError("the delta's trust list is older than the one held");
  const added = b64Decode(signed.added);
  if (added.length % 16) throw new TrustError("the delta's added keys are malformed");
  const filter = { ...bundle.decommissioned, bits: new Uint8Array(bundle.decommissioned.bits) };
  addKeys(filter, added);
  const flagged = new Map(bundle.flagged);
  for (const f of signed.flagged_removed || []) flagged.delete(flagKey(f.gtin, f.serial));
  for (const f of signed.flagged_added || []) flagged.set(flagKey(f.gtin, f.serial), f);
  const products = new Map(bundle.products);
  for (const gtin of signed.products_removed || []) products.delete(gtin);
  for (const [gtin, p] of productsOf(signed.products_changed)) products.set(gtin, p);
  return { version: signed.version, generatedAt: parseTime(signed.generated_at),
    expiresAt: parseTime(signed.expires_at), trust, recalledLots: lotsOf(signed),
    decommissioned: filter, flagged, products };
}

// --- the verdict (mobile_api.offline.verify_offline) ----------------------------------------

function yymmddYear(yy, today) {
  let century = Math.floor(today.getUTCFullYear() / 100);
  const diff = yy - (today.getUTCFullYear() % 100);
  if (diff >= 51 && diff <= 99) century -= 1;
  else if (diff >= -99 && diff <= -50) century += 1;
  return century * 100 + yy;
}

// The last valid day of an AI (17) value read at `now` (GS1 century rule; DD=00 and a
// 29 February of a year without one both mean the month's last day), as a UTC date.
export function expiryDate(expiry, now) {
  const year = yymmddYear(Number(expiry.slice(0, 2)), new Date(now));
  const month = Number(expiry.slice(2, 4));
  const last = new Date(Date.UTC(year, month, 0)).getUTCDate();
  let day = Number(expiry.slice(4, 6));
  if (day === 0 || day > last) day = last;
  return Date.UTC(year, month - 1, day);
}

// As mobile_api.offline.product_of: the product only for a code the trust list vouches for,
// of the brand it was stored for, so a forgery never borrows a real product's name.
function productOf(bundle, code, decision) {
  const product = bundle.products.get(code.gtin);
  if (!product || decision.outcome !== "genuine" || !decision.brand || product.brand_id !== decision.brand.id) return null;
  return [product.productName, product.availableStrength, product.netContent].filter(Boolean).join(" · ");
}

const isoDate = (ms) => new Date(ms).toISOString().slice(0, 10);

export async function verifyOffline(bundle, text, now) {
  let code;
  try {
    code = parseCode(text);
  } catch (error) {
    if (error instanceof GS1Error) return { verdict: "invalid", reasons: [{ code: "NOT_A_CODE", message: error.message }], code: null, brand: null, product: null };
    throw error;
  }
  const decision = await evaluate(bundle.trust, code, now);
  const findings = [];
  if (decision.outcome === "genuine") {
    const flag = bundle.flagged.get(flagKey(code.gtin, code.serial));
    if (flag) {
      // As mobile_api.offline._flagged: one finding, first, with the reasons and whom to tell.
      const why = flag.reasons.length ? flag.reasons.join(", ") : "clone findings";
      findings.push({ code: "CODE_FLAGGED", severity: "suspect",
        message: `Reported cloned since ${flag.since} (${why}): hold the goods and contact the right holder.` });
    }
    if (await mightContain(bundle.decommissioned, code.gtin, code.serial)) {
      const rate = bundle.decommissioned.fpPerMillion / 10000;
      findings.push({ code: "SCANNED_AFTER_DECOMMISSION", severity: "suspect",
        message: `The brand marked this unit as taken out of circulation (sold, destroyed, exported ...); offline filter, false alarms about ${rate} % of the time.` });
    }
    if (code.lot !== null && bundle.recalledLots.has(`${code.gtin}\x1d${code.lot}`)) {
      findings.push({ code: "LOT_RECALLED", severity: "info", message: `Lot ${code.lot} of this product has been recalled by the brand.` });
    }
    if (code.expiry !== null) {
      const last = expiryDate(code.expiry, now);
      if (now >= last + LATEST_DAY_END_MS) {
        findings.push({ code: "CODE_EXPIRED", severity: "info", message: `The product expired on ${isoDate(last)}.` });
      }
    }
  }
  const trustReason = { code: decision.reason, message: MESSAGES[decision.reason] };
  let verdict, reasons;
  if (decision.outcome !== "genuine") {
    verdict = decision.outcome === "counterfeit" ? "counterfeit" : "unverifiable";
    reasons = [trustReason];
  } else {
    const suspicious = findings.filter((f) => f.severity === "suspect");
    const safety = findings.filter((f) => f.code === "LOT_RECALLED" || f.code === "CODE_EXPIRED");
    verdict = suspicious.length ? "suspect" : "authentic";
    reasons = suspicious.length ? suspicious : safety.length ? safety : [trustReason];
  }
  if (verdict === "authentic" && now > bundle.expiresAt) {
    verdict = "unverifiable";
    reasons = [{ code: "BUNDLE_STALE", message: `The offline bundle expired at ${new Date(bundle.expiresAt).toISOString()}; sync the handheld before relying on this answer.` }, ...reasons];
  }
  const brand = decision.brand;
  return {
    verdict,
    reasons: reasons.map(({ code: c, message }) => ({ code: c, message })),
    code: { gtin: code.gtin, serial: code.serial, lot: code.lot, expiry: code.expiry },
    brand: brand ? brand.name : null,
    product: productOf(bundle, code, decision),
    contact: brand ? brand.contact : null,
    bundleVersion: bundle.version,
    bundleGeneratedAt: bundle.generatedAt,
  };
}

export { DAY_MS };
