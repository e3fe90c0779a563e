// GS1 data as a scanner or camera hands it over, parsed in the page the way
// authn.scan.parse_scan does on the server (same AI table, generated from
// authn/ai_table.py): Digital Link URIs, bracketed and FNC1 element strings,
// AIM symbology identifiers. Pure: strings in, a product code or a GS1Error out.

import { AI_TABLE } from "./gs1-table.js";

export const GS = "\x1d";
const MAX_SCAN_CHARS = 4096;
const MAX_CODE_CHARS = 2048;
const GS1_SYMBOLOGIES = ["]C1", "]e0", "]d2", "]Q3"];
const TEXT_SYMBOLOGIES = ["]Q1", "]d1"];
const SURROUNDING = " \t\r\n";

const CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
const CSET39 = "#-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const CSET64 = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
const CHARSETS = { N: "0123456789", X: CSET82, Y: CSET39, Z: CSET64 };
const URI_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%";

export class GS1Error extends Error {}

const fail = (message) => new GS1Error(message);
const isDigits = (text) => /^[0-9]+$/.test(text);

function spec(ai) {
  const entry = AI_TABLE[ai];
  if (!entry) return null;
  const [components, predefined, dlAttribute, dlQualifiers, requires, excludes] = entry;
  const max = components.reduce((sum, c) => sum + c[2], 0);
  const min = components.reduce((sum, c) => sum + (c[3] ? 0 : c[1]), 0);
  return { ai, components, predefined, dlAttribute, dlQualifiers, requires, excludes, min, max,
    fixed: min === max };
}

function specOrFail(ai) {
  const found = spec(ai);
  if (!found) throw fail(`unknown Application Identifier (${ai})`);
  return found;
}

export function checkDigit(digits) {
  let total = 0;
  for (let i = 0; i < digits.length; i++) {
    total += Number(digits[digits.length - 1 - i]) * (i % 2 === 0 ? 3 : 1);
  }
  return String((10 - (total % 10)) % 10);
}

function checkYymmdd(part, zeroDay) {
  const month = Number(part.slice(2, 4));
  const day = Number(part.slice(4, 6));
  if (month < 1 || month > 12) throw fail(`month ${part.slice(2, 4)} is not 01-12`);
  if (day === 0) {
    if (!zeroDay) throw fail("day 00 is not allowed here");
    return;
  }
  const longest = month === 2 ? 29 : new Date(Date.UTC(2001, month, 0)).getUTCDate();
  if (day > longest) throw fail(`day ${part.slice(4, 6)} does not exist in month ${part.slice(2, 4)}`);
}

const LINTERS = {
  csum: (part) => {
    if (part[part.length - 1] !== checkDigit(part.slice(0, -1))) throw fail("wrong check digit");
  },
  yymmdd: (part) => checkYymmdd(part, false),
  yymmd0: (part) => checkYymmdd(part, true),
  hhmi: (part) => {
    if (!/^(?:[01]\d|2[0-3])[0-5]\d$/.test(part)) throw fail(`time ${part} is not HHMI`);
  },
  zero: (part) => { if (part !== "0") throw fail("digit must be 0"); },
  pieceoftotal: (part) => {
    const piece = Number(part.slice(0, 2)), total = Number(part.slice(2));
    if (piece === 0 || total === 0 || piece > total) throw fail("not a valid piece number");
  },
  nozeroprefix: (part) => { if (part.length > 1 && part[0] === "0") throw fail("must not start with 0"); },
  importeridx: (part) => { if (!CSET64.includes(part)) throw fail("bad importer index"); },
};

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

export function validateValue(ai, value) {
  const s = specOrFail(ai);
  if (!value) throw fail(`(${ai}) value is empty`);
  let pos = 0;
  try {
    for (const [charset, min, max, optional, linters] of s.components) {
      if (pos === value.length && optional) break;
      let part;
      if (min === max) {
        part = value.slice(pos, pos + max);
        if (part.length < max) throw fail("value is too short");
      } else {
        part = value.slice(pos);
        if (!part) throw fail("value is empty");
        if (part.length > max) throw fail("value is too long");
      }
      checkCharset(charset, part);
      for (const linter of linters) LINTERS[linter](part);
      pos += part.length;
    }
    if (pos < value.length) throw fail("value is too long");
  } catch (error) {
    throw fail(`(${ai}) ${error.message}`);
  }
}

function matches(pattern, ai) {
  return pattern.length === ai.length && [...pattern].every((c, i) => c === "n" ? /\d/.test(ai[i]) : c === ai[i]);
}

export function validateAssociations(pairs) {
  const values = new Map();
  for (const [ai, value] of pairs) {
    if (values.has(ai) && values.get(ai) !== value) throw fail(`(${ai}) is given twice with different values`);
    values.set(ai, value);
  }
  const present = [...values.keys()].sort();
  for (const ai of present) {
    const s = specOrFail(ai);
    for (const pattern of s.excludes) {
      if (present.some((other) => other !== ai && matches(pattern, other))) {
        throw fail(`(${ai}) may not appear together with (${pattern})`);
      }
    }
    for (const alternatives of s.requires) {
      const ok = alternatives.some((alt) => alt.every((p) => present.some((other) => matches(p, other))));
      if (!ok) throw fail(`(${ai}) requires another AI`);
    }
  }
}

function aiAt(text, pos) {
  for (const length of [2, 3, 4]) {
    const found = spec(text.slice(pos, pos + length));
    if (found) return found;
  }
  return null;
}

export function parseElementString(text) {
  let pos = text.startsWith(GS) ? 1 : 0;
  if (pos >= text.length) throw fail("element string is empty");
  const pairs = [];
  while (pos < text.length) {
    const s = aiAt(text, pos);
    if (!s) throw fail(`no known Application Identifier at '${text.slice(pos, pos + 4)}'`);
    const start = pos + s.ai.length;
    let end;
    if (s.fixed) {
      end = start + s.max;
      const value = text.slice(start, end);
      if (value.length < s.max || value.includes(GS)) throw fail(`(${s.ai}) value is too short`);
    } else {
      const separator = text.indexOf(GS, start);
      end = separator < 0 ? text.length : separator;
    }
    const value = text.slice(start, end);
    validateValue(s.ai, value);
    pairs.push([s.ai, value]);
    pos = text.startsWith(GS, end) ? end + 1 : end;
  }
  validateAssociations(pairs);
  return pairs;
}

const BRACKETED_AI = /\((\d{2,4})\)/y;

function startsElement(text, pos) {
  BRACKETED_AI.lastIndex = pos;
  const match = BRACKETED_AI.exec(text);
  return match !== null && match[1] in AI_TABLE;
}

export function parseBracketed(text) {
  const pairs = [];
  let pos = 0;
  while (pos < text.length) {
    BRACKETED_AI.lastIndex = pos;
    const match = BRACKETED_AI.exec(text);
    if (!match) throw fail("expected an AI in brackets such as (01)");
    const ai = match[1];
    specOrFail(ai);
    pos += match[0].length;
    let value = "";
    while (pos < text.length && !startsElement(text, pos)) {
      if (text.startsWith("\\(", pos)) { value += "("; pos += 2; } else { value += text[pos]; pos += 1; }
    }
    validateValue(ai, value);
    pairs.push([ai, value]);
  }
  validateAssociations(pairs);
  return pairs;
}

function percentDecode(raw, ai) {
  let bytes;
  try {
    bytes = decodeURIComponent(raw);
  } catch {
    throw fail(`(${ai}) value is not valid percent-encoding`);
  }
  if (!/^[\x00-\x7f]*$/.test(bytes)) throw fail(`(${ai}) value holds non-ASCII characters`);
  return bytes;
}

function normaliseGtin(value) {
  return value.padStart(14, "0");
}

function checkQualifiers(key, qualifiers) {
  if (qualifiers.some((q, i) => qualifiers.indexOf(q) !== i)) throw fail("AI is given twice in the path");
  const sequences = key.dlQualifiers || [[]];
  for (const sequence of sequences) {
    if (qualifiers.every((q) => sequence.includes(q))) {
      const order = qualifiers.map((q) => sequence.indexOf(q));
      if (order.every((v, i) => i === 0 || order[i - 1] <= v)) return;
      throw fail(`key qualifiers out of order after (${key.ai})`);
    }
  }
  throw fail(`not a key qualifier of (${key.ai}) in a Digital Link path`);
}

export function parseDigitalLink(uri) {
  for (const char of uri) {
    if (!URI_CHARS.includes(char)) throw fail(`character '${char}' is not allowed in a URI`);
  }
  if (/%(?![0-9A-Fa-f]{2})/.test(uri)) throw fail("'%' must be followed by two hex digits");
  const match = /^([A-Za-z]+):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?/.exec(uri);
  if (!match || !["http", "https"].includes(match[1].toLowerCase())) throw fail("a Digital Link URI starts with https://");
  if (!match[2]) throw fail("the URI has no host");
  let path = match[3];
  if (path.endsWith("/")) path = path.slice(0, -1);
  const segments = path.split("/");
  const triples = [];
  let index = segments.length - 2;
  let key = null;
  while (index >= 1) {
    const code = segments[index];
    const s = spec(code);
    if (!s) {
      if (/^[0-9]{2,4}$/.test(code)) throw fail(`unknown Application Identifier (${code}) in the path`);
      break;
    }
    triples.unshift([code, segments[index + 1]]);
    if (s.dlQualifiers !== null) { key = s; break; }
    index -= 2;
  }
  if (!key) throw fail("no GS1 primary key (such as /01/<GTIN>) at the end of the path");
  const ais = [];
  const seen = new Map();
  const add = (ai, raw) => {
    let value = percentDecode(raw, ai);
    if (ai === "01" && [8, 12, 13].includes(value.length) && isDigits(value)) {
      if (value[value.length - 1] !== checkDigit(value.slice(0, -1))) throw fail("(01) wrong check digit");
      value = normaliseGtin(value);
    }
    validateValue(ai, value);
    if (seen.has(ai)) throw fail(`(${ai}) is given twice`);
    seen.set(ai, value);
    ais.push([ai, value]);
  };
  for (const [ai, raw] of triples) add(ai, raw);
  checkQualifiers(key, triples.slice(1).map(([ai]) => ai));
  if (match[4]) {
    for (const param of match[4].split("&")) {
      const eq = param.indexOf("=");
      const keyRaw = eq < 0 ? param : param.slice(0, eq);
      const raw = eq < 0 ? "" : param.slice(eq + 1);
      let name;
      try { name = decodeURIComponent(keyRaw); } catch { name = keyRaw; }
      if (isDigits(name)) {
        const s = spec(name);
        if (!s) throw fail(`unknown Application Identifier (${name}) in the query`);
        if (!s.dlAttribute) throw fail(`(${name}) is not allowed as a Digital Link query attribute`);
        if (!raw) throw fail(`(${name}) query attribute has no value`);
        add(name, raw);
      }
    }
  }
  validateAssociations(ais);
  return ais;
}

function detect(data) {
  if (/^https?:\/\//i.test(data.slice(0, 8))) return parseDigitalLink(data);
  if (data.startsWith("(")) return parseBracketed(data);
  if (/^[0-9]/.test(data) || data[0] === GS) return parseElementString(data);
  throw fail("not GS1 data: expected a Digital Link URI (https://...), a bracketed element string ((01)...) or an element string");
}

function strip(text) {
  let start = 0, end = text.length;
  while (start < end && SURROUNDING.includes(text[start])) start++;
  while (end > start && SURROUNDING.includes(text[end - 1])) end--;
  return text.slice(start, end);
}

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
    if (!GS1_SYMBOLOGIES.includes(symbology) && !TEXT_SYMBOLOGIES.includes(symbology)) {
      throw fail(`symbology identifier '${symbology}' does not carry GS1 data`);
    }
    body = body.slice(3);
    if (!body) throw fail(`no data after the symbology identifier ${symbology}`);
  }
  return GS1_SYMBOLOGIES.includes(symbology) ? parseElementString(body) : detect(body);
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
