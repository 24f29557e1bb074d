#!/usr/bin/env python3
"""Checks docs/conformance.md: all 119 RFC 9293 requirement IDs are present, every MUST marked
met names at least one test, and every named test exists in the test binaries.

usage: check_ledger.py LEDGER REQUIREMENTS_MD TEST_BINARY...
REQUIREMENTS_MD may be missing (the shared reference lives outside the repository); the ID
set is then the one RFC 9293 defines: MUST-1..69, SHLD-1..31, MAY-1..18, REC-1.
"""
import os
import re
import subprocess
import sys


def expected_ids(path):
    ids = {f"MUST-{i}" for i in range(1, 70)} | {f"SHLD-{i}" for i in range(1, 32)}
    ids |= {f"MAY-{i}" for i in range(1, 19)} | {"REC-1"}
    if os.path.exists(path):
        found = set(re.findall(r"^\| ((?:MUST|SHLD|MAY|REC)-\d+) \|", open(path).read(), re.M))
        if found != ids:
            sys.exit(f"the requirement list {path} has {len(found)} IDs, expected the 119 of RFC 9293")
    return ids


def test_names(binaries):
    names = set()
    for b in binaries:
        out = subprocess.run([b, "--gtest_list_tests"], capture_output=True, text=True, check=True).stdout
        suite = None
        for line in out.splitlines():
            if not line.strip():
                continue
            if not line.startswith(" "):
                suite = line.split("#")[0].strip().rstrip(".")
            else:
                name = line.split("#")[0].strip()
                names.add(f"{suite}.{name}")
                # Parameterized tests: also accept the name without instance and index.
                names.add(f"{suite.split('/')[-1]}.{name.split('/')[0]}")
    return names


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    ledger, reqs, binaries = sys.argv[1], sys.argv[2], sys.argv[3:]
    ids = expected_ids(reqs)
    tests = test_names(binaries)
    rows = {}
    errors = []
    for line in open(ledger):
        m = re.match(r"^\| ((?:MUST|SHLD|MAY|REC)-\d+) \| ([^|]*) \| ([^|]*) \| ([^|]*) \| ([^|]*) \| ([^|]*) \|$",
                     line.rstrip("\n"))
        if not m:
            continue
        rid, level, _, status, named, notes = (g.strip() for g in m.groups())
        if rid in rows:
            errors.append(f"{rid} appears twice")
        rows[rid] = (status, named, notes)
        if status not in ("met", "partial", "not yet", "deviation"):
            errors.append(f"{rid}: unknown status '{status}'")
        named_tests = re.findall(r"`([^`]+)`", named)
        if rid.startswith("MUST") and status == "met" and not named_tests:
            errors.append(f"{rid} is marked met but names no test")
        if status in ("deviation", "partial", "not yet") and rid.startswith("MUST") and not notes:
            errors.append(f"{rid} is {status} without a reason")
        for t in named_tests:
            if t not in tests:
                errors.append(f"{rid} names a test that does not exist: {t}")
    missing = sorted(ids - set(rows), key=lambda s: (s.split('-')[0], int(s.split('-')[1])))
    extra = sorted(set(rows) - ids)
    if missing:
        errors.append(f"missing IDs: {', '.join(missing)}")
    if extra:
        errors.append(f"unknown IDs: {', '.join(extra)}")
    # Named tests in the other tables of the ledger must exist too.
    for t in re.findall(r"`([A-Z][A-Za-z0-9_]*\.[A-Za-z0-9_]+)`", open(ledger).read()):
        if t not in tests and not t.startswith("TcpConfig") and not t.startswith("SocketOptions"):
            errors.append(f"the ledger names a test that does not exist: {t}")
    if errors:
        print("\n".join(sorted(set(errors))))
        sys.exit(1)
    musts = [r for r in rows if r.startswith("MUST")]
    met = sum(1 for r in musts if rows[r][0] == "met")
    print(f"ledger OK: {len(rows)} IDs, {met} of {len(musts)} MUSTs met, {len(tests)} tests known")


if __name__ == "__main__":
    main()
