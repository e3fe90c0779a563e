"""Reed-Solomon error correction over GF(256) (polynomial 0x11D), table driven.

The parity of a block is linear in its data codewords: codeword ``j`` of value
``v`` contributes ``v * (x^(n + k - 1 - j) mod g)``. For each block shape the
contributions of every (position, value) are tabulated once, so a label's
parity is one gather and one XOR reduction in numpy, for all blocks at once.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt

Bytes2D = npt.NDArray[np.uint8]


def _build_gf_tables() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    exp = np.zeros(512, np.int64)
    log = np.zeros(256, np.int64)
    value = 1
    for power in range(255):
        exp[power] = value
        log[value] = power
        value <<= 1
        if value & 0x100:
            value ^= 0x11D
    exp[255:510] = exp[:255]
    return exp, log


EXP, LOG = _build_gf_tables()


def gf_multiply(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Element-wise product in GF(256) (broadcasting)."""
    product = EXP[LOG[a] + LOG[b]]
    return np.where((a == 0) | (b == 0), 0, product)


def generator(degree: int) -> list[int]:
    """Coefficients of prod(x - a^i, i < degree), highest power first, leading 1 omitted."""
    coefficients = [1]
    for i in range(degree):
        root = int(EXP[i])
        nxt = [*coefficients, 0]
        for j in range(1, len(nxt)):
            c = coefficients[j - 1]
            nxt[j] ^= 0 if c == 0 else int(EXP[LOG[c] + LOG[root]])
        coefficients = nxt
    return coefficients[1:]


@lru_cache(maxsize=64)
def parity_table(data_length: int, ec_length: int) -> Bytes2D:
    """``table[j, v]``: the parity contributed by value ``v`` at data position ``j``."""
    gen = np.array(generator(ec_length), np.int64)
    # remainders[t] = x^(ec_length + t) mod g, built by one shift-and-reduce per step.
    remainders = np.zeros((data_length, ec_length), np.int64)
    current = gen.copy()  # x^ec_length mod g
    for t in range(data_length):
        remainders[t] = current
        lead = current[0]
        shifted = np.append(current[1:], 0)
        current = shifted ^ gf_multiply(np.full(ec_length, lead), gen)
    by_position = remainders[::-1]  # position j multiplies x^(n + k - 1 - j)
    values = np.arange(256, dtype=np.int64)
    table = gf_multiply(values[None, :, None], by_position[:, None, :]).astype(np.uint8)
    table.flags.writeable = False
    return table


def parity(blocks: Bytes2D, ec_length: int) -> Bytes2D:
    """Error correction codewords of each row of ``blocks`` (equal-length data blocks)."""
    table = parity_table(blocks.shape[1], ec_length)
    contributions = table[np.arange(blocks.shape[1]), blocks]
    result: Bytes2D = np.bitwise_xor.reduce(contributions, axis=1)
    return result
