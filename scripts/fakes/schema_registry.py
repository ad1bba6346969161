#!/usr/bin/env python3
"""A local fake of the Confluent Schema Registry REST API, for dpone's tests and demos.

Python 3 standard library only. It speaks enough of the API for dpone's SchemaRegistryClient and for
confluent-kafka-python's SchemaRegistryClient (serializers and deserializers): ids, subjects,
versions, lookup, delete, config. It does NOT check compatibility (every registration is accepted
and PUT /config only stores the level) and does not normalise schemas beyond comparing JSON schema
texts (AVRO, JSON) by their parsed value, so whitespace and key order do not make a new id.

Protobuf schemas behave as in the real registry (via proto_descriptor.py, next to this file):
confluent-kafka-python's ProtobufSerializer registers the base64 of a serialized FileDescriptorProto;
the fake converts it to .proto text when it is registered (or looked up) and stores and returns that
text. ?format=serialized on GET /schemas/ids/{id} and GET /subjects/{s}/versions/{v} (what the
Confluent deserializers ask for) answers the base64 FileDescriptorProto compiled from the stored
text, its imports resolved through the schema's references and the well-known google/protobuf types.
Other schemas are returned exactly as registered.

    schema_registry.py --host 127.0.0.1 --port 18081 [--data FILE] [--user USER:PASSWORD]

--data FILE keeps the state in FILE (JSON, rewritten atomically after every change) so a restart
keeps ids. --user turns on HTTP basic auth: requests without those credentials get 401.
Unknown query parameters (?subject=..., ?normalize=false, ?fetchMaxId=...) are ignored.

Error bodies are {"error_code": N, "message": "..."} as the real registry sends them:
40401 subject not found, 40402 version not found, 40403 schema not found, 40408 subject has no
compatibility config, 42201 invalid schema, 42202 invalid version, 401 unauthorized.
"""

import argparse
import base64
import json
import os
import signal
import sys
import threading

import proto_descriptor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit, parse_qs

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
SCHEMA_TYPES = ("AVRO", "PROTOBUF", "JSON")
COMPATIBILITY_LEVELS = (
    "NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE",
)


class RegistryError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class Store:
    """The registry's state, guarded by one lock; persisted to `path` after every change."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.next_id = 1
        # id (int) -> {"schema": str, "schemaType": str, "references": [...]}
        self.schemas = {}
        # subject -> {"versions": [{"version": int, "id": int, "deleted": bool}], "compatibility": str|None}
        self.subjects = {}
        self.compatibility = "BACKWARD"
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                state = json.load(f)
            self.next_id = state.get("next_id", 1)
            self.schemas = {int(k): v for k, v in state.get("schemas", {}).items()}
            for entry in self.schemas.values():  # state written before Protobuf descriptors were converted
                if entry["schemaType"] == "PROTOBUF":
                    data = proto_descriptor.looks_like_descriptor(entry["schema"])
                    if data is not None:
                        entry["schema"] = proto_descriptor.descriptor_to_text(data)
            self.subjects = state.get("subjects", {})
            self.compatibility = state.get("compatibility", "BACKWARD")

    def save(self):
        if not self.path:
            return
        state = {
            "next_id": self.next_id,
            "schemas": {str(k): v for k, v in self.schemas.items()},
            "subjects": self.subjects,
            "compatibility": self.compatibility,
        }
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(state, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    # -- helpers (call with the lock held) --

    @staticmethod
    def identity(schema, schema_type, references):
        """What makes two registrations the same schema: type, parsed text, references."""
        text = schema
        if schema_type in ("AVRO", "JSON"):
            try:
                text = json.dumps(json.loads(schema), sort_keys=True, separators=(",", ":"))
            except ValueError:
                pass
        refs = sorted((r.get("name"), r.get("subject"), r.get("version")) for r in references)
        return (schema_type, text, tuple(refs))

    def find_id(self, schema, schema_type, references):
        wanted = self.identity(schema, schema_type, references)
        for schema_id, entry in self.schemas.items():
            if self.identity(entry["schema"], entry["schemaType"], entry.get("references", [])) == wanted:
                return schema_id
        return None

    def subject(self, name, include_deleted=False):
        entry = self.subjects.get(name)
        if entry is None or not any(include_deleted or not v["deleted"] for v in entry["versions"]):
            raise RegistryError(404, 40401, "Subject '%s' not found." % name)
        return entry

    def live_versions(self, name, include_deleted=False):
        return [v for v in self.subject(name, include_deleted)["versions"] if include_deleted or not v["deleted"]]

    def version(self, name, label):
        versions = self.live_versions(name)
        if label in ("latest", "-1"):
            return versions[-1]
        try:
            number = int(label)
        except ValueError:
            raise RegistryError(422, 42202, "The specified version '%s' is not a valid version id." % label)
        for v in versions:
            if v["version"] == number:
                return v
        raise RegistryError(404, 40402, "Version %s not found." % label)

    def schema_text(self, entry, fmt):
        """The stored schema, or for ?format=serialized of a Protobuf schema its base64 FileDescriptorProto."""
        if fmt != "serialized" or entry["schemaType"] != "PROTOBUF":
            return entry["schema"]
        imports = {r["name"]: r for r in entry.get("references", [])}

        def resolve(path):
            ref = imports.get(path)
            if ref is None:
                return None
            return self.schemas[self.version(ref["subject"], str(ref["version"]))["id"]]["schema"]

        try:
            data = proto_descriptor.text_to_descriptor(entry["schema"], resolve)
        except (ValueError, KeyError, IndexError) as e:
            raise RegistryError(422, 42201, "Invalid schema: cannot serialize the Protobuf schema (%s)" % e)
        return base64.standard_b64encode(data).decode("ascii")

    def describe(self, name, v, fmt=None):
        entry = self.schemas[v["id"]]
        out = {"subject": name, "version": v["version"], "id": v["id"], "schema": self.schema_text(entry, fmt)}
        if entry["schemaType"] != "AVRO":
            out["schemaType"] = entry["schemaType"]
        if entry.get("references"):
            out["references"] = entry["references"]
        return out


def parse_schema_body(body):
    if not isinstance(body, dict) or not isinstance(body.get("schema"), str):
        raise RegistryError(422, 42201, "Invalid schema: the body needs a string field \"schema\"")
    schema_type = (body.get("schemaType") or "AVRO").upper()
    if schema_type not in SCHEMA_TYPES:
        raise RegistryError(422, 42201, "Invalid schema type %s" % body.get("schemaType"))
    references = body.get("references") or []
    if not isinstance(references, list) or not all(
        isinstance(r, dict) and isinstance(r.get("name"), str) and isinstance(r.get("subject"), str)
        and isinstance(r.get("version"), int)
        for r in references
    ):
        raise RegistryError(422, 42201, "Invalid schema: bad references")
    schema = body["schema"]
    if schema_type in ("AVRO", "JSON"):
        try:
            json.loads(schema)
        except ValueError as e:
            raise RegistryError(422, 42201, "Invalid schema: %s is not valid JSON (%s)" % (schema_type, e))
    elif not schema.strip():
        raise RegistryError(422, 42201, "Invalid schema: empty Protobuf schema")
    else:
        # A serialized FileDescriptorProto (base64): kept as .proto text, as the real registry does.
        data = proto_descriptor.looks_like_descriptor(schema)
        if data is not None:
            try:
                schema = proto_descriptor.descriptor_to_text(data)
            except (ValueError, KeyError, IndexError, StopIteration) as e:
                raise RegistryError(422, 42201, "Invalid schema: cannot read the Protobuf descriptor (%s)" % e)
    return schema, schema_type, [{"name": r["name"], "subject": r["subject"], "version": r["version"]} for r in references]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dpone-fake-schema-registry/1"
    store = None  # set in main
    credentials = None  # "user:password" or None

    def log_message(self, fmt, *args):  # one line per request, never headers (they hold credentials)
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    # -- plumbing --

    def send_json(self, status, value):
        data = json.dumps(value).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        if not raw:
            return None
        try:
            return json.loads(raw.decode("utf-8"))
        except ValueError:
            raise RegistryError(400, 400, "Unrecognized request body: not JSON")

    def authorized(self):
        if not self.credentials:
            return True
        header = self.headers.get("Authorization") or ""
        if not header.startswith("Basic "):
            return False
        try:
            given = base64.b64decode(header[6:].strip()).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return False
        return given == self.credentials

    def dispatch(self):
        try:
            if not self.authorized():
                # Drain the body so the connection stays usable.
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                self.send_json(401, {"error_code": 401, "message": "Unauthorized"})
                return
            url = urlsplit(self.path)
            parts = [unquote(p) for p in url.path.split("/") if p != ""]
            query = parse_qs(url.query)
            body = self.read_body() if self.command in ("POST", "PUT") else None
            status, value = self.route(self.command, parts, query, body)
            self.send_json(status, value)
        except RegistryError as e:
            self.send_json(e.status, {"error_code": e.code, "message": e.message})
        except Exception as e:  # a bug in the fake: answer 500 rather than drop the connection
            self.send_json(500, {"error_code": 50001, "message": "fake registry error: %s" % e})

    do_GET = do_POST = do_PUT = do_DELETE = dispatch

    # -- the API --

    def route(self, method, parts, query, body):
        store = self.store
        flag = lambda name: (query.get(name) or ["false"])[0].lower() == "true"  # noqa: E731
        fmt = (query.get("format") or [None])[0]
        with store.lock:
            if parts == [] and method == "GET":
                return 200, {}
            if parts[:2] == ["schemas", "types"] and method == "GET":
                return 200, list(SCHEMA_TYPES)
            if len(parts) >= 3 and parts[:2] == ["schemas", "ids"]:
                try:
                    schema_id = int(parts[2])
                except ValueError:
                    raise RegistryError(404, 40403, "Schema %s not found" % parts[2])
                entry = store.schemas.get(schema_id)
                if entry is None:
                    raise RegistryError(404, 40403, "Schema %d not found" % schema_id)
                if len(parts) == 3 and method == "GET":
                    out = {"schema": store.schema_text(entry, fmt)}
                    if entry["schemaType"] != "AVRO":
                        out["schemaType"] = entry["schemaType"]
                    if entry.get("references"):
                        out["references"] = entry["references"]
                    return 200, out
                if parts[3:] == ["schema"] and method == "GET":
                    return 200, store.schema_text(entry, fmt)
                if parts[3:] == ["subjects"] and method == "GET":
                    return 200, sorted(
                        s for s, e in store.subjects.items() if any(v["id"] == schema_id and not v["deleted"] for v in e["versions"]))
                if parts[3:] == ["versions"] and method == "GET":
                    return 200, [
                        {"subject": s, "version": v["version"]}
                        for s, e in sorted(store.subjects.items()) for v in e["versions"]
                        if v["id"] == schema_id and not v["deleted"]
                    ]
            if parts == ["subjects"] and method == "GET":
                deleted = flag("deleted")
                return 200, sorted(
                    s for s, e in store.subjects.items() if any(deleted or not v["deleted"] for v in e["versions"]))
            if len(parts) >= 2 and parts[0] == "subjects":
                return self.subject_route(method, parts[1], parts[2:], flag, body, fmt)
            if parts and parts[0] == "config":
                return self.config_route(method, parts[1:], body)
            if parts == ["mode"] and method == "GET":
                return 200, {"mode": "READWRITE"}
            if len(parts) == 5 and parts[:2] == ["compatibility", "subjects"] and parts[3] == "versions" and method == "POST":
                store.subject(parts[2])
                parse_schema_body(body)
                return 200, {"is_compatible": True}
        raise RegistryError(404, 404, "HTTP 404 Not Found")

    def subject_route(self, method, name, rest, flag, body, fmt=None):
        store = self.store
        if rest == [] and method == "POST":  # lookup
            schema, schema_type, references = parse_schema_body(body)
            entry = store.subject(name, include_deleted=flag("deleted"))
            wanted = store.identity(schema, schema_type, references)
            for v in entry["versions"]:
                if v["deleted"] and not flag("deleted"):
                    continue
                known = store.schemas[v["id"]]
                if store.identity(known["schema"], known["schemaType"], known.get("references", [])) == wanted:
                    return 200, store.describe(name, v, fmt)
            raise RegistryError(404, 40403, "Schema not found")
        if rest == [] and method == "DELETE":
            permanent = flag("permanent")
            entry = store.subjects.get(name)
            if entry is None or not entry["versions"]:
                raise RegistryError(404, 40401, "Subject '%s' not found." % name)
            if permanent:
                versions = [v["version"] for v in entry["versions"]]
                del store.subjects[name]
            else:
                live = [v for v in entry["versions"] if not v["deleted"]]
                if not live:
                    raise RegistryError(404, 40404, "Subject '%s' was soft deleted." % name)
                versions = [v["version"] for v in live]
                for v in live:
                    v["deleted"] = True
            store.save()
            return 200, versions
        if rest == ["versions"] and method == "GET":
            return 200, [v["version"] for v in store.live_versions(name, include_deleted=flag("deleted"))]
        if rest == ["versions"] and method == "POST":  # register
            schema, schema_type, references = parse_schema_body(body)
            for ref in references:
                store.version(ref["subject"], str(ref["version"]))  # the referenced schema must exist
            entry = store.subjects.setdefault(name, {"versions": [], "compatibility": None})
            schema_id = store.find_id(schema, schema_type, references)
            if schema_id is not None:
                for v in entry["versions"]:
                    if v["id"] == schema_id and not v["deleted"]:
                        return 200, {"id": schema_id}
            if schema_id is None:
                schema_id = store.next_id
                store.next_id += 1
                store.schemas[schema_id] = {"schema": schema, "schemaType": schema_type, "references": references}
            number = max([v["version"] for v in entry["versions"]] or [0]) + 1
            entry["versions"].append({"version": number, "id": schema_id, "deleted": False})
            store.save()
            return 200, {"id": schema_id}
        if len(rest) >= 2 and rest[0] == "versions" and method == "GET":
            v = store.version(name, rest[1])
            if rest[2:] == []:
                return 200, store.describe(name, v, fmt)
            if rest[2:] == ["schema"]:
                return 200, store.schema_text(store.schemas[v["id"]], fmt)
            if rest[2:] == ["referencedby"]:
                return 200, []
        if len(rest) == 2 and rest[0] == "versions" and method == "DELETE":
            v = store.version(name, rest[1])
            v["deleted"] = True
            store.save()
            return 200, v["version"]
        raise RegistryError(404, 404, "HTTP 404 Not Found")

    def config_route(self, method, rest, body):
        store = self.store
        if rest == [] and method == "GET":
            return 200, {"compatibilityLevel": store.compatibility}
        level = None
        if method == "PUT":
            level = (body or {}).get("compatibility") if isinstance(body, dict) else None
            if not isinstance(level, str) or level.upper() not in COMPATIBILITY_LEVELS:
                raise RegistryError(422, 42203, "Invalid compatibility level: %s" % level)
            level = level.upper()
        if rest == [] and method == "PUT":
            store.compatibility = level
            store.save()
            return 200, {"compatibility": level}
        if len(rest) == 1:
            name = rest[0]
            if method == "GET":
                entry = store.subjects.get(name)
                if entry is None or not entry.get("compatibility"):
                    raise RegistryError(404, 40408, "Subject '%s' does not have subject-level compatibility configured" % name)
                return 200, {"compatibilityLevel": entry["compatibility"]}
            if method == "PUT":
                store.subjects.setdefault(name, {"versions": [], "compatibility": None})["compatibility"] = level
                store.save()
                return 200, {"compatibility": level}
            if method == "DELETE":
                entry = store.subjects.get(name)
                old = entry.get("compatibility") if entry else None
                if not old:
                    raise RegistryError(404, 40408, "Subject '%s' does not have subject-level compatibility configured" % name)
                entry["compatibility"] = None
                store.save()
                return 200, {"compatibilityLevel": old}
        raise RegistryError(404, 404, "HTTP 404 Not Found")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default listen backlog is 5: a burst of concurrent clients overflows it and
    # the kernel later resets the overflowed connections. A registry listens with a real backlog.
    request_queue_size = 4096


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18081)
    parser.add_argument("--data", default=None, help="JSON file keeping the state across restarts")
    parser.add_argument("--user", default=None, help="USER:PASSWORD required as HTTP basic auth")
    args = parser.parse_args()
    if args.user is not None and ":" not in args.user:
        parser.error("--user takes USER:PASSWORD")

    Handler.store = Store(args.data)
    Handler.credentials = args.user
    server = Server((args.host, args.port), Handler)

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # A parent may have spawned us with these blocked (threads of Swift's cooperative pool block
    # most signals, and Foundation's Process keeps the mask): stop must still work.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    sys.stderr.write("fake schema registry on http://%s:%d (data %s, auth %s)\n" % (
        args.host, args.port, args.data or "in memory", "on" if args.user else "off"))
    sys.stderr.flush()
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main()
