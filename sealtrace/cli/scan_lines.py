"""`sealtrace code parse --jsonl`: a day of scanner data checked in one process.

Every line of the input is one scan. Each gives exactly one JSON line out, in
order: ``{"input": ..., "ok": true, "ais": [[AI, value], ...]}`` or
``{"input": ..., "ok": false, "error": ...}``. A bad line (not UTF-8, a NUL
byte, a line of gigabytes, data GS1 refuses) is reported on its own line and
the next line is read as if nothing had happened. Lines longer than
:data:`MAX_LINE_BYTES` are not held in memory: they are skipped to their end
and reported with their length and their first characters.
"""

from __future__ import annotations

import json
from typing import BinaryIO, TextIO

from authn.errors import SealtraceError
from authn.scan import MAX_SCAN_CHARS, parse_scan

# Room for MAX_SCAN_CHARS characters of UTF-8 and a line ending: anything
# longer is refused by parse_scan anyway, so it need not be read whole.
MAX_LINE_BYTES = 4 * MAX_SCAN_CHARS + 2
_SHOWN_CHARS = 80


def _skip_rest(stream: BinaryIO, first: bytes) -> int:
    """Read to the end of an overlong line without keeping it; its length in bytes."""
    length = len(first)
    while not first.endswith(b"\n"):
        first = stream.readline(MAX_LINE_BYTES)
        if not first:
            break
        length += len(first)
    return length - 1 if first.endswith(b"\n") else length


def _result(raw: bytes) -> dict[str, object]:
    line = raw[:-1] if raw.endswith(b"\n") else raw
    if line.endswith(b"\r"):
        line = line[:-1]
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        shown = line.decode("utf-8", errors="replace")
        return {"input": shown, "ok": False, "error": f"not UTF-8 at byte {exc.start + 1}"}
    try:
        scanned = parse_scan(text)
    except SealtraceError as exc:
        return {"input": text, "ok": False, "error": str(exc)}
    except Exception as exc:  # one line's bug must not lose the other lines
        return {"input": text, "ok": False, "error": f"internal error: {type(exc).__name__}"}
    return {"input": text, "ok": True, "ais": [[ai, value] for ai, value in scanned.ais]}


def parse_lines(stream: BinaryIO, out: TextIO) -> int:
    """Parse every line of ``stream`` into ``out``; 0 when all parsed, else 1."""
    failed = 0
    while raw := stream.readline(MAX_LINE_BYTES):
        if len(raw) == MAX_LINE_BYTES and not raw.endswith(b"\n"):
            length = _skip_rest(stream, raw)
            shown = raw[:_SHOWN_CHARS].decode("utf-8", errors="replace") + "..."
            result: dict[str, object] = {
                "input": shown,
                "ok": False,
                "error": f"line is {length} bytes long; at most {MAX_SCAN_CHARS} characters",
            }
        else:
            result = _result(raw)
        failed += not result["ok"]
        out.write(json.dumps(result) + "\n")
    out.flush()
    return 0 if failed == 0 else 1
