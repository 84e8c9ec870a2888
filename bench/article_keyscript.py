#!/usr/bin/env python3
"""Stand-in for the article's per-container key script (benchmark baseline only).

Prints the WireGuard private key of one container, derived as in
the spec's keys.md, scheme `sha3`:

    private = clamp(SHA3-256(seed || additional || addr))

seed and additional are given base64-encoded, addr is an IPv4 address (a
/prefix is ignored) taken as 4 bytes in network byte order. The public key is
obtained the way the article does it: `... | wg pubkey`.

Usage: article_keyscript.py SEED_B64 [ADDITIONAL_B64] ADDRESS

Python 3 standard library only, written for wgnet's bench/hub_config.sh.
"""

import base64
import hashlib
import ipaddress
import sys

DEFAULT_ADDITIONAL = "YmVzdG92Lmlv"  # base64 of "bestov.io", the article's default


def derive(seed: bytes, additional: bytes, addr: bytes) -> bytes:
    k = bytearray(hashlib.sha3_256(seed + additional + addr).digest())
    k[0] &= 248
    k[31] = (k[31] & 127) | 64
    return bytes(k)


def main(argv: list[str]) -> int:
    if len(argv) == 3:
        seed_b64, additional_b64, address = argv[0], argv[1], argv[2]
    elif len(argv) == 2:
        seed_b64, additional_b64, address = argv[0], DEFAULT_ADDITIONAL, argv[1]
    else:
        print("usage: article_keyscript.py SEED_B64 [ADDITIONAL_B64] ADDRESS", file=sys.stderr)
        return 2
    try:
        seed = base64.b64decode(seed_b64, validate=True)
        additional = base64.b64decode(additional_b64, validate=True)
        addr = ipaddress.IPv4Address(address.split("/", 1)[0]).packed
    except ValueError as e:
        print(f"article_keyscript.py: {e}", file=sys.stderr)
        return 2
    print(base64.b64encode(derive(seed, additional, addr)).decode("ascii"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
