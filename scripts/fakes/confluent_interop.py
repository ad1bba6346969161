#!/usr/bin/env python3
"""Confluent interop fixture: produce and consume schema-registry framed records with
confluent-kafka-python's own serializers, so dpone's codecs can be checked against what the Confluent
clients write and read.

Run it with the interop venv's python (scripts/interop-venv.sh prints its path):

    PY=$(scripts/interop-venv.sh | tail -n 1)
    $PY scripts/fakes/confluent_interop.py produce --bootstrap B --registry R --topic T \\
        --format avro|protobuf|json_schema --count N [--start-id 1] [--subject-strategy topic_name]
    $PY scripts/fakes/confluent_interop.py consume --bootstrap B --registry R --topic T \\
        --format avro|protobuf|json_schema --count N [--timeout 30] [--group G] [--raw]

B: Kafka bootstrap servers (for dpone's mock cluster, `bootstrap` on the scripts/kafka.sh control
port). R: the schema registry URL (scripts/schema-registry.sh url; user:password@ allowed).

Records are deterministic so tests can compare: record i (from --start-id) is
    {"id": i, "name": "name-<i>", "amount": "<i * 1.25 with 2 decimals>",
     "created_at": "2024-01-02T03:04:05.123456Z" + i seconds}
with, per format:
    avro         record dpone.interop.Record {id: long, name: string, amount: string,
                 created_at: long (timestamp-micros)}
    protobuf     message dpone.interop.Record {int64 id = 1; string name = 2; string amount = 3;
                 google.protobuf.Timestamp created_at = 4;} (a dynamic message built from a
                 FileDescriptorProto: no protoc needed)
    json_schema  object {id: integer, name: string, amount: string, created_at: string (date-time)}
The key is the id, written by --key-format: string (StringSerializer, UTF-8 text, the default),
avro (AvroSerializer, record dpone.interop.Key {id: long} under <topic>-key), json_schema
(JSONSerializer, {"id": integer} under <topic>-key) or protobuf (ProtobufSerializer, message
dpone.interop.Key {int64 id = 1;} under <topic>-key). --tombstones 3,5 then produces a tombstone (null
value) for each of those ids, keyed the same way. Values go to subject <topic>-value
(TopicNameStrategy) unless --subject-strategy says otherwise.

produce prints one line to stdout: {"produced": N, "topic": T, "format": F, "subject": S,
"schema_id": ID}. consume prints each decoded record as one JSON line (same shape as above, plus
"_partition", "_offset" and "_schema_id" from the frame header; --raw adds "_value_hex", the
framed bytes), and exits 1 if fewer than N arrive
within --timeout seconds. consume also reads topics other writers produced (dpone's): Avro and JSON
Schema decode with the writer schema from the registry; Protobuf parses with the Record message
above after ProtobufDeserializer fetched the writer schema (?format=serialized), so any message whose
fields 1-4 have those types decodes. Values without a JSON form are printed as text: decimals
(Avro's decimal logical type) as their decimal string, datetimes in the ISO form above, bytes as hex.
"""

import argparse
import datetime as dt
import json
import struct
import sys
import time
import uuid

from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry import record_subject_name_strategy, topic_record_subject_name_strategy
from confluent_kafka.schema_registry import topic_subject_name_strategy
from confluent_kafka.serialization import MessageField, SerializationContext, StringSerializer

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
BASE_TIME = dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=dt.timezone.utc)
RECORD_NAME = "dpone.interop.Record"

AVRO_SCHEMA = json.dumps({
    "type": "record",
    "name": "Record",
    "namespace": "dpone.interop",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "name", "type": "string"},
        {"name": "amount", "type": "string"},
        {"name": "created_at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    ],
})

JSON_SCHEMA = json.dumps({
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Record",
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "amount": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
    },
    "required": ["id", "name", "amount", "created_at"],
    "additionalProperties": False,
})

STRATEGIES = {
    "topic_name": topic_subject_name_strategy,
    "record_name": record_subject_name_strategy,
    "topic_record_name": topic_record_subject_name_strategy,
}


def record(i):
    """The i-th deterministic record, in its neutral form (created_at as an aware datetime)."""
    return {
        "id": i,
        "name": "name-%d" % i,
        "amount": "%.2f" % (i * 1.25),
        "created_at": BASE_TIME + dt.timedelta(seconds=i),
    }


def iso(t):
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def protobuf_record_class():
    """dpone.interop.Record as a dynamic message class (descriptor_pb2, no generated code)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, timestamp_pb2
    from google.protobuf.message_factory import GetMessageClass

    pool = descriptor_pool.Default()
    try:
        return GetMessageClass(pool.FindMessageTypeByName(RECORD_NAME))
    except KeyError:
        pass
    file_proto = descriptor_pb2.FileDescriptorProto()
    file_proto.name = "dpone/interop/record.proto"
    file_proto.package = "dpone.interop"
    file_proto.syntax = "proto3"
    file_proto.dependency.append(timestamp_pb2.DESCRIPTOR.name)  # google/protobuf/timestamp.proto
    message = file_proto.message_type.add()
    message.name = "Record"
    F = descriptor_pb2.FieldDescriptorProto
    for number, (name, kind, type_name) in enumerate([
        ("id", F.TYPE_INT64, None),
        ("name", F.TYPE_STRING, None),
        ("amount", F.TYPE_STRING, None),
        ("created_at", F.TYPE_MESSAGE, ".google.protobuf.Timestamp"),
    ], start=1):
        field = message.field.add()
        field.name = name
        field.json_name = name
        field.number = number
        field.type = kind
        field.label = F.LABEL_OPTIONAL
        if type_name:
            field.type_name = type_name
    pool.Add(file_proto)
    return GetMessageClass(pool.FindMessageTypeByName(RECORD_NAME))


def registry_client(url):
    conf = {"url": url}
    # user:password@ in the URL → basic auth (confluent-kafka wants it as a separate setting).
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        userinfo, _, host = authority.rpartition("@")
        conf["url"] = scheme + sep + host + slash + path
        conf["basic.auth.user.info"] = userinfo
    return SchemaRegistryClient(conf)


def serializer(fmt, registry, strategy):
    conf = {"auto.register.schemas": True, "subject.name.strategy": STRATEGIES[strategy]}
    if fmt == "avro":
        from confluent_kafka.schema_registry.avro import AvroSerializer

        def to_dict(r, _ctx):
            micros = (r["created_at"] - EPOCH) // dt.timedelta(microseconds=1)
            return {"id": r["id"], "name": r["name"], "amount": r["amount"], "created_at": micros}

        return AvroSerializer(registry, AVRO_SCHEMA, to_dict, conf), None
    if fmt == "protobuf":
        from confluent_kafka.schema_registry.protobuf import ProtobufSerializer

        cls = protobuf_record_class()
        conf["use.deprecated.format"] = False
        ser = ProtobufSerializer(cls, registry, conf)

        def to_message(r):
            m = cls(id=r["id"], name=r["name"], amount=r["amount"])
            m.created_at.FromDatetime(r["created_at"])
            return m

        return ser, to_message
    if fmt == "json_schema":
        from confluent_kafka.schema_registry.json_schema import JSONSerializer

        def to_json(r, _ctx):
            return {"id": r["id"], "name": r["name"], "amount": r["amount"], "created_at": iso(r["created_at"])}

        return JSONSerializer(JSON_SCHEMA, registry, to_json, conf), None
    raise SystemExit("unknown format %s" % fmt)


KEY_AVRO_SCHEMA = json.dumps({
    "type": "record", "name": "Key", "namespace": "dpone.interop", "fields": [{"name": "id", "type": "long"}],
})
KEY_JSON_SCHEMA = json.dumps({
    "$schema": "http://json-schema.org/draft-07/schema#", "title": "Key", "type": "object",
    "properties": {"id": {"type": "integer"}}, "required": ["id"],
})


def protobuf_key_class():
    """dpone.interop.Key {int64 id = 1;} as a dynamic message class."""
    from google.protobuf import descriptor_pb2, descriptor_pool
    from google.protobuf.message_factory import GetMessageClass

    pool = descriptor_pool.Default()
    try:
        return GetMessageClass(pool.FindMessageTypeByName("dpone.interop.Key"))
    except KeyError:
        pass
    file_proto = descriptor_pb2.FileDescriptorProto()
    file_proto.name = "dpone/interop/key.proto"
    file_proto.package = "dpone.interop"
    file_proto.syntax = "proto3"
    message = file_proto.message_type.add()
    message.name = "Key"
    field = message.field.add()
    field.name = "id"
    field.json_name = "id"
    field.number = 1
    field.type = descriptor_pb2.FieldDescriptorProto.TYPE_INT64
    field.label = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
    pool.Add(file_proto)
    return GetMessageClass(pool.FindMessageTypeByName("dpone.interop.Key"))


def key_serializer(fmt, registry):
    """A function id -> key bytes, with confluent-kafka's own serializer for `fmt`."""
    if fmt == "string":
        ser = StringSerializer("utf_8")
        return lambda topic, i: ser(str(i))
    conf = {"auto.register.schemas": True}
    if fmt == "avro":
        from confluent_kafka.schema_registry.avro import AvroSerializer
        ser = AvroSerializer(registry, KEY_AVRO_SCHEMA, lambda k, _ctx: k, conf)
    elif fmt == "json_schema":
        from confluent_kafka.schema_registry.json_schema import JSONSerializer
        ser = JSONSerializer(KEY_JSON_SCHEMA, registry, lambda k, _ctx: k, conf)
    elif fmt == "protobuf":
        from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
        cls = protobuf_key_class()
        conf["use.deprecated.format"] = False
        inner = ProtobufSerializer(cls, registry, conf)
        return lambda topic, i: inner(cls(id=i), SerializationContext(topic, MessageField.KEY))
    else:
        raise SystemExit("unknown key format %s" % fmt)
    return lambda topic, i: ser({"id": i}, SerializationContext(topic, MessageField.KEY))


def deserializer(fmt, registry):
    if fmt == "avro":
        from confluent_kafka.schema_registry.avro import AvroDeserializer

        def from_dict(d, _ctx):
            if "created_at" not in d:  # another record shape (dpone's own): every field as decoded
                return dict(d)
            created = d["created_at"]
            if isinstance(created, int):  # fastavro may hand micros or a datetime
                created = EPOCH + dt.timedelta(microseconds=created)
            return {"id": d["id"], "name": d["name"], "amount": d["amount"], "created_at": iso(created)}

        return AvroDeserializer(registry, None, from_dict)
    if fmt == "protobuf":
        from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer

        cls = protobuf_record_class()
        inner = ProtobufDeserializer(cls, {"use.deprecated.format": False}, registry)

        def decode(value, ctx):
            m = inner(value, ctx)
            created = m.created_at.ToDatetime(tzinfo=dt.timezone.utc)
            return {"id": m.id, "name": m.name, "amount": m.amount, "created_at": iso(created)}

        return decode
    if fmt == "json_schema":
        from confluent_kafka.schema_registry.json_schema import JSONDeserializer

        return JSONDeserializer(None, schema_registry_client=registry)
    raise SystemExit("unknown format %s" % fmt)


def produce(args):
    registry = registry_client(args.registry)
    ser, to_message = serializer(args.format, registry, args.subject_strategy)
    key_ser = key_serializer(args.key_format, registry)
    producer = Producer({"bootstrap.servers": args.bootstrap, "enable.idempotence": True, "linger.ms": 5})
    failures = []

    def delivered(err, _msg):
        if err is not None:
            failures.append(str(err))

    schema_id = None
    for i in range(args.start_id, args.start_id + args.count):
        r = record(i)
        ctx = SerializationContext(args.topic, MessageField.VALUE)
        value = ser(to_message(r) if to_message else r, ctx)
        schema_id = struct.unpack(">bI", value[:5])[1]
        producer.produce(args.topic, key=key_ser(args.topic, r["id"]), value=value, on_delivery=delivered)
        producer.poll(0)
    tombstones = [int(t) for t in args.tombstones.split(",") if t] if args.tombstones else []
    for i in tombstones:
        producer.produce(args.topic, key=key_ser(args.topic, i), value=None, on_delivery=delivered)
        producer.poll(0)
    remaining = producer.flush(args.timeout)
    if remaining or failures:
        sys.stderr.write("confluent_interop: %d undelivered, errors: %s\n" % (remaining, failures[:3]))
        return 1
    subject = STRATEGIES[args.subject_strategy](SerializationContext(args.topic, MessageField.VALUE), RECORD_NAME if args.format != "json_schema" else "Record")
    print(json.dumps({
        "produced": args.count, "topic": args.topic, "format": args.format, "subject": subject, "schema_id": schema_id,
        "tombstones": len(tombstones),
    }))
    return 0


def json_default(value):
    """JSON for what writer schemas of other producers can hand back (dpone writes decimals as Avro decimals)."""
    import decimal
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return iso(value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc))
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    raise TypeError("%s is not JSON serializable" % type(value).__name__)


def consume(args):
    registry = registry_client(args.registry)
    des = deserializer(args.format, registry)
    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        "group.id": args.group or "dpone-interop-%s" % uuid.uuid4().hex[:12],
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([args.topic])
    seen = 0
    deadline = time.monotonic() + args.timeout
    try:
        while seen < args.count and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                sys.stderr.write("confluent_interop: %s\n" % msg.error())
                continue
            value = msg.value()
            ctx = SerializationContext(msg.topic(), MessageField.VALUE, msg.headers())
            decoded = des(value, ctx)
            if isinstance(decoded, dict) and "created_at" in decoded and not isinstance(decoded["created_at"], str):
                decoded["created_at"] = iso(decoded["created_at"])
            decoded = dict(decoded)
            decoded["_partition"] = msg.partition()
            decoded["_offset"] = msg.offset()
            decoded["_schema_id"] = struct.unpack(">bI", value[:5])[1] if value and len(value) >= 5 else None
            if args.raw:
                decoded["_value_hex"] = value.hex() if value is not None else None
            print(json.dumps(decoded, sort_keys=True, default=json_default), flush=True)
            seen += 1
    finally:
        consumer.close()  # leave the group: the mock cluster blocks the next join otherwise
    if seen < args.count:
        sys.stderr.write("confluent_interop: consumed %d of %d records within %ss\n" % (seen, args.count, args.timeout))
        return 1
    return 0


def main():
    parser = argparse.ArgumentParser(description="Confluent serializer interop fixture for dpone")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("produce", "consume"):
        p = sub.add_parser(name)
        p.add_argument("--bootstrap", required=True)
        p.add_argument("--registry", required=True)
        p.add_argument("--topic", required=True)
        p.add_argument("--format", required=True, choices=["avro", "protobuf", "json_schema"])
        p.add_argument("--count", type=int, required=True)
        p.add_argument("--timeout", type=float, default=30.0)
        if name == "produce":
            p.add_argument("--start-id", type=int, default=1)
            p.add_argument("--subject-strategy", choices=sorted(STRATEGIES), default="topic_name")
            p.add_argument("--key-format", choices=["string", "avro", "json_schema", "protobuf"], default="string")
            p.add_argument("--tombstones", default="", help="ids to delete after the records, comma-separated")
        else:
            p.add_argument("--group", default=None)
            p.add_argument("--raw", action="store_true", help="add the framed value bytes as _value_hex")
    args = parser.parse_args()
    return produce(args) if args.command == "produce" else consume(args)


if __name__ == "__main__":
    sys.exit(main())
