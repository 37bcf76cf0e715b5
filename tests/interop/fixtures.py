"""What the interop checks share: the tool names, image signatures and a reference image.
Kept free of the MCP SDK so that expect.py starts fast."""

import base64
import struct
import zlib

TOOLS = {"generate_image", "edit_image", "generate_sequence", "get_job"}
# Embedded images start with these bytes.
MAGIC = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n", "image/webp": b"RIFF"}


def tiny_png_data_uri(width: int = 64, height: int = 48) -> str:
    """A real PNG (a gradient) built by hand, so the reference image needs no fixture file."""
    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 4 % 256, y * 5 % 256, 128)) for x in range(width)) for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    return "data:image/png;base64," + base64.b64encode(png).decode()
