"""A QR code encoder (ISO/IEC 18004, model 2) in Python and numpy."""

from __future__ import annotations

from issuer.qr.encoder import QRCode, encode_qr

__all__ = ["QRCode", "encode_qr"]
