#!/usr/bin/env bash
# W3: Kafka (JSON, ~100-byte values, 64 partitions) -> ClickHouse, dpone against consume-only.
#
#   Benchmarks/harness/compare-kafka.sh [MESSAGES] [RUNS]     (defaults: 2000000 messages, 3 runs)
#
# Produces MESSAGES JSON messages into a 64-partition topic of the local Kafka (librdkafka's mock
# cluster, scripts/kafka.sh) with kcat, then alternates RUNS times:
#   A  dpone batch: kafka (bounded window, whole topic) -> ClickHouse 18.16 incremental_append
#   B  consume-only: kcat -C ... -e (librdkafka, the same client library, payloads to /dev/null)
# reporting medians, the A/B ratio, peak RSS and CPU seconds per million messages, and verifying
# the counts. Writes test_artifacts/benchmarks/<date>_kafka-to-clickhouse-<messages>.md (+ .json).
# The mock cluster keeps only the newest messages of each partition (its log is a bounded in-memory
# ring: 279,664 to 333,006 of 2M over 64 partitions survived in runs here), so the rates count the
# messages it held, which both contenders read and the verification compares; a real broker keeps all.
set -euo pipefail
cd "$(dirname "$0")/../.."
MESSAGES="${1:-2000000}"
RUNS="${2:-3}"
scripts/install-deps.sh
command -v kcat >/dev/null || { apt-get install -y -qq kcat >/dev/null || { echo "apt-get install kcat failed" >&2; exit 1; }; }
# DPONE_BENCH_BIN: run another build of dpone (an earlier commit's, for a before/after comparison).
[ -n "${DPONE_BENCH_BIN:-}" ] || swift build -c release --product dpone >/dev/null
swift build --product dpone-kafka-mock >/dev/null
DPONE="${DPONE_BENCH_BIN:-$PWD/.build/release/dpone}"
CONTROL="$(scripts/kafka.sh start | tail -n 1)"
CH_URL="$(scripts/clickhouse.sh start | tail -n 1)"
ctl() { exec 3<>"/dev/tcp/${CONTROL%:*}/${CONTROL#*:}"; printf '%s\n' "$1" >&3; read -r l <&3; exec 3>&-; echo "$l"; }
BOOT="$(ctl bootstrap)"
TOPIC="bench_w3_$RANDOM"
[ "$(ctl "create $TOPIC 64")" = ok ] || { echo "cannot create $TOPIC" >&2; exit 1; }
WORK="$PWD/.build/bench-kafka"
rm -rf "$WORK"; mkdir -p "$WORK"
ch() { curl -sS --fail-with-body --data-binary "$1" "$CH_URL"; }

python3 - "$MESSAGES" >"$WORK/messages.jsonl" <<'PY'
import sys
for i in range(1, int(sys.argv[1]) + 1):
    print(f'{{"id":{i},"name":"customer-{i % 9973:05d}","amount":{i % 100000 / 100:.2f},"ts":"2026-11-25T10:{i % 60:02d}:{i % 59:02d}Z","ok":{str(i % 2 == 0).lower()}}}')
PY
AVG=$(awk '{ n += length($0) } END { printf "%d", n / NR }' "$WORK/messages.jsonl")
kcat -P -b "$BOOT" -t "$TOPIC" -X queue.buffering.max.messages=1000000 -X linger.ms=50 -l "$WORK/messages.jsonl"

ch "DROP DATABASE IF EXISTS bench_w3" >/dev/null
ch "CREATE DATABASE bench_w3" >/dev/null
cat > "$WORK/w3.yml" <<YAML
name: bench_w3
source:
  type: kafka
  connection: {url: "kafka://$BOOT"}
  topic: $TOPIC
  options:
    start: earliest
    schema: [{name: id, type: int64, nullable: false}, {name: name, type: string}, {name: amount, type: "decimal(12,2)"}, {name: ts, type: timestamptz}, {name: ok, type: bool}]
sink: {type: clickhouse, connection: {url: "$CH_URL"}, table: {schema: bench_w3, name: events}, strategy: {mode: incremental_append}}
state: {type: disabled}
YAML

measure() {
  local label=$1; shift
  /usr/bin/time -f "%e %M %U %S" -o "$WORK/time.txt" "$@" >"$WORK/$label.out" 2>"$WORK/$label.err" || {
    cat "$WORK/$label.err" "$WORK/$label.out"; exit 1; }
  read -r secs rss user sys <"$WORK/time.txt"
  echo "$label $secs $rss $(awk "BEGIN { print $user + $sys }")" >>"$WORK/times"
}
consume() { kcat -C -b "$BOOT" -t "$TOPIC" -o beginning -e -q -f '%s\n' | wc -l >"$WORK/consumed"; }
export -f consume; export BOOT TOPIC WORK

for run in $(seq 1 "$RUNS"); do
  ch "DROP TABLE IF EXISTS bench_w3.events" >/dev/null
  measure dpone "$DPONE" batch "$WORK/w3.yml" --progress none --format json
  measure consume_only bash -c consume
done
LOADED=$(ch "SELECT count() FROM bench_w3.events")
CONSUMED=$(cat "$WORK/consumed")
# PROFILE=1: one more (untimed) run under a system-wide profile (after the counts: it appends again).
if [ "${PROFILE:-0}" = 1 ]; then
  ch "DROP TABLE IF EXISTS bench_w3.events" >/dev/null
  Benchmarks/harness/profile.sh "w3-$MESSAGES" "$DPONE" batch "$WORK/w3.yml" --progress none
fi
python3 - "$WORK/times" "$MESSAGES" "$RUNS" "$LOADED" "$CONSUMED" "$AVG" <<'PY'
import json, statistics, sys, datetime, subprocess, os
times, n, runs, loaded, consumed, avg = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
data = {}
for line in open(times):
    label, secs, rss, cpu = line.split()
    data.setdefault(label, []).append((float(secs), int(rss), float(cpu)))
# The mock cluster drops old messages beyond its per-partition retention: rates count the
# messages the topic actually held (what both contenders read), reported next to those produced.
held = consumed
def summary(label):
    xs = data[label]; med = statistics.median(x[0] for x in xs)
    return {"runs": [x[0] for x in xs], "median_s": med, "messages_per_s": round(held / med),
            "peak_rss_mb": round(max(x[1] for x in xs) / 1024, 1), "cpu_s_per_million": round(statistics.median(x[2] for x in xs) / (held / 1e6), 2)}
res = {"dpone_kafka_to_clickhouse": summary("dpone"), "kcat_consume_only": summary("consume_only")}
ratio = res["dpone_kafka_to_clickhouse"]["messages_per_s"] / res["kcat_consume_only"]["messages_per_s"]
ok = loaded == consumed and consumed > 0
date = datetime.date.today().isoformat()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
report = {"name": f"W3 Kafka JSON -> ClickHouse, {n} messages produced ({consumed} retained), 64 partitions", "date": date, "machine": {"cores": os.cpu_count(), "cpu": cpu},
          "versions": {"swift": swift, "broker": "librdkafka 2.0.2 mock cluster (3 brokers)"}, "messages": n, "avg_value_bytes": avg, "runs": runs,
          "results": res, "ratio_dpone_to_consume_only": round(ratio, 2), "verification": {"loaded": loaded, "consumed": consumed, "equal": ok}}
base = f"test_artifacts/benchmarks/{date}_kafka-to-clickhouse-{n}"
json.dump(report, open(base + ".json", "w"), indent=2)
with open(base + ".md", "w") as f:
    f.write(f"# W3 Kafka (JSON, {avg}-byte values, 64 partitions) -> ClickHouse 18.16, {n:,} messages — {date}\n\n")
    f.write(f"- machine: {os.cpu_count()} cores, {cpu}; {swift}; broker: librdkafka 2.0.2 mock cluster on loopback\n")
    f.write(f"- runner: `Benchmarks/harness/compare-kafka.sh {n} {runs}` (A/B alternated, medians of {runs} runs)\n")
    f.write(f"- verification: ClickHouse rows {loaded:,}, consume-only read {consumed:,} — {'equal' if ok else 'DIFFERENT'}; produced {n:,} (the mock cluster keeps only the newest messages of each partition, so rates count the {consumed:,} it held)\n\n")
    f.write("| contender | median s | messages/s | peak RSS MB | CPU s / M messages |\n| --- | --- | --- | --- | --- |\n")
    for k, v in res.items():
        f.write(f"| {k} | {v['median_s']:.2f} | {v['messages_per_s']:,} | {v['peak_rss_mb']} | {v['cpu_s_per_million']} |\n")
    f.write(f"\nRatio dpone (decode JSON into columns, stage, publish to ClickHouse) / consume-only: **{ratio:.2f}**.\n")
print(open(base + ".md").read())
sys.exit(0 if ok else 1)
PY
