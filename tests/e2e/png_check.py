#!/usr/bin/env python3
"""Checks that a PNG shows something: it decodes (8-bit RGB or RGBA, as Chromium writes
screenshots), has at least MIN_COLOURS colours, and at least MIN_INK of its pixels differ
from the most common (background) colour. Standard library only. Prints what it found."""
import struct, sys, zlib
from collections import Counter

def pixels(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"{path}: not a PNG")
    pos, idat, hdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype = hdr[:4]
    if depth != 8 or ctype not in (2, 6):
        sys.exit(f"{path}: bit depth {depth}, colour type {ctype}: not handled")
    bpp = 3 if ctype == 2 else 4
    raw, stride, prev, rows = zlib.decompress(idat), w * bpp, bytearray(w * bpp), []
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, Counter(r[i:i + 3] for r in rows for i in range(0, stride, bpp))

path, min_colours, min_ink = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
w, h, colours = pixels(path)
bg, nbg = colours.most_common(1)[0]
ink = 1 - nbg / (w * h)
print(f"{path}: {w}x{h}, {len(colours)} colours, {ink:.1%} not background #{bg.hex()}")
if len(colours) < min_colours or ink < min_ink:
    sys.exit(f"{path}: looks blank (need {min_colours} colours and {min_ink:.0%} ink)")
