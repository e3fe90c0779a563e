"""The photo-decode process: ``python -m mobile_api.decode_child FD NICE MEMORY_BYTES``.

A serving worker starts it (:mod:`mobile_api.decode_pool`) and talks to it over
the socket ``FD``: a JSON header and the image's bytes in, one JSON answer out.
Before it reads a request it lowers its own CPU priority to ``NICE`` and caps
its address space at ``MEMORY_BYTES``: whatever a photo costs, the serving
process keeps the CPU and its memory. It ends when the worker closes the socket.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from dataclasses import asdict
from multiprocessing.connection import Connection
from typing import Any

# The decoders load before the address-space cap applies: the cap is for pixels.
import zxingcpp  # noqa: F401
from PIL import Image  # noqa: F401

from mobile_api.decode import ImageTooLarge, ImageUnusable, UnsupportedImage, decode_codes


def confine(niceness: int, memory_bytes: int) -> None:
    """Lower this process's priority (never raise it) and bound its address space."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    os.setpriority(os.PRIO_PROCESS, 0, max(current, niceness))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def answer(request: dict[str, Any], data: bytes) -> dict[str, Any]:
    """The JSON answer to one decode request; the error kinds are the worker's exceptions."""
    try:
        found = decode_codes(
            data, max_pixels=int(request["max_pixels"]), max_bytes=int(request["max_bytes"])
        )
    except UnsupportedImage as exc:
        return {"error": "unsupported", "message": str(exc)}
    except ImageTooLarge as exc:
        return {"error": "too_large", "message": str(exc)}
    except ImageUnusable as exc:
        return {"error": "unusable", "message": str(exc)}
    except MemoryError:
        raise
    except Exception as exc:  # a decoder fault on one photo: that photo is unusable
        return {"error": "unusable", "message": f"the image cannot be read ({type(exc).__name__})"}
    return {"codes": [asdict(decoded) for decoded in found]}


def serve(connection: Connection) -> int:
    while True:
        try:
            request = json.loads(connection.recv_bytes())
            data = connection.recv_bytes()
        except (EOFError, OSError):
            return 0  # the worker is gone or done with us
        try:
            reply = answer(request, data)
        except MemoryError:
            # The address-space cap was hit: say so, then end (the pool starts a fresh one).
            del data
            message = "the image needs more memory to decode than one decode may use"
            connection.send_bytes(json.dumps({"error": "memory", "message": message}).encode())
            return 1
        connection.send_bytes(json.dumps(reply).encode())


def main(argv: list[str]) -> int:
    fd, niceness, memory_bytes = (int(arg) for arg in argv)
    confine(niceness, memory_bytes)
    return serve(Connection(fd))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
