#!/usr/bin/python3
"""memscan.py PID HEXBYTES...: for each pattern (hex), whether it occurs in any readable mapping of
process PID (read through /proc/PID/mem; root). Prints "PATTERN_INDEX found|absent" per pattern and
the bytes scanned; exits 2 when nothing could be read (so an empty scan never passes as "absent")."""
import re
import sys


def main():
    pid = int(sys.argv[1])
    patterns = [bytes.fromhex(h) for h in sys.argv[2:]]
    found = [False] * len(patterns)
    scanned = 0
    keep = max((len(p) for p in patterns), default=1) - 1
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if "r" not in fields[1] or fields[-1] == "[vvar]":
                continue
            tail = b""
            offset = start
            while offset < end:
                n = min(1 << 20, end - offset)
                try:
                    mem.seek(offset)
                    chunk = mem.read(n)
                except OSError:
                    break
                if not chunk:
                    break
                data = tail + chunk
                for i, p in enumerate(patterns):
                    if not found[i] and p in data:
                        found[i] = True
                scanned += len(chunk)
                tail = data[-keep:] if keep else b""
                offset += len(chunk)
    if scanned == 0:
        print("nothing readable", file=sys.stderr)
        sys.exit(2)
    for i, f in enumerate(found):
        print(f"{i} {'found' if f else 'absent'}")
    print(f"scanned {scanned} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
