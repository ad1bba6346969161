#!/usr/bin/env bash
# The Python virtualenv for Confluent interop fixtures (scripts/fakes/confluent_interop.py):
# confluent-kafka with its schema-registry serializers, fastavro, protobuf, jsonschema, requests, at the
# versions pinned in scripts/fakes/interop-requirements.txt (they install from PyPI wheels on Python 3.11).
#
# usage: scripts/interop-venv.sh        creates $SERVICES/interop-venv when missing or incomplete,
#                                        then prints the venv's python path as its last line
#
# A no-op (0.2 s) when the venv already imports everything. Installing the first time needs PyPI (or
# the index in PIP_INDEX_URL): it is probed first, so an offline machine gets a clear error.
# SERVICES=${DPONE_SERVICES_DIR:-$ROOT/.services}.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SERVICES="${DPONE_SERVICES_DIR:-$ROOT/.services}"
VENV="$SERVICES/interop-venv"
REQUIREMENTS="$ROOT/scripts/fakes/interop-requirements.txt"
INDEX="${PIP_INDEX_URL:-https://pypi.org/simple}"

die() { echo "interop-venv.sh: $*" >&2; exit 1; }

complete() {
  [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - "$REQUIREMENTS" >/dev/null 2>&1 <<'PY'
import sys
from importlib.metadata import version, PackageNotFoundError
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, wanted = line.split("==")
    try:
        if version(name) != wanted:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
import confluent_kafka.schema_registry.avro, confluent_kafka.schema_registry.protobuf  # noqa: E401,F401
import confluent_kafka.schema_registry.json_schema, fastavro, jsonschema, requests  # noqa: E401,F401
PY
}

if ! complete; then
  command -v python3 >/dev/null || die "python3 is missing (apt-get install python3 python3-venv)"
  python3 - "$INDEX" <<'PY' || die "the package index $INDEX is unreachable: cannot install the interop packages"
import sys, urllib.request
urllib.request.urlopen(sys.argv[1].rstrip("/") + "/confluent-kafka/", timeout=15).read(1)
PY
  echo "interop-venv.sh: installing the pinned interop packages into $VENV" >&2
  mkdir -p "$SERVICES"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" || die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQUIREMENTS" >&2 \
    || die "pip install -r $REQUIREMENTS failed"
  complete || die "the venv at $VENV does not import the interop packages after installing"
fi
echo "$VENV/bin/python"
