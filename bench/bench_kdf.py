"""What one passphrase guess costs against a key file: scrypt files against the old PBKDF2 ones.

An attacker with a stolen key file tries passphrases offline; each try is one
``load_pem_private_key``. This times that call (medians, interleaved, one core)
for the files `keys/filestore.py` writes now and for the PBKDF2 files of
earlier releases, and prints guesses per second per core for each.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    PrivateFormat,
    load_pem_private_key,
)

from keys.pkcs8 import SCRYPT_LOG2_N, encrypt_private_key

PASSPHRASE = b"bench passphrase"


def _time_load(pem: bytes) -> float:
    start = time.perf_counter()
    with contextlib.suppress(ValueError):
        load_pem_private_key(pem, password=b"a wrong guess")
    return time.perf_counter() - start


def main(rounds: int = 7) -> None:
    key = Ed25519PrivateKey.generate()
    new = encrypt_private_key(key, PASSPHRASE)
    old = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(PASSPHRASE))
    new_times: list[float] = []
    old_times: list[float] = []
    for _ in range(rounds):
        new_times.append(_time_load(new))
        old_times.extend(_time_load(old) for _ in range(20))
    new_median, old_median = statistics.median(new_times), statistics.median(old_times)
    load = os.getloadavg()[0]
    print(f"load average {load:.2f}; one wrong guess, median of {rounds} (scrypt) / {rounds * 20}")
    print(
        f"scrypt N=2^{SCRYPT_LOG2_N}: {new_median * 1000:8.1f} ms  {1 / new_median:8.1f} guesses/s"
    )
    print(f"PBKDF2 2,048:    {old_median * 1000:8.2f} ms  {1 / old_median:8.1f} guesses/s")
    print(f"cost ratio: x{new_median / old_median:,.0f}")


if __name__ == "__main__":
    main()
