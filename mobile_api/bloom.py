"""A Bloom filter of decommissioned codes, for handhelds that verify offline.

A set of (GTIN, serial) pairs too large to ship as a list (10 M codes are
about 250 MB as text) becomes a bit array of ``m`` bits probed at ``k``
places per code: no false negatives, false positives at the configured rate.
Sizing is the textbook one, ``m = -n ln p / (ln 2)^2`` and ``k = (m / n) ln 2``:
about 9.6 bits per code at 1 %, 14.4 at 0.1 %.

Each code is hashed once with SHA-256 (domain-separated, salted); the ``k``
probes come from the two 64-bit halves of the first 16 bytes by double hashing
(Kirsch-Mitzenmacher), computed modulo 2^64 so that the vectorised builder
(numpy, uint64 arithmetic) and the pure-Python reader agree bit for bit.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass

from authn.errors import TrustError

KIND = "bloom-v1"
KEY_TAG = b"sealtrace/decommissioned/v1\x00"
KEY_BYTES = 16
MASK64 = (1 << 64) - 1
MAX_BITS = 1 << 31  # 256 MiB of bits: far above any sane bundle


def optimal_size(capacity: int, fp_per_million: int) -> tuple[int, int]:
    """(m bits, rounded up to a byte multiple of 8; k probes) for ``capacity`` codes."""
    if capacity < 1 or not 0 < fp_per_million < 1_000_000:
        raise ValueError("capacity must be positive and the false-positive rate in (0, 1)")
    p = fp_per_million / 1_000_000
    m = math.ceil(-capacity * math.log(p) / (math.log(2) ** 2))
    m = (m + 63) // 64 * 64
    k = max(1, round(m / capacity * math.log(2)))
    return m, k


def filter_id_for(capacity: int, fp_per_million: int, salt: bytes) -> str:
    m, k = optimal_size(capacity, fp_per_million)
    salt_text = base64.urlsafe_b64encode(salt).decode("ascii")
    return f"{KIND}:{capacity}:{fp_per_million}:{m}:{k}:{salt_text}"


def code_key(salt: bytes, gtin: str, serial: str) -> bytes:
    """The 16-byte key of one code; deltas ship keys, never the codes themselves."""
    data = KEY_TAG + salt + f"{gtin}\x1d{serial}".encode("ascii", "replace")
    return hashlib.sha256(data).digest()[:KEY_BYTES]


def _halves(key: bytes) -> tuple[int, int]:
    h1 = int.from_bytes(key[:8], "little")
    h2 = int.from_bytes(key[8:16], "little") | 1  # odd: the probes never collapse onto one bit
    return h1, h2


@dataclass(eq=False)
class BloomFilter:
    capacity: int
    fp_per_million: int
    m_bits: int
    k: int
    salt: bytes
    bits: bytearray
    count: int = 0

    @classmethod
    def empty(cls, capacity: int, fp_per_million: int, salt: bytes) -> BloomFilter:
        m, k = optimal_size(capacity, fp_per_million)
        return cls(capacity, fp_per_million, m, k, salt, bytearray(m // 8))

    @property
    def filter_id(self) -> str:
        """Parameters a delta must match to be applied to this filter."""
        return filter_id_for(self.capacity, self.fp_per_million, self.salt)

    def add_key(self, key: bytes) -> None:
        h1, h2 = _halves(key)
        for i in range(self.k):
            position = ((h1 + i * h2) & MASK64) % self.m_bits
            self.bits[position >> 3] |= 1 << (position & 7)
        self.count += 1

    def contains_key(self, key: bytes) -> bool:
        h1, h2 = _halves(key)
        for i in range(self.k):
            position = ((h1 + i * h2) & MASK64) % self.m_bits
            if not self.bits[position >> 3] & (1 << (position & 7)):
                return False
        return True

    def might_contain(self, gtin: str, serial: str) -> bool:
        return self.contains_key(code_key(self.salt, gtin, serial))

    def add_keys(self, keys: bytes) -> None:
        """Add many keys at once: ``keys`` is their concatenation (vectorised, for 10 M codes)."""
        if len(keys) % KEY_BYTES:
            raise ValueError("keys must be a concatenation of 16-byte keys")
        if not keys:
            return
        import numpy as np  # only bundles need it: not loaded when a worker starts

        words = np.frombuffer(keys, dtype="<u8").reshape(-1, 2)
        h1 = words[:, 0].copy()
        h2 = words[:, 1] | np.uint64(1)
        view = np.frombuffer(self.bits, dtype=np.uint8)
        m = np.uint64(self.m_bits)
        marks = np.zeros(self.m_bits, dtype=bool)
        probe = h1
        for _ in range(self.k):
            marks[probe % m] = True
            probe = probe + h2  # uint64 wraps modulo 2^64, as the scalar path does
        view |= np.packbits(marks, bitorder="little")
        self.count += len(words)

    def to_json(self) -> dict[str, str | int]:
        return {
            "kind": KIND,
            "capacity": self.capacity,
            "fp_per_million": self.fp_per_million,
            "m_bits": self.m_bits,
            "k": self.k,
            "count": self.count,
            "salt": base64.b64encode(self.salt).decode("ascii"),
            "bits": base64.b64encode(bytes(self.bits)).decode("ascii"),
        }

    @classmethod
    def from_json(cls, value: object) -> BloomFilter:
        if not isinstance(value, dict) or value.get("kind") != KIND:
            raise TrustError(f"the bundle's filter is not a {KIND} filter")
        try:
            capacity, fp, m, k, count = (
                int(value[name]) for name in ("capacity", "fp_per_million", "m_bits", "k", "count")
            )
            salt = base64.b64decode(str(value["salt"]), validate=True)
            bits = bytearray(base64.b64decode(str(value["bits"]), validate=True))
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise TrustError(f"the bundle's filter is malformed: {exc}") from None
        if not (0 < m <= MAX_BITS and m % 8 == 0 and len(bits) == m // 8 and 0 < k <= 64):
            raise TrustError("the bundle's filter has inconsistent sizes")
        return cls(capacity, fp, m, k, salt, bits, count)


def keys_of(salt: bytes, codes: Iterable[tuple[str, str]]) -> bytes:
    return b"".join(code_key(salt, gtin, serial) for gtin, serial in codes)
