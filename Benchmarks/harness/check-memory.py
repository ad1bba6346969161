#!/usr/bin/env python3
"""Fails (exit 1) when a dpone contender of a benchmark artifact peaked above the memory bound.

usage: check-memory.py ARTIFACT.json LIMIT_MB

Every result whose key starts with "dpone" is checked (peers are not dpone's bound). Prints one
line per checked result.
"""
import json
import sys

artifact, limit = sys.argv[1], float(sys.argv[2])
report = json.load(open(artifact))
failed = False
for name, result in report["results"].items():
    if not name.startswith("dpone"):
        continue
    peak = result["peak_rss_mb"]
    ok = peak <= limit
    failed |= not ok
    print(f"{'ok  ' if ok else 'FAIL'} {name}: peak RSS {peak} MB (bound {limit:g} MB) — {artifact}")
if not report.get("verification", {}).get("equal", True):
    print(f"FAIL {artifact}: rows differ between source and targets")
    failed = True
sys.exit(1 if failed else 0)
