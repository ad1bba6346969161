#!/usr/bin/env bash
# Every end-to-end workload, one command, then one summary of ratios:
#
#   Benchmarks/harness/run-all.sh            # the issue's sizes (about 30-40 minutes on 2 cores)
#   QUICK=1 Benchmarks/harness/run-all.sh    # scaled down (a few minutes): same harnesses, smaller inputs
#
# Runs, in order (each harness installs, builds and starts what it needs, and writes its own
# artifact under test_artifacts/benchmarks/<date>_*):
#   W1  compare-clickhouse.sh  PG -> ClickHouse full_refresh vs psql | curl TabSeparated (narrow, and 50-column wide)
#   W2  compare-postgres.sh    PG -> PG full_refresh / incremental_merge vs psql binary COPY pipe
#       peers-postgres.sh      PG -> PG: dpone vs Sling vs dpone-python 0.88.0 (PyPI)
#   W1  peers-clickhouse.sh    PG -> modern ClickHouse 26.9: dpone vs raw pipe vs Sling vs dpone-python
#   W3  compare-kafka.sh       Kafka JSON, 64 partitions -> ClickHouse vs consume-only
#   W4  compare-cdc.sh         PG CDC -> PG (dpone stream, cdc_apply): changes/s, lag p50/p99
# plus the profiles of profile.sh (PROFILE=1, the default here), and writes
# test_artifacts/benchmarks/<date>_summary.md with the ratio of every workload (a
# harness that fails is recorded with its exit code; the others still run). Sizes: W1_ROWS,
# W1_WIDE_ROWS, W2_ROWS, PEER_ROWS, PEER_CH_ROWS, W3_MESSAGES, W4_ROWS, W4_CHANGES, RUNS override the defaults.
set -uo pipefail
cd "$(dirname "$0")/../.."
H=Benchmarks/harness
if [ "${QUICK:-0}" = 1 ]; then
  : "${W1_ROWS:=500000}" "${W1_WIDE_ROWS:=100000}" "${W2_ROWS:=500000}" "${PEER_ROWS:=200000}" "${PEER_CH_ROWS:=200000}" "${W3_MESSAGES:=250000}"
  : "${W4_ROWS:=200000}" "${W4_CHANGES:=200000}" "${RUNS:=1}" "${RSS_SMALL:=100000}" "${RSS_LARGE:=1000000}"
fi
: "${W1_ROWS:=5000000}" "${W1_WIDE_ROWS:=1000000}" "${W2_ROWS:=5000000}" "${PEER_ROWS:=1000000}" "${PEER_CH_ROWS:=1000000}" "${W3_MESSAGES:=2000000}"
: "${W4_ROWS:=1000000}" "${W4_CHANGES:=1000000}" "${RUNS:=3}"
: "${RSS_SMALL:=1000000}" "${RSS_LARGE:=10000000}"
# Each W1/W2/W3 harness adds one untimed run under a system-wide perf profile (profile.sh) after its
# timed runs: test_artifacts/benchmarks/<date>_profile-*.txt. PROFILE=0 skips them.
export PROFILE="${PROFILE:-1}"
LOG=.build/bench-all
mkdir -p "$LOG"
STATUS="$LOG/status"
: >"$STATUS"
step() { # name command...
  local name=$1; shift
  echo "== $name: $*" >&2
  "$@" >"$LOG/$name.log" 2>&1
  local rc=$?
  echo "$name $rc" >>"$STATUS"
  [ $rc -eq 0 ] || echo "== $name failed (exit $rc): see $LOG/$name.log" >&2
}
step w1_narrow "$H/compare-clickhouse.sh" "$W1_ROWS" "$RUNS" narrow
step w1_wide "$H/compare-clickhouse.sh" "$W1_WIDE_ROWS" "$RUNS" wide
# W1's memory target: peak RSS within 10% between RSS_SMALL and RSS_LARGE rows (one run each).
step w1_rss_small "$H/compare-clickhouse.sh" "$RSS_SMALL" 1 narrow
step w1_rss_large "$H/compare-clickhouse.sh" "$RSS_LARGE" 1 narrow
step w1_peers "$H/peers-clickhouse.sh" "$PEER_CH_ROWS" "$RUNS"
step w2 "$H/compare-postgres.sh" "$W2_ROWS" "$RUNS"
step w2_peers "$H/peers-postgres.sh" "$PEER_ROWS" 1
step w3 "$H/compare-kafka.sh" "$W3_MESSAGES" "$RUNS"
step w4 "$H/compare-cdc.sh" "$W4_ROWS" "$W4_CHANGES"

python3 - "$STATUS" "$W1_ROWS" "$W1_WIDE_ROWS" "$W2_ROWS" "$PEER_ROWS" "$W3_MESSAGES" "$W4_CHANGES" "$PEER_CH_ROWS" "$RSS_SMALL" "$RSS_LARGE" <<'PY'
import json, sys, datetime, os
status = dict(line.split() for line in open(sys.argv[1]))
w1, w1w, w2, peer, w3, w4, peer_ch, rss_small, rss_large = sys.argv[2:11]
date = datetime.date.today().isoformat()
d = "test_artifacts/benchmarks"
def load(slug):
    try: return json.load(open(f"{d}/{date}_{slug}.json"))
    except OSError: return None
rows = []
def row(workload, step, slug, fn):
    doc = load(slug) if status.get(step) == "0" else None
    rows.append((workload, fn(doc) if doc else f"failed (exit {status.get(step, '?')}, see .build/bench-all/{step}.log)"))
def ch(doc):
    r = doc["results"]; a, b = r["dpone_full_refresh_native"], r["raw_psql_copy_to_curl_tsv"]
    return f"dpone {a['rows_per_s']:,} rows/s vs raw {b['rows_per_s']:,}: **{doc['ratio_dpone_to_raw']}x**; dpone RSS {a['peak_rss_mb']} MB"
row(f"W1 PG -> ClickHouse full_refresh, {int(w1):,} narrow rows", "w1_narrow", f"pg-to-clickhouse-{w1}", ch)
row(f"W1 wide (50 columns), {int(w1w):,} rows", "w1_wide", f"pg-to-clickhouse-{w1w}-wide", ch)
small = load(f"pg-to-clickhouse-{rss_small}") if status.get("w1_rss_small") == "0" else None
large = load(f"pg-to-clickhouse-{rss_large}") if status.get("w1_rss_large") == "0" else None
if small and large:
    a, b = (x["results"]["dpone_full_refresh_native"]["peak_rss_mb"] for x in (small, large))
    rows.append((f"W1 memory, {int(rss_small):,} vs {int(rss_large):,} rows", f"dpone peak RSS {a} MB vs {b} MB: **{(b - a) / a * 100:+.1f}%** (target within 10%)"))
else:
    rows.append((f"W1 memory, {int(rss_small):,} vs {int(rss_large):,} rows", "failed (see .build/bench-all/w1_rss_*.log)"))
def peers_ch(doc):
    r = doc["results"]; a = r["dpone"]
    parts = [f"dpone {a['rows_per_s']:,} rows/s ({a['peak_rss_mb']} MB)"]
    for k, v in r.items():
        if k != "dpone":
            parts.append(f"{k} {v['rows_per_s']:,} ({v['peak_rss_mb']} MB): dpone **{a['rows_per_s'] / v['rows_per_s']:.2f}x**")
    parts += [f"{k} failed: `{why}`" for k, why in doc.get("failures", {}).items()]
    return "; ".join(parts)
row(f"W1 peers on modern ClickHouse, {int(peer_ch):,} rows", "w1_peers", f"peers-pg-to-clickhouse-modern-{peer_ch}", peers_ch)
def pg(doc):
    r = doc["results"]; a, b, m = r["dpone_full_refresh"], r["raw_binary_copy"], r["dpone_incremental_merge_20pct"]
    return (f"full_refresh dpone {a['rows_per_s']:,} rows/s vs binary COPY pipe {b['rows_per_s']:,}: **{doc['ratio_dpone_to_raw']}x**, "
            f"RSS {a['peak_rss_mb']} MB; incremental_merge {m['rows_per_s']:,} changed rows/s")
row(f"W2 PG -> PG, {int(w2):,} rows", "w2", f"pg-to-pg-{w2}", pg)
def peers(doc):
    r = doc["results"]; a = r["dpone"]
    parts = [f"dpone {a['rows_per_s']:,} rows/s ({a['peak_rss_mb']} MB)"]
    for k, v in r.items():
        if k != "dpone" and isinstance(v, dict) and "rows_per_s" in v:
            parts.append(f"{k} {v['rows_per_s']:,} ({v['peak_rss_mb']} MB): dpone **{a['rows_per_s'] / v['rows_per_s']:.2f}x**, memory {a['peak_rss_mb'] / v['peak_rss_mb']:.2f}")
    return "; ".join(parts)
row(f"W2 peers, {int(peer):,} rows", "w2_peers", f"peers-pg-to-pg-{peer}", peers)
def kafka(doc):
    r = doc["results"]; a, b = r["dpone_kafka_to_clickhouse"], r["kcat_consume_only"]
    return f"dpone {a['messages_per_s']:,} msg/s vs consume-only {b['messages_per_s']:,}: **{doc['ratio_dpone_to_consume_only']}x**"
row(f"W3 Kafka JSON -> ClickHouse, {int(w3):,} produced", "w3", f"kafka-to-clickhouse-{w3}", kafka)
def cdc(doc):
    r = doc["results"]
    return (f"**{r['changes_per_s']:,} changes/s** (workload itself {r['workload_changes_per_s']:,}/s), lag p50/p99 "
            f"{r['replication_lag_s']['p50']}/{r['replication_lag_s']['p99']} s, RSS {r['peak_rss_mb']} MB")
row(f"W4 PG CDC -> PG, {int(w4):,} changes", "w4", f"pg-cdc-to-pg-{w4}", cdc)
os.makedirs(d, exist_ok=True)
with open(f"{d}/{date}_summary.md", "w") as f:
    f.write(f"# Benchmarks summary — {date}\n\nRunner: `Benchmarks/harness/run-all.sh`{' (QUICK=1)' if os.environ.get('QUICK') == '1' else ''}; "
            "each line's artifact is beside this file (same date).\n\n| workload | result |\n| --- | --- |\n")
    for w, r in rows: f.write(f"| {w} | {r} |\n")
    import glob
    profiles = sorted(glob.glob(f"{d}/{date}_profile-*.txt"))
    if profiles:
        f.write("\nProfiles (where the time goes, one untimed run each under `perf record -a`): "
                + ", ".join(f"`{os.path.basename(p)}`" for p in profiles) + "\n")
print(open(f"{d}/{date}_summary.md").read())
PY
! grep -qv ' 0$' "$STATUS"
