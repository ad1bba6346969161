#!/usr/bin/env bash
# Records the static thresholds in Thresholds/ from a fresh run, keeping only the deterministic
# metric (mallocCountTotal). The run uses every benchmark's own metric set, the same one
# `swift package benchmark thresholds check` runs with: the measurement itself allocates a few
# times per iteration depending on which metrics are on, so recording with `--metric
# mallocCountTotal` alone would be off by that overhead (16 here).
# Usage: cd Benchmarks && ./update-thresholds.sh [extra benchmark options, e.g. --filter RowHash]
set -euo pipefail
cd "$(dirname "$0")"
flock /tmp/dpone-build.lock \
  swift package --allow-writing-to-package-directory benchmark thresholds update --no-progress "$@"
python3 - <<'PY'
import json, pathlib
for f in sorted(pathlib.Path("Thresholds").glob("*.p90.json")):
    kept = {k: v for k, v in json.loads(f.read_text()).items() if k == "mallocCountTotal"}
    f.write_text(json.dumps(kept, indent=2, sort_keys=True) + "\n")
    print(f"{f}: {kept}")
PY
