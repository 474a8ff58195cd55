#!/usr/bin/python3
"""Wraps a model file into a bundle, as the package step writes one, for tests
of what reads bundles (register, the registry's CLI, gc, lineage).

usage: bundle.py MODEL_FILE OUT_FILE NAME VERDICT [METRICS_JSON]

VERDICT is passed, failed or none (no verdict). The model file format is
src/model/mfile.h: the sections are copied unchanged, the manifest gains
kind, bundle_format, name, metrics and verdict, and the digest is recomputed.
"""
import hashlib
import json
import struct
import sys

HEADER, ENTRY, ALIGN = 40, 40, 64


def read(path):
    b = open(path, "rb").read()
    assert b[:8] == b"SLUICEMF", "not a model file"
    _ver, n = struct.unpack_from("<II", b, 8)
    moff, mlen = struct.unpack_from("<QQ", b, 24)
    sections = []
    for i in range(n):
        e = HEADER + ENTRY * i
        name = b[e:e + 24]
        off, ln = struct.unpack_from("<QQ", b, e + 24)
        sections.append((name, b[off:off + ln]))
    return json.loads(b[moff:moff + mlen]), sections


def write(path, manifest, sections):
    text = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    off = HEADER + ENTRY * len(sections) + len(text)
    offs = []
    for _name, data in sections:
        off = (off + ALIGN - 1) // ALIGN * ALIGN
        offs.append(off)
        off += len(data)
    total = off + 32
    img = bytearray(total)
    img[:8] = b"SLUICEMF"
    struct.pack_into("<IIQQQ", img, 8, 1, len(sections), total,
                     HEADER + ENTRY * len(sections), len(text))
    m = HEADER + ENTRY * len(sections)
    img[m:m + len(text)] = text
    for i, ((name, data), o) in enumerate(zip(sections, offs)):
        e = HEADER + ENTRY * i
        img[e:e + 24] = name
        struct.pack_into("<QQ", img, e + 24, o, len(data))
        img[o:o + len(data)] = data
    img[total - 32:] = hashlib.sha256(img[:total - 32]).digest()
    open(path, "wb").write(img)


def main():
    model, out, name, verdict = sys.argv[1:5]
    metrics = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {"accuracy": 0.9}
    man, sections = read(model)
    man.update({"kind": "bundle", "bundle_format": 1, "name": name, "metrics": metrics})
    if verdict != "none":
        man["verdict"] = {"passed": verdict == "passed", "rules": []}
    write(out, man, sections)


main()
