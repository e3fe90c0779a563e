// Compressed GS1 Digital Links read in the page, bit for bit as
// authn/dl_compression.py reads them (its docstring describes the format):
// https://id.example/DBHKVAdpQgowOQ is https://id.example/01/09780345418913/21/12345.
// The optimisation codes, each AI's value parts and every bit width come from
// gs1-table.js, which tools/make_offline_vectors.py writes from the Python
// tables, so the two readers cannot drift apart. Numbers are BigInt: a value
// part may hold up to 90 digits. Pure: a segment in, AIs or a GS1Error out;
// the caller validates the values as for any Digital Link.

import { DL_ENCODING, DL_NUMBER_BITS, DL_OPTIMISATIONS } from "./gs1-table.js";
import { fail } from "./gs1-linters.js";

export const SAFE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const HEX = "0123456789ABCDEF";
const AI_LENGTH_BY_PREFIX = new Map(Object.keys(DL_ENCODING).map((ai) => [ai.slice(0, 2), ai.length]));

class Bits {
  constructor(segment) {
    this.data = [...segment].map((c) => SAFE64.indexOf(c).toString(2).padStart(6, "0")).join("");
    this.cursor = 0;
  }

  get left() {
    return this.data.length - this.cursor;
  }

  big(count, what) {
    if (count > this.left) throw fail(`the compressed data ends inside ${what}`);
    const chunk = this.data.slice(this.cursor, this.cursor + count);
    this.cursor += count;
    return chunk ? BigInt("0b" + chunk) : 0n;
  }

  // Fields of at most 7 bits: an ordinary number is exact.
  take(count, what) {
    return Number(this.big(count, what));
  }
}

function readNumber(bits, digits, ai) {
  const number = bits.big(DL_NUMBER_BITS[digits], `the value of (${ai})`);
  if (digits === 0) return "";
  if (number >= 10n ** BigInt(digits)) throw fail(`(${ai}) a compressed number is longer than ${digits} digits`);
  return number.toString().padStart(digits, "0");
}

function readString(bits, count, encoding, ai) {
  const what = `the value of (${ai})`;
  const chars = (width, alphabet) => Array.from({ length: count }, () => alphabet(bits.take(width, what))).join("");
  if (encoding === 0) return readNumber(bits, count, ai);
  if (encoding === 1) return chars(4, (n) => HEX[n]).toLowerCase();
  if (encoding === 2) return chars(4, (n) => HEX[n]);
  if (encoding === 3) return chars(6, (n) => SAFE64[n]);
  if (encoding === 4) return chars(7, (n) => String.fromCharCode(n));
  throw fail(`(${ai}) unknown character encoding ${encoding} in compressed data`);
}

function readLength(bits, lengthBits, maximum, ai) {
  const size = bits.take(lengthBits, `the length of (${ai})`);
  if (size > maximum) throw fail(`(${ai}) a compressed length exceeds the AI's format`);
  return size;
}

function readValue(bits, ai) {
  return DL_ENCODING[ai].map(([numeric, length, variable, lengthBits]) => {
    if (numeric) {
      const size = variable ? readLength(bits, lengthBits, length, ai) : length;
      return readNumber(bits, size, ai);
    }
    const encoding = bits.take(3, `the value of (${ai})`);
    const size = variable ? readLength(bits, lengthBits, length, ai) : length;
    return readString(bits, size, encoding, ai);
  }).join("");
}

function readAi(bits, prefix) {
  const length = AI_LENGTH_BY_PREFIX.get(prefix);
  if (length === undefined) throw fail(`no Application Identifier starts with ${prefix} (compressed data)`);
  const digits = Array.from({ length: length - 2 }, () => bits.take(4, "an Application Identifier"));
  if (digits.some((d) => d > 9)) throw fail("an Application Identifier in compressed data is not all digits");
  const ai = prefix + digits.join("");
  if (!Object.hasOwn(DL_ENCODING, ai)) throw fail(`unknown Application Identifier (${ai}) in compressed data`);
  return ai;
}

// authn.dl_compression.decompress_ais: [AIs, non-GS1 parameters], each a list
// of [key, value] in the order written.
export function decompressAis(segment) {
  if (!/^[A-Za-z0-9_-]+$/.test(segment)) throw fail("compressed data holds a character outside A-Z a-z 0-9 - _");
  const bits = new Bits(segment);
  const ais = [];
  const other = [];
  while (bits.left > 8) {
    const h1 = bits.take(4, "an entry"), h2 = bits.take(4, "an entry");
    const code = HEX[h1] + HEX[h2];
    if (h1 <= 9 && h2 <= 9) {
      const ai = readAi(bits, code);
      ais.push([ai, readValue(bits, ai)]);
    } else if (Object.hasOwn(DL_OPTIMISATIONS, code)) {
      for (const ai of DL_OPTIMISATIONS[code]) ais.push([ai, readValue(bits, ai)]);
    } else if (h1 === 15) {
      const size = (h2 << 3) | bits.take(3, "a parameter name's length");
      if (size === 0) throw fail("a compressed parameter has an empty name");
      const key = Array.from({ length: size }, () => SAFE64[bits.take(6, "a parameter name")]).join("");
      const encoding = bits.take(3, `parameter '${key}'`);
      const count = bits.take(7, `parameter '${key}'`);
      other.push([key, readString(bits, count, encoding, key)]);
    } else {
      throw fail(`unallocated code ${code} in compressed data`);
    }
  }
  if (bits.big(bits.left, "the padding") !== 0n) throw fail("compressed data ends with non-zero padding bits");
  const seen = ais.map(([ai]) => ai);
  const twice = seen.find((ai, i) => seen.indexOf(ai) !== i);
  if (twice !== undefined) throw fail(`(${twice}) AI is given twice in compressed data`);
  if (!ais.length) throw fail("compressed data holds no Application Identifier");
  return [ais, other];
}
