// GS1 data as a scanner or camera hands it over, parsed in the page the way
// authn.scan.parse_scan does on the server, with the same AI table and
// linters (generated from GS1's Barcode Syntax Dictionary by
// tools/make_offline_vectors.py): Digital Link URIs, bracketed and FNC1
// element strings, AIM symbology identifiers, compressed Digital Links
// (gs1-compression.js). Pure: strings in, a product
// code or a GS1Error out. Every rule mirrors authn/ (ai.py, element_string.py,
// digital_link.py, dl_compression.py, scan.py); the shared offline vectors check that they agree.

import { AI_TABLE } from "./gs1-table.js";
import { GS1Error, LINTERS, checkDigit, fail } from "./gs1-linters.js";
import { decompressAis } from "./gs1-compression.js";

export { GS1Error, checkDigit };

export const GS = "\x1d";
const MAX_SCAN_CHARS = 4096;
const MAX_CODE_CHARS = 2048;
const MAX_AIS = 64;
const GS1_SYMBOLOGIES = ["]C1", "]e0", "]d2", "]Q3", "]J1"];
const GTIN_SYMBOLOGIES = { "]E0": ["EAN-13 / UPC-A / UPC-E", 13], "]E4": ["EAN-8", 8], "]I1": ["ITF-14", 14] };
const TEXT_SYMBOLOGIES = ["]Q1", "]d1", "]J0"];
const COMPOSITE = "|]e0";
const SURROUNDING = " \t\r\n";
// Keys whose DIGSIG (8030) must come with their optional serial component.
const SERIALISED_BY_COMPONENT = ["253", "255", "8003"];

const CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
const CSET39 = "#-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const CSET64 = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
const CHARSETS = { N: "0123456789", X: CSET82, Y: CSET39, Z: CSET64 };
const URI_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%";
const BAD_HOST_CHARS = "_~?#@!$&'()*+,;=%";

const isDigits = (text) => /^[0-9]+$/.test(text);
// A compressed Digital Link's path ends with one long base64url segment.
const COMPRESSED = /^[A-Za-z0-9_-]{8,}$/;
const DL_BASE = /^https?:\/\/[^/?#\s]+(?:\/[^?#\s]*)?$/i;

// Own keys only: a segment such as "constructor" must not find Object's prototype.
function spec(ai) {
  if (!Object.hasOwn(AI_TABLE, ai)) return null;
  const [components, predefined, dlAttribute, dlQualifiers, requires, excludes] = AI_TABLE[ai];
  const max = components.reduce((sum, c) => sum + c[2], 0);
  const min = components.reduce((sum, c) => sum + (c[3] ? 0 : c[1]), 0);
  return { ai, components, predefined, dlAttribute, dlQualifiers, requires, excludes, min, max };
}

function specOrFail(ai) {
  const found = spec(ai);
  if (!found) throw fail(`unknown Application Identifier (${ai})`);
  return found;
}

// AI length by its first two digits: GS1 allocates AIs so that all AIs with
// the same first two digits have the same length (authn.ai_table.ai_at).
const AI_LENGTH_BY_PREFIX = new Map(Object.keys(AI_TABLE).map((ai) => [ai.slice(0, 2), ai.length]));

function checkCharset(charset, part) {
  let body = part;
  if (charset === "Z") {
    body = part.replace(/=+$/, "");
    const pads = part.length - body.length;
    if (pads > 2 || (pads && part.length % 3)) throw fail("bad base64url padding");
  }
  for (const char of body) {
    if (!CHARSETS[charset].includes(char)) throw fail(`character '${char}' is not allowed here`);
  }
}

// authn.ai.validate_value: total length first, then each component takes up to
// its maximum of what is left (an optional one may be absent at the end).
export function validateValue(ai, value) {
  const s = specOrFail(ai);
  if (!value) throw fail(`(${ai}) value is empty`);
  try {
    if (value.length < s.min) throw fail(`value is too short: ${value.length} characters, needs at least ${s.min}`);
    if (value.length > s.max) throw fail(`value is too long: ${value.length} characters, at most ${s.max}`);
    let pos = 0;
    for (const [charset, min, max, optional, linters] of s.components) {
      const part = value.slice(pos, pos + max);
      if (!part && optional) continue;
      if (part.length < min) throw fail(`value has an incorrect length: ${value.length} characters`);
      checkCharset(charset, part);
      for (const linter of linters) {
        if (!Object.hasOwn(LINTERS, linter)) throw fail(`linter ${linter} is not implemented`);
        LINTERS[linter](part);
      }
      pos += part.length;
    }
  } catch (error) {
    throw fail(`(${ai}) ${error.message}`);
  }
}

function matches(pattern, ai) {
  return pattern.length === ai.length && [...pattern].every((c, i) => c === "n" || c === ai[i]);
}

function present(pattern, ais, ignore) {
  return ais.some((ai) => ai !== ignore && matches(pattern, ai));
}

// authn.ai.validate_associations.
export function validateAssociations(pairs) {
  if (pairs.length > MAX_AIS) throw fail(`too many AIs: ${pairs.length}, at most ${MAX_AIS}`);
  const values = new Map();
  for (const [ai, value] of pairs) {
    if (values.has(ai) && values.get(ai) !== value) throw fail(`(${ai}) is given twice with different values`);
    values.set(ai, value);
  }
  const ais = [...values.keys()].sort();
  for (const ai of ais) {
    for (const pattern of specOrFail(ai).excludes) {
      if (present(pattern, ais, ai)) throw fail(`(${ai}) may not appear together with (${pattern})`);
    }
  }
  for (const ai of ais) {
    for (const alternatives of specOrFail(ai).requires) {
      if (!alternatives.some((alt) => alt.every((p) => present(p, ais, ai)))) {
        throw fail(`(${ai}) requires ${alternatives.map((alt) => alt.map((p) => `(${p})`).join("+")).join(" or ")}`);
      }
    }
  }
  if (values.has("8030")) {
    for (const key of SERIALISED_BY_COMPONENT) {
      if (values.has(key) && values.get(key).length === specOrFail(key).min) {
        throw fail(`(${key}) a digital signature (8030) needs this key with its serial component`);
      }
    }
  }
}

function aiAt(text, pos) {
  const length = AI_LENGTH_BY_PREFIX.get(text.slice(pos, pos + 2));
  return length === undefined ? null : spec(text.slice(pos, pos + length));
}

// authn.element_string.parse_element_string: only predefined-length AIs run
// on into the next AI; every other value ends at a GS or at the end.
export function parseElementString(text, checkAssociations = true) {
  let pos = text.startsWith(GS) ? 1 : 0;
  if (pos >= text.length) throw fail("element string is empty");
  const pairs = [];
  while (pos < text.length) {
    const s = aiAt(text, pos);
    if (!s) throw fail(`no known Application Identifier at '${text.slice(pos, pos + 4)}'`);
    const start = pos + s.ai.length;
    const separator = text.indexOf(GS, start);
    const stop = separator < 0 ? text.length : separator;
    let end;
    if (s.predefined) {
      end = start + s.max;
      if (end > stop) throw fail(`(${s.ai}) value is too short: ${stop - start} characters, needs ${s.max}`);
    } else {
      if (stop - start > s.max) throw fail(`(${s.ai}) value is too long: more than ${s.max} characters (is a GS separator missing after it?)`);
      end = stop;
    }
    const value = text.slice(start, end);
    validateValue(s.ai, value);
    pairs.push([s.ai, value]);
    if (pairs.length > MAX_AIS) throw fail(`too many AIs: at most ${MAX_AIS}`);
    pos = text.startsWith(GS, end) ? end + 1 : end;
  }
  if (checkAssociations) validateAssociations(pairs);
  return pairs;
}

function bracketedAi(text, pos) {
  if (text[pos] !== "(") throw fail("expected an AI in brackets such as (01)");
  const close = text.indexOf(")", pos + 1);
  if (close < 0) throw fail("'(' without ')': expected an AI such as (01)");
  const ai = text.slice(pos + 1, close);
  if (!spec(ai)) {
    if (/^[0-9]{2,4}$/.test(ai)) throw fail(`unknown Application Identifier (${ai})`);
    throw fail(`expected an AI such as (01), found (${ai}); write a '(' inside a value as '\\('`);
  }
  if (close + 1 === text.length) throw fail(`(${ai}) the AI has an empty value`);
  return [ai, close + 1];
}

// authn.element_string.parse_bracketed: every '(' starts the next (AI) unless written '\('.
export function parseBracketed(text) {
  if (!text.startsWith("(")) throw fail("a bracketed element string starts with '(' and an AI");
  const pairs = [];
  let pos = 0;
  while (pos < text.length) {
    const [ai, start] = bracketedAi(text, pos);
    pos = text.indexOf("(", start);
    while (pos > 0 && text[pos - 1] === "\\") pos = text.indexOf("(", pos + 1);
    if (pos < 0) pos = text.length;
    const value = text.slice(start, pos).replaceAll("\\(", "(");
    validateValue(ai, value);
    pairs.push([ai, value]);
    if (pairs.length > MAX_AIS) throw fail(`too many AIs: at most ${MAX_AIS}`);
  }
  validateAssociations(pairs);
  return pairs;
}

// A GTIN-8/12/13/14 as its 14-digit form, check digit verified (authn.gs1.normalise_gtin).
function normaliseGtin(text) {
  if (!isDigits(text)) throw fail("(01) GTIN must be digits");
  if (![8, 12, 13, 14].includes(text.length)) throw fail(`(01) GTIN must have 8, 12, 13 or 14 digits, got ${text.length}`);
  if (text[text.length - 1] !== checkDigit(text.slice(0, -1))) throw fail(`(01) GTIN ${text} has a wrong check digit`);
  return text.padStart(14, "0");
}

// Percent-decoding of a Digital Link value (authn.digital_link._decode): in
// the query '+' is a space (HTML form encoding), in the path it stays '+'.
function percentDecode(raw, ai, query) {
  const text = query ? raw.replaceAll("+", " ") : raw;
  return text.replace(/%([0-9A-Fa-f]{2})/g, (_, hex) => {
    const code = parseInt(hex, 16);
    if (code === 0) throw fail(`(${ai}) value holds a NUL character (%00)`);
    if (code > 0x7f) throw fail(`(${ai}) value holds non-ASCII characters`);
    return String.fromCharCode(code);
  });
}

function checkedValue(ai, raw, query, padGtin) {
  if (!raw) throw fail(`(${ai}) the AI has an empty value`);
  let value = percentDecode(raw, ai, query);
  if (ai === "01" && [8, 12, 13].includes(value.length) && isDigits(value)) {
    if (!padGtin) throw fail(`(01) a GTIN in a Digital Link path has 14 digits, not ${value.length} (zero-suppressed GTINs are refused)`);
    value = normaliseGtin(value);
  }
  validateValue(ai, value);
  return value;
}

// Whether key + qualifiers, in this order, is one the dictionary allows (an ordered subsequence).
function validPathSequence(path) {
  const key = spec(path[0]);
  if (!key || key.dlQualifiers === null) return false;
  return key.dlQualifiers.some((sequence) => {
    let at = 0;
    for (const q of path.slice(1)) {
      const found = sequence.indexOf(q, at);
      if (found < 0) return false;
      at = found + 1;
    }
    return true;
  });
}

function qualifierError(path) {
  const [key, ...qualifiers] = path;
  if (qualifiers.some((q, i) => qualifiers.indexOf(q) !== i)) return fail("AI is given twice in the path");
  const sequences = spec(key).dlQualifiers.length ? spec(key).dlQualifiers : [[]];
  const stray = qualifiers.find((q) => !sequences.some((s) => s.includes(q)));
  if (stray !== undefined) return fail(`(${stray}) not a key qualifier of (${key}) in a Digital Link path`);
  if (sequences.some((s) => qualifiers.every((q) => s.includes(q)))) return fail(`key qualifiers out of order after (${key})`);
  return fail(`key qualifiers of different kinds are mixed after (${key})`);
}

// Whether ai, put anywhere after the key, would make a path the dictionary allows.
function isPathQualifier(path, ai) {
  for (let j = 1; j <= path.length; j++) {
    if (validPathSequence([...path.slice(0, j), ai, ...path.slice(j)])) return true;
  }
  return false;
}

function parsePath(path) {
  const segments = path.split("/");
  const triples = [];
  for (let index = segments.length - 2; index >= 1; index -= 2) {
    const code = segments[index];
    const s = spec(code);
    if (!s) {
      if (/^[0-9]{2,4}$/.test(code)) throw fail(`unknown Application Identifier (${code}) in the path`);
      break;
    }
    triples.unshift([code, segments[index + 1]]);
    if (s.dlQualifiers !== null) return triples;
  }
  throw fail("no GS1 primary key (such as /01/<GTIN>) at the end of the path");
}

// Python's urllib.parse.quote(text, safe=""): all but RFC 3986 unreserved
// characters percent-encoded (decompressed values are ASCII: one byte each).
function quote(text) {
  return text.replace(/[^A-Za-z0-9_.~-]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0"));
}

// authn.digital_link.format_digital_link without the association checks: the
// key and as many of its qualifiers as one sequence takes in the path, every
// other AI a query attribute sorted by AI, then the other parameters.
function formatDigitalLink(ais, base, otherParams) {
  if (!DL_BASE.test(base)) throw fail("base must be an http(s) URL without query or fragment");
  if (!ais.length) throw fail("no AIs to write");
  for (const [ai, value] of ais) validateValue(ai, value);
  const values = new Map(ais);
  const key = ais.map(([ai]) => ai).find((ai) => specOrFail(ai).dlQualifiers !== null);
  if (key === undefined) throw fail("a Digital Link needs a primary key such as (01) GTIN or (00) SSCC among the AIs");
  const sequences = spec(key).dlQualifiers.length ? spec(key).dlQualifiers : [[]];
  const count = (sequence) => sequence.filter((q) => values.has(q)).length;
  const best = sequences.reduce((top, sequence) => (count(sequence) > count(top) ? sequence : top));
  const path = [key, ...best.filter((q) => values.has(q))];
  const params = [];
  for (const ai of [...values.keys()].filter((ai) => !path.includes(ai)).sort()) {
    if (!spec(ai).dlAttribute) throw fail(`(${ai}) cannot be written in a Digital Link with primary key (${key}): neither a key qualifier nor a query attribute`);
    params.push(`${ai}=${quote(values.get(ai))}`);
  }
  for (const [name, value] of otherParams) params.push(`${quote(name)}=${quote(value)}`);
  const uri = base.replace(/\/+$/, "") + path.map((ai) => `/${ai}/${quote(values.get(ai))}`).join("");
  return uri + (params.length ? "?" + params.join("&") : "");
}

// authn.digital_link._decompressed: the uncompressed URI a compressed one
// (https://host/<compressed>, or partly, https://host/01/<GTIN>/<compressed>)
// stands for; null if the path does not end with what looks like compressed data.
function decompressed(uri, match, first) {
  const pathStart = match[1].length + 3 + match[2].length;
  const segments = match[3].split("/");
  const last = segments[segments.length - 1];
  if (segments.length < 2 || !COMPRESSED.test(last) || isDigits(last)) return null;
  let ais, other;
  try {
    [ais, other] = decompressAis(last);
  } catch (error) {
    if (!(error instanceof GS1Error)) throw error;
    throw fail(`${first.message}, and the last segment is no compressed Digital Link: ${error.message}`);
  }
  let prefix = segments.slice(0, -1);
  const key = prefix.length >= 3 ? spec(prefix[prefix.length - 2]) : null;
  let expanded;
  try {
    if (key && key.dlQualifiers !== null) {
      if (ais.some(([ai]) => ai === key.ai)) throw fail(`(${key.ai}) AI is given twice`);
      ais.unshift([key.ai, percentDecode(prefix[prefix.length - 1], key.ai, false)]);
      prefix = prefix.slice(0, -2);
    }
    expanded = formatDigitalLink(ais, uri.slice(0, pathStart) + prefix.join("/"), other);
  } catch (error) {
    if (!(error instanceof GS1Error)) throw error;
    throw fail(`compressed Digital Link: ${error.message}`);
  }
  if (match[4]) expanded += (expanded.includes("?") ? "&" : "?") + match[4];
  return expanded;
}

// authn.digital_link.parse_digital_link: a compressed link must decompress to
// a valid uncompressed one, checked exactly as that one would be.
export function parseDigitalLink(uri, permitCompressed = true) {
  const match = /^([A-Za-z]+):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?/.exec(uri);
  if (!match || !["http", "https"].includes(match[1].toLowerCase())) throw fail("a Digital Link URI starts with https:// or http://");
  for (const char of uri) {
    if (!URI_CHARS.includes(char)) throw fail(`character '${char}' is not allowed in a URI`);
  }
  if (/%(?![0-9A-Fa-f]{2})/.test(uri)) throw fail("'%' must be followed by two hex digits");
  if (!match[2]) throw fail("the URI has no host");
  for (const char of match[2]) {
    if (BAD_HOST_CHARS.includes(char)) throw fail(`character '${char}' is not allowed in a host`);
  }
  let pathTriples;
  try {
    pathTriples = parsePath(match[3]);
  } catch (error) {
    const expanded = error instanceof GS1Error && permitCompressed ? decompressed(uri, match, error) : null;
    if (expanded === null) throw error;
    try {
      return parseDigitalLink(expanded, false);
    } catch (inner) {
      if (!(inner instanceof GS1Error)) throw inner;
      throw fail(`compressed Digital Link: ${inner.message}`);
    }
  }
  const path = pathTriples.map(([ai]) => ai);
  if (!validPathSequence(path)) throw qualifierError(path);
  const queryTriples = [];
  for (const param of (match[4] ?? "").split("&")) {
    const eq = param.indexOf("=");
    const key = eq < 0 ? param : param.slice(0, eq);
    if (!isDigits(key)) continue; // a non-AI parameter such as linkType (also a percent-encoded key)
    const s = spec(key);
    if (!s) throw fail(`unknown Application Identifier (${key}) in the query`);
    if (!s.dlAttribute) throw fail(`(${key}) is not allowed as a Digital Link query attribute`);
    const raw = eq < 0 ? "" : param.slice(eq + 1);
    if (!raw) throw fail(`(${key}) query attribute has no value`);
    queryTriples.push([key, raw]);
  }
  const ais = [];
  const seen = new Map();
  [...pathTriples, ...queryTriples].forEach(([ai, raw], number) => {
    const inQuery = number >= pathTriples.length;
    const value = checkedValue(ai, raw, inQuery, inQuery);
    if (seen.has(ai)) throw fail(`(${ai}) AI is given ${seen.get(ai) !== value ? "with another value" : "twice"}`);
    if (inQuery && isPathQualifier(path, ai)) {
      throw fail(`(${ai}) a key qualifier of (${path[0]}) belongs in the path, not in the query`);
    }
    seen.set(ai, value);
    ais.push([ai, value]);
  });
  if (ais.length > MAX_AIS) throw fail(`too many AIs: ${ais.length}, at most ${MAX_AIS}`);
  validateAssociations(ais);
  return ais;
}

function detect(data) {
  if (/^https?:\/\//i.test(data.slice(0, 8))) return parseDigitalLink(data);
  if (data.startsWith("(")) return parseBracketed(data);
  if (/^[0-9]/.test(data) || data[0] === GS) return parseElementString(data);
  throw fail("not GS1 data: expected a Digital Link URI (https://...), a bracketed element string ((01)...) or an element string");
}

// EAN/UPC, EAN-8 and ITF-14 carry a GTIN as digits, EAN/UPC perhaps with a composite component.
function parseGtin(data, symbology) {
  const [name, length] = GTIN_SYMBOLOGIES[symbology];
  const digits = data.slice(0, length), composite = data.slice(length);
  if (digits.length < length || !isDigits(digits)) throw fail(`${name} data is ${length} digits`);
  if (composite && (symbology === "]I1" || !composite.startsWith(COMPOSITE))) throw fail(`${name} data is ${length} digits, then nothing`);
  const gtin = normaliseGtin(digits);
  // The composite's AIs are checked together with the GTIN, as authn.scan does.
  const rest = composite ? parseElementString(composite.slice(COMPOSITE.length), false) : [];
  const ais = [["01", gtin], ...rest];
  validateAssociations(ais);
  return ais;
}

function strip(text) {
  let start = 0, end = text.length;
  while (start < end && SURROUNDING.includes(text[start])) start++;
  while (end > start && SURROUNDING.includes(text[end - 1])) end--;
  return text.slice(start, end);
}

// authn.scan.parse_scan: the symbology identifier, if any, says what follows.
export function parseScan(text) {
  if (text.length > MAX_SCAN_CHARS) throw fail(`a scan is at most ${MAX_SCAN_CHARS} characters`);
  let body = strip(text);
  if (!body) throw fail("the scan is empty");
  for (const char of body) {
    if (!((char >= " " && char <= "~") || char === GS)) {
      throw fail(`character U+${char.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")} is not allowed in scanner data`);
    }
  }
  let symbology = null;
  if (body.startsWith("]")) {
    symbology = body.slice(0, 3);
    const known = GS1_SYMBOLOGIES.includes(symbology) || Object.hasOwn(GTIN_SYMBOLOGIES, symbology)
      || TEXT_SYMBOLOGIES.includes(symbology);
    if (!known) throw fail(`symbology identifier '${symbology}' does not carry GS1 data`);
    body = body.slice(3);
    if (!body) throw fail(`no data after the symbology identifier ${symbology}`);
  }
  if (GS1_SYMBOLOGIES.includes(symbology)) return parseElementString(body);
  if (symbology !== null && Object.hasOwn(GTIN_SYMBOLOGIES, symbology)) return parseGtin(body, symbology);
  return detect(body);
}

// The product code (authn.code.ProductCode): GTIN-14 + serial, optional lot,
// expiry and signature, every other AI kept sorted for the signed bytes.
export function parseCode(text) {
  if (text.length > MAX_CODE_CHARS) throw fail(`a scanned code is at most ${MAX_CODE_CHARS} characters`);
  const values = new Map();
  for (const [ai, value] of parseScan(text)) {
    if (values.has(ai) && values.get(ai) !== value) throw fail(`(${ai}) appears twice with different values`);
    values.set(ai, value);
  }
  if (!values.has("01")) throw fail("a product code needs a GTIN (AI 01)");
  if (!values.has("21")) throw fail("a product code needs a serial number (AI 21)");
  const ais = [...values.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  validateAssociations(ais);
  return {
    gtin: values.get("01"),
    serial: values.get("21"),
    lot: values.get("10") ?? null,
    expiry: values.get("17") ?? null,
    signature: values.get("8030") ?? null,
    ais,
  };
}

export function canonicalElementString(code) {
  return code.ais.filter(([ai]) => ai !== "8030").map(([ai, value]) => ai + value + GS).join("");
}
