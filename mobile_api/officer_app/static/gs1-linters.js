// Every linter GS1's Barcode Syntax Dictionary names, as authn/linters.py has
// them: each takes one component of an AI value (character set and length
// already checked) and throws a GS1Error when it breaks the rule. The code
// lists (ISO 3166, 4217, 5218) come from the generated table, so page and
// server check against the same lists.

import { CODE_LISTS } from "./gs1-table.js";

export class GS1Error extends Error {}

export const fail = (message) => new GS1Error(message);

const CSET82_ORDERED = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
const CSET32_ORDERED = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
const CSET64 = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
const HEX = "0123456789ABCDEFabcdef";
const PACKAGE_TYPE_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
// AIDC media types 01-10 and 80-99 (authn/linters.py _MEDIA_TYPES).
const MEDIA_TYPES = new Set([...Array(10).keys()].map((n) => n + 1).concat([...Array(20).keys()].map((n) => n + 80))
  .map((n) => String(n).padStart(2, "0")));
// Prime weights of the alphanumeric check pair, from the right.
const PRIMES = [];
for (let n = 2; n < 510; n++) {
  let prime = true;
  for (let d = 2; d <= Math.floor(Math.sqrt(n)); d++) if (n % d === 0) { prime = false; break; }
  if (prime) PRIMES.push(n);
}

const isDigits = (text) => /^[0-9]+$/.test(text);

export function checkDigit(digits) {
  let total = 0;
  for (let i = 0; i < digits.length; i++) {
    total += Number(digits[digits.length - 1 - i]) * (i % 2 === 0 ? 3 : 1);
  }
  return String((10 - (total % 10)) % 10);
}

function digits(part) {
  for (const char of part) if (char < "0" || char > "9") throw fail(`character '${char}' is not a digit`);
}

function csum(part) {
  const expected = part.length > 1 ? checkDigit(part.slice(0, -1)) : "0";
  if (part[part.length - 1] !== expected) throw fail(`wrong check digit ${part[part.length - 1]} (expected ${expected})`);
}

function csumalpha(part) {
  if (part.length < 2) throw fail("too short for a check character pair");
  const data = part.slice(0, -2);
  for (const char of data) if (!CSET82_ORDERED.includes(char)) throw fail(`character '${char}' is not allowed here (GS1 CSET 82)`);
  for (const char of part.slice(-2)) if (!CSET32_ORDERED.includes(char)) throw fail(`check character '${char}' is not in GS1 CSET 32`);
  let total = 0;
  for (let i = 0; i < data.length; i++) total += CSET82_ORDERED.indexOf(data[i]) * PRIMES[data.length - 1 - i];
  total %= 1021;
  const expected = CSET32_ORDERED[total >> 5] + CSET32_ORDERED[total & 31];
  if (part.slice(-2) !== expected) throw fail(`wrong check character pair ${part.slice(-2)} (expected ${expected})`);
}

function gcp(part, start) {
  if (part.length - start < 4) throw fail("too short to hold a GS1 Company Prefix");
  if (!isDigits(part.slice(start, start + 4))) throw fail("a GS1 Company Prefix is digits");
}

const isLeap = (year) => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;

function monthDay(part, yearIsLeap, zeroDay, offset) {
  const mm = part.slice(offset, offset + 2), dd = part.slice(offset + 2, offset + 4);
  const month = Number(mm), day = Number(dd);
  if (month < 1 || month > 12) throw fail(`month ${mm} is not 01-12`);
  if (day === 0) {
    if (zeroDay) return;
    throw fail("day 00 is not allowed here");
  }
  const longest = month === 2 && yearIsLeap ? 29 : new Date(Date.UTC(2001, month, 0)).getUTCDate();
  if (day > longest) throw fail(`day ${dd} does not exist in month ${mm}`);
}

function yymmddWith(part, zeroDay) {
  if (part.length !== 6) throw fail(`date must be YYMMDD (6 digits), got '${part}'`);
  digits(part);
  // As GS1's linter: the century is not in the data, so YY divisible by 4 is a leap year.
  monthDay(part, Number(part.slice(0, 2)) % 4 === 0, zeroDay, 2);
}

const yymmdd = (part) => yymmddWith(part, false);

function yyyymmdd(part) {
  if (part.length !== 8) throw fail(`date must be YYYYMMDD (8 digits), got '${part}'`);
  digits(part);
  monthDay(part, isLeap(Number(part.slice(0, 4))), false, 4);
}

function upto(limit, what) {
  return (part) => {
    digits(part);
    if (Number(part) > limit) throw fail(`${what} ${part} is out of range`);
  };
}

function iban(part) {
  if (part.length < 4) throw fail("too short for an IBAN");
  if (!CODE_LISTS.iso3166alpha2.includes(part.slice(0, 2))) throw fail(`IBAN country '${part.slice(0, 2)}' is not an ISO 3166 alpha-2 code`);
  if (part.length > 34) throw fail("too long for an IBAN");
  if (part.length <= 10) throw fail("too short for an IBAN");
  let total = 0;
  for (const char of part.slice(4) + part.slice(0, 4)) {
    if (!((char >= "0" && char <= "9") || (char >= "A" && char <= "Z"))) throw fail(`character '${char}' is not allowed in an IBAN`);
    const value = parseInt(char, 36);
    total = (total * (value >= 10 ? 100 : 10) + value) % 97;
  }
  if (total !== 1) throw fail("wrong IBAN check digits");
}

function pieceoftotal(part) {
  const half = Math.floor(part.length / 2);
  const piece = Number(part.slice(0, half)), total = Number(part.slice(half));
  if (piece === 0 || total === 0 || piece > total) throw fail(`piece ${part.slice(0, half)} of total ${part.slice(half)} is not a valid piece number`);
}

function posinseqslash(part) {
  const slash = part.indexOf("/");
  const pos = slash < 0 ? part : part.slice(0, slash);
  const end = slash < 0 ? "" : part.slice(slash + 1);
  if (!(isDigits(pos) && slash >= 0 && isDigits(end))) throw fail("must be <position>/<end>, both numbers");
  if (pos[0] === "0") throw fail("position must not be zero or start with 0");
  if (end[0] === "0") throw fail("end must not be zero or start with 0");
  if (Number(pos) > Number(end)) throw fail(`position ${pos} is after the end ${end}`);
}

function pcenc(part) {
  for (let i = 0; i < part.length; i++) {
    if (part[i] === "%" && !(part.length >= i + 3 && HEX.includes(part[i + 1]) && HEX.includes(part[i + 2]))) {
      throw fail("'%' must be followed by two hex digits");
    }
  }
}

// Reads the variable-length fields of a North American coupon code (AIs 8110, 8112).
class CouponReader {
  constructor(text) { this.text = text; this.pos = 0; }
  next(what) {
    if (this.pos >= this.text.length) throw fail(`coupon data ends before its ${what}`);
    return this.text[this.pos++];
  }
  peek(indicator) {
    if (this.text[this.pos] === indicator) { this.pos += 1; return true; }
    return false;
  }
  take(length, what) {
    if (this.text.length - this.pos < length) throw fail(`coupon ${what} is truncated`);
    this.pos += length;
    return this.text.slice(this.pos - length, this.pos);
  }
  vli(what, allowed) {
    const char = this.next(what);
    if (!allowed.includes(char)) throw fail(`coupon ${what} indicator ${char} is not allowed`);
    return Number(char);
  }
  field(vli, plus, what) { return this.take(vli + plus, what); }
  purchase(which) {
    this.field(this.vli(`${which} purchase requirement length`, "12345"), 0, "requirement");
    if (!"012349".includes(this.next(`${which} purchase requirement code`))) throw fail(`${which} purchase requirement code must be 0-4 or 9`);
    this.take(3, `${which} purchase family code`);
  }
  purchaseGcp() {
    const vli = this.vli("purchase company prefix length", "01234569");
    if (vli !== 9) gcp(this.take(vli + 6, "purchase company prefix"), 0);
  }
  date(what) {
    const value = this.take(6, what);
    try { yymmdd(value); } catch { throw fail(`coupon ${what} ${value} is not a valid date`); }
    return value;
  }
  end() { if (this.pos !== this.text.length) throw fail("coupon data has excess characters"); }
}

function couponposoffer(part) {
  digits(part);
  const r = new CouponReader(part);
  if (!"01".includes(r.next("format code"))) throw fail("coupon format code must be 0 or 1");
  r.field(r.vli("funder length", "0123456"), 6, "funder ID");
  r.take(6, "offer code");
  r.field(r.vli("serial number length", "0123456789"), 6, "serial number");
  r.end();
}

function couponcode(part) {
  digits(part);
  const r = new CouponReader(part);
  const prefix = r.vli("company prefix length", "0123456");
  gcp(r.take(prefix + 6, "company prefix"), 0);
  r.take(6, "offer code");
  r.field(r.vli("save value length", "12345"), 0, "save value");
  r.purchase("1st");
  if (r.peek("1")) {
    if (!"0123".includes(r.next("additional purchase rules code"))) throw fail("additional purchase rules code must be 0-3");
    r.purchase("2nd");
    r.purchaseGcp();
  }
  if (r.peek("2")) { r.purchase("3rd"); r.purchaseGcp(); }
  let expiry = null;
  if (r.peek("3")) expiry = r.date("expiration date");
  if (r.peek("4")) {
    const start = r.date("start date");
    if (expiry !== null && start > expiry) throw fail("coupon expires before it starts");
  }
  if (r.peek("5")) r.field(r.vli("serial number length", "0123456789"), 6, "serial number");
  if (r.peek("6")) gcp(r.take(r.vli("retailer length", "1234567") + 6, "retailer GCP/GLN"), 0);
  if (r.peek("9")) {
    if (!"01256".includes(r.next("save value code"))) throw fail("save value code must be 0, 1, 2, 5 or 6");
    if (!"012".includes(r.next("save value applies to item"))) throw fail("save value applies-to-item must be 0-2");
    r.next("store coupon flag");
    if (!"01".includes(r.next("don't multiply flag"))) throw fail("don't multiply flag must be 0 or 1");
  }
  r.end();
}

const within = (codes, what) => {
  const set = new Set(codes);
  return (part) => { if (!set.has(part)) throw fail(`'${part}' is not ${what}`); };
};
const equal = (wanted, what) => (part) => { if (part !== wanted) throw fail(`'${part}' is not ${what}`); };
const oneOf = (codes, what) => (part) => { if (part.length !== 1 || !codes.includes(part)) throw fail(`'${part}' is not ${what}`); };

export const LINTERS = {
  csum,
  csumalpha,
  gcppos1: (part) => gcp(part, 0),
  gcppos2: (part) => gcp(part, 1),
  yymmdd,
  yymmd0: (part) => yymmddWith(part, true),
  yyyymmdd,
  hh: upto(23, "hour"),
  mi: upto(59, "minute"),
  ss: upto(59, "second"),
  hhmi: (part) => {
    digits(part);
    if (Number(part.slice(0, 2)) > 23 || Number(part.slice(2)) > 59) throw fail(`time ${part} is not HHMI (00-23 hours, 00-59 minutes)`);
  },
  iban,
  iso3166: within(CODE_LISTS.iso3166, "an ISO 3166 numeric country code"),
  iso3166999: within([...CODE_LISTS.iso3166, "999"], "an ISO 3166 numeric country code or 999"),
  iso3166alpha2: within(CODE_LISTS.iso3166alpha2, "an ISO 3166 alpha-2 country code"),
  iso4217: within(CODE_LISTS.iso4217, "an ISO 4217 numeric currency code"),
  iso5218: within(CODE_LISTS.iso5218, "an ISO/IEC 5218 sex code (0, 1, 2 or 9)"),
  mediatype: within(MEDIA_TYPES, "an AIDC media type (01-10, 80-99)"),
  packagetype: (part) => {
    if (part.length < 1 || part.length > 3 || ![...part].every((c) => PACKAGE_TYPE_CHARS.includes(c))) throw fail(`'${part}' is not a package type code`);
  },
  zero: equal("0", "0 (digit must be 0)"),
  nonzero: (part) => { if (/^0*$/.test(part)) throw fail("value must not be zero"); },
  nozeroprefix: (part) => { if (part.length > 1 && part[0] === "0") throw fail("value must not start with 0"); },
  yesno: oneOf("01", "0 or 1"),
  winding: oneOf("019", "a winding direction (0, 1 or 9)"),
  hyphen: equal("-", "a hyphen"),
  hasnondigit: (part) => { if (isDigits(part)) throw fail("value must hold at least one character that is not a digit"); },
  pieceoftotal,
  posinseqslash,
  importeridx: (part) => { if (part.length !== 1 || !CSET64.includes(part)) throw fail(`importer index '${part}' must be one base64url character`); },
  pcenc,
  latitude: upto(1_800_000_000, "latitude"),
  longitude: upto(3_600_000_000, "longitude"),
  couponcode,
  couponposoffer,
};
