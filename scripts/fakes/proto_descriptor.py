"""Protobuf schemas in both forms a Confluent Schema Registry speaks, standard library only.

confluent-kafka-python's ProtobufSerializer registers a schema as the base64 of a serialized
FileDescriptorProto, and its deserializer asks for schemas with ?format=serialized. A real registry
keeps a parsed schema: it answers .proto text by default and the serialized descriptor on request,
whichever form was registered. The fake does the same with this module:

    descriptor_to_text(data: bytes) -> str      FileDescriptorProto bytes -> .proto text
    text_to_descriptor(text, resolve) -> bytes  .proto text -> FileDescriptorProto bytes
    looks_like_descriptor(schema: str) -> bytes | None   the bytes when `schema` is base64 of one

Covered: proto2/proto3 syntax, package, imports (public/weak), file options with scalar values,
messages, nested messages, enums (values, allow_alias, reserved), fields with labels / scalar and
named types / numbers / [default, packed, deprecated, json_name], maps (map_entry nested types),
oneofs, proto3 `optional` (synthetic oneofs), reserved ranges and names, extension ranges, extend
blocks, services with streaming rpcs. Type names in text are written fully qualified with a leading
dot (.google.protobuf.Timestamp), as the Confluent registry writes them. Groups and editions are
refused (ValueError). Custom (parenthesized) options are parsed and dropped.
"""

import base64
import binascii
import re

# -- wire format -------------------------------------------------------------------------------

TYPE_NAMES = {
    1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 6: "fixed64", 7: "fixed32", 8: "bool",
    9: "string", 12: "bytes", 13: "uint32", 15: "sfixed32", 16: "sfixed64", 17: "sint32", 18: "sint64",
}
SCALARS = {v: k for k, v in TYPE_NAMES.items()}
TYPE_GROUP, TYPE_MESSAGE, TYPE_ENUM = 10, 11, 14
LABEL_OPTIONAL, LABEL_REQUIRED, LABEL_REPEATED = 1, 2, 3
MAX_FIELD = 536870911


def _varint(data, pos):
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _records(data):
    """(field number, wire type, value) of one message: ints for varints/fixed, bytes for length-delimited."""
    pos = 0
    out = []
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ValueError("field number 0")
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = int.from_bytes(data[pos:pos + 8], "little"), pos + 8
        elif wire == 5:
            value, pos = int.from_bytes(data[pos:pos + 4], "little"), pos + 4
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ValueError("truncated length-delimited field")
            value, pos = data[pos:pos + length], pos + length
        else:
            raise ValueError("unsupported wire type %d" % wire)
        if pos > len(data):
            raise ValueError("truncated field")
        out.append((number, wire, value))
    return out


def _int32(v):
    v &= 0xFFFFFFFFFFFFFFFF
    return v - (1 << 64) if v >= 1 << 63 else v


def _text(b):
    return b.decode("utf-8")


def _enc_varint(v):
    v &= 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


class _Writer:
    def __init__(self):
        self.buf = bytearray()

    def varint(self, number, value):
        if value is None:
            return
        self.buf += _enc_varint(number << 3) + _enc_varint(int(value))

    def bytes(self, number, value):
        if value is None:
            return
        if isinstance(value, str):
            value = value.encode("utf-8")
        self.buf += _enc_varint(number << 3 | 2) + _enc_varint(len(value)) + value

    def string(self, number, value):
        self.bytes(number, value)


# -- the descriptor model (plain dicts) --------------------------------------------------------
# file:    name package dependency[] public_dependency[] weak_dependency[] message_type[] enum_type[]
#          service[] extension[] options{} syntax
# message: name field[] nested_type[] enum_type[] extension_range[(s,e)] extension[] oneof_decl[]
#          options{} reserved_range[(s,e)] reserved_name[]          (ranges end-exclusive)
# field:   name number label type type_name extendee default_value oneof_index json_name options{}
#          proto3_optional
# enum:    name value[{name number options{}}] options{} reserved_range[(s,e)] (end-inclusive)
#          reserved_name[]
# service: name method[{name input_type output_type client_streaming server_streaming}] options{}
# options: {option name: python value}; only the well-known scalar options below travel as bytes.

FILE_OPTIONS = {  # name: (number, kind)
    "java_package": (1, "string"), "java_outer_classname": (8, "string"), "optimize_for": (9, "optimize"),
    "java_multiple_files": (10, "bool"), "go_package": (11, "string"), "cc_generic_services": (16, "bool"),
    "java_generic_services": (17, "bool"), "py_generic_services": (18, "bool"),
    "java_generate_equals_and_hash": (20, "bool"), "deprecated": (23, "bool"),
    "java_string_check_utf8": (27, "bool"), "cc_enable_arenas": (31, "bool"), "objc_class_prefix": (36, "string"),
    "csharp_namespace": (37, "string"), "swift_prefix": (39, "string"), "php_class_prefix": (40, "string"),
    "php_namespace": (41, "string"), "php_metadata_namespace": (44, "string"), "ruby_package": (45, "string"),
}
MESSAGE_OPTIONS = {"message_set_wire_format": (1, "bool"), "no_standard_descriptor_accessor": (2, "bool"),
                   "deprecated": (3, "bool"), "map_entry": (7, "bool")}
FIELD_OPTIONS = {"ctype": (1, "ctype"), "packed": (2, "bool"), "deprecated": (3, "bool"), "lazy": (5, "bool"),
                 "jstype": (6, "jstype"), "weak": (10, "bool"), "unverified_lazy": (15, "bool")}
ONEOF_OPTIONS = {}
ENUM_OPTIONS = {"allow_alias": (2, "bool"), "deprecated": (3, "bool")}
ENUM_VALUE_OPTIONS = {"deprecated": (1, "bool")}
SERVICE_OPTIONS = {"deprecated": (33, "bool")}
METHOD_OPTIONS = {"deprecated": (33, "bool"), "idempotency_level": (34, "idempotency")}
OPTION_ENUMS = {
    "optimize": ["", "SPEED", "CODE_SIZE", "LITE_RUNTIME"],
    "ctype": ["STRING", "CORD", "STRING_PIECE"],
    "jstype": ["JS_NORMAL", "JS_STRING", "JS_NUMBER"],
    "idempotency": ["IDEMPOTENCY_UNKNOWN", "NO_SIDE_EFFECTS", "IDEMPOTENT"],
}


def _decode_options(data, table):
    by_number = {number: (name, kind) for name, (number, kind) in table.items()}
    out = {}
    for number, wire, value in _records(data):
        if number not in by_number:
            continue  # unknown or custom options: not rendered
        name, kind = by_number[number]
        if kind == "string" and wire == 2:
            out[name] = _text(value)
        elif kind == "bool" and wire == 0:
            out[name] = bool(value)
        elif kind in OPTION_ENUMS and wire == 0 and value < len(OPTION_ENUMS[kind]):
            out[name] = OPTION_ENUMS[kind][value]
    return out


def _encode_options(options, table):
    w = _Writer()
    for name, (number, kind) in sorted(table.items(), key=lambda item: item[1][0]):
        if name not in options:
            continue
        value = options[name]
        if kind == "string":
            w.string(number, value)
        elif kind == "bool":
            w.varint(number, 1 if value else 0)
        elif kind in OPTION_ENUMS:
            w.varint(number, OPTION_ENUMS[kind].index(value))
    return bytes(w.buf) if w.buf else None


def _decode_field(data):
    f = {"label": LABEL_OPTIONAL, "type": None, "type_name": None, "extendee": None, "default_value": None,
         "oneof_index": None, "json_name": None, "options": {}, "proto3_optional": False}
    for number, _wire, value in _records(data):
        if number == 1:
            f["name"] = _text(value)
        elif number == 2:
            f["extendee"] = _text(value)
        elif number == 3:
            f["number"] = _int32(value)
        elif number == 4:
            f["label"] = value
        elif number == 5:
            f["type"] = value
        elif number == 6:
            f["type_name"] = _text(value)
        elif number == 7:
            f["default_value"] = _text(value)
        elif number == 8:
            f["options"] = _decode_options(value, FIELD_OPTIONS)
        elif number == 9:
            f["oneof_index"] = _int32(value)
        elif number == 10:
            f["json_name"] = _text(value)
        elif number == 17:
            f["proto3_optional"] = bool(value)
    return f


def _decode_enum(data):
    e = {"value": [], "options": {}, "reserved_range": [], "reserved_name": []}
    for number, _wire, value in _records(data):
        if number == 1:
            e["name"] = _text(value)
        elif number == 2:
            v = {"options": {}}
            for n, _w, x in _records(value):
                if n == 1:
                    v["name"] = _text(x)
                elif n == 2:
                    v["number"] = _int32(x)
                elif n == 3:
                    v["options"] = _decode_options(x, ENUM_VALUE_OPTIONS)
            e["value"].append(v)
        elif number == 3:
            e["options"] = _decode_options(value, ENUM_OPTIONS)
        elif number == 4:
            r = dict((n, _int32(x)) for n, _w, x in _records(value))
            e["reserved_range"].append((r.get(1, 0), r.get(2, 0)))
        elif number == 5:
            e["reserved_name"].append(_text(value))
    return e


def _decode_message(data):
    m = {"field": [], "nested_type": [], "enum_type": [], "extension_range": [], "extension": [],
         "oneof_decl": [], "options": {}, "reserved_range": [], "reserved_name": []}
    for number, _wire, value in _records(data):
        if number == 1:
            m["name"] = _text(value)
        elif number == 2:
            m["field"].append(_decode_field(value))
        elif number == 3:
            m["nested_type"].append(_decode_message(value))
        elif number == 4:
            m["enum_type"].append(_decode_enum(value))
        elif number == 5:
            r = dict((n, _int32(x)) for n, _w, x in _records(value) if n in (1, 2))
            m["extension_range"].append((r.get(1, 0), r.get(2, 0)))
        elif number == 6:
            m["extension"].append(_decode_field(value))
        elif number == 7:
            m["options"] = _decode_options(value, MESSAGE_OPTIONS)
        elif number == 8:
            m["oneof_decl"].append({"name": next((_text(x) for n, _w, x in _records(value) if n == 1), "")})
        elif number == 9:
            r = dict((n, _int32(x)) for n, _w, x in _records(value))
            m["reserved_range"].append((r.get(1, 0), r.get(2, 0)))
        elif number == 10:
            m["reserved_name"].append(_text(value))
    return m


def _decode_service(data):
    s = {"method": [], "options": {}}
    for number, _wire, value in _records(data):
        if number == 1:
            s["name"] = _text(value)
        elif number == 2:
            md = {"client_streaming": False, "server_streaming": False, "options": {}}
            for n, _w, x in _records(value):
                if n == 1:
                    md["name"] = _text(x)
                elif n == 2:
                    md["input_type"] = _text(x)
                elif n == 3:
                    md["output_type"] = _text(x)
                elif n == 4:
                    md["options"] = _decode_options(x, METHOD_OPTIONS)
                elif n == 5:
                    md["client_streaming"] = bool(x)
                elif n == 6:
                    md["server_streaming"] = bool(x)
            s["method"].append(md)
        elif number == 3:
            s["options"] = _decode_options(value, SERVICE_OPTIONS)
    return s


def decode_file(data):
    f = {"name": "", "package": "", "dependency": [], "public_dependency": [], "weak_dependency": [],
         "message_type": [], "enum_type": [], "service": [], "extension": [], "options": {}, "syntax": ""}
    for number, _wire, value in _records(data):
        if number == 1:
            f["name"] = _text(value)
        elif number == 2:
            f["package"] = _text(value)
        elif number == 3:
            f["dependency"].append(_text(value))
        elif number == 4:
            f["message_type"].append(_decode_message(value))
        elif number == 5:
            f["enum_type"].append(_decode_enum(value))
        elif number == 6:
            f["service"].append(_decode_service(value))
        elif number == 7:
            f["extension"].append(_decode_field(value))
        elif number == 8:
            f["options"] = _decode_options(value, FILE_OPTIONS)
        elif number == 10:
            f["public_dependency"].append(_int32(value))
        elif number == 11:
            f["weak_dependency"].append(_int32(value))
        elif number == 12:
            f["syntax"] = _text(value)
        elif number == 14:
            raise ValueError("protobuf editions are not supported")
    return f


def _encode_field(f):
    w = _Writer()
    w.string(1, f["name"])
    w.string(2, f.get("extendee"))
    w.varint(3, f["number"])
    w.varint(4, f["label"])
    w.varint(5, f["type"])
    w.string(6, f.get("type_name"))
    w.string(7, f.get("default_value"))
    w.bytes(8, _encode_options(f.get("options") or {}, FIELD_OPTIONS))
    w.varint(9, f.get("oneof_index"))
    w.string(10, f.get("json_name"))
    if f.get("proto3_optional"):
        w.varint(17, 1)
    return bytes(w.buf)


def _encode_enum(e):
    w = _Writer()
    w.string(1, e["name"])
    for v in e["value"]:
        vw = _Writer()
        vw.string(1, v["name"])
        vw.varint(2, v["number"])
        vw.bytes(3, _encode_options(v.get("options") or {}, ENUM_VALUE_OPTIONS))
        w.bytes(2, bytes(vw.buf))
    w.bytes(3, _encode_options(e.get("options") or {}, ENUM_OPTIONS))
    for start, end in e.get("reserved_range", []):
        rw = _Writer()
        rw.varint(1, start)
        rw.varint(2, end)
        w.bytes(4, bytes(rw.buf))
    for name in e.get("reserved_name", []):
        w.string(5, name)
    return bytes(w.buf)


def _encode_message(m):
    w = _Writer()
    w.string(1, m["name"])
    for f in m["field"]:
        w.bytes(2, _encode_field(f))
    for n in m["nested_type"]:
        w.bytes(3, _encode_message(n))
    for e in m["enum_type"]:
        w.bytes(4, _encode_enum(e))
    for start, end in m["extension_range"]:
        rw = _Writer()
        rw.varint(1, start)
        rw.varint(2, end)
        w.bytes(5, bytes(rw.buf))
    for f in m["extension"]:
        w.bytes(6, _encode_field(f))
    w.bytes(7, _encode_options(m.get("options") or {}, MESSAGE_OPTIONS))
    for o in m["oneof_decl"]:
        ow = _Writer()
        ow.string(1, o["name"])
        w.bytes(8, bytes(ow.buf))
    for start, end in m["reserved_range"]:
        rw = _Writer()
        rw.varint(1, start)
        rw.varint(2, end)
        w.bytes(9, bytes(rw.buf))
    for name in m["reserved_name"]:
        w.string(10, name)
    return bytes(w.buf)


def _encode_service(s):
    w = _Writer()
    w.string(1, s["name"])
    for md in s["method"]:
        mw = _Writer()
        mw.string(1, md["name"])
        mw.string(2, md["input_type"])
        mw.string(3, md["output_type"])
        mw.bytes(4, _encode_options(md.get("options") or {}, METHOD_OPTIONS))
        if md.get("client_streaming"):
            mw.varint(5, 1)
        if md.get("server_streaming"):
            mw.varint(6, 1)
        w.bytes(2, bytes(mw.buf))
    w.bytes(3, _encode_options(s.get("options") or {}, SERVICE_OPTIONS))
    return bytes(w.buf)


def encode_file(f):
    w = _Writer()
    w.string(1, f.get("name") or None)
    w.string(2, f.get("package") or None)
    for d in f["dependency"]:
        w.string(3, d)
    for m in f["message_type"]:
        w.bytes(4, _encode_message(m))
    for e in f["enum_type"]:
        w.bytes(5, _encode_enum(e))
    for s in f["service"]:
        w.bytes(6, _encode_service(s))
    for x in f["extension"]:
        w.bytes(7, _encode_field(x))
    w.bytes(8, _encode_options(f.get("options") or {}, FILE_OPTIONS))
    for i in f["public_dependency"]:
        w.varint(10, i)
    for i in f["weak_dependency"]:
        w.varint(11, i)
    w.string(12, f.get("syntax") or None)
    return bytes(w.buf)


# -- descriptor -> text --------------------------------------------------------------------------

def _quote(s):
    out = []
    for ch in s:
        if ch in "\"\\":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20:
            out.append("\\%03o" % ord(ch))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _option_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and re.fullmatch(r"[A-Z][A-Z0-9_]*", value) and value in sum(OPTION_ENUMS.values(), []):
        return value
    return _quote(value)


def json_name_of(name):
    """protoc's default json_name: lowerCamelCase at underscores."""
    out = []
    upper = False
    for ch in name:
        if ch == "_":
            upper = True
        elif upper:
            out.append(ch.upper())
            upper = False
        else:
            out.append(ch)
    return "".join(out)


def _ranges(ranges, exclusive_end):
    parts = []
    for start, end in ranges:
        last = end - 1 if exclusive_end else end
        if last >= MAX_FIELD and exclusive_end:
            parts.append("%d to max" % start)
        elif last == start:
            parts.append(str(start))
        else:
            parts.append("%d to %d" % (start, last))
    return ", ".join(parts)


class _TextWriter:
    def __init__(self, syntax):
        self.proto3 = syntax == "proto3"
        self.lines = []

    def line(self, depth, text):
        self.lines.append("  " * depth + text)

    def type_of(self, f):
        if f["type"] == TYPE_GROUP:
            raise ValueError("groups are not supported")
        if f.get("type_name"):
            return f["type_name"]
        if f["type"] not in TYPE_NAMES:
            raise ValueError("field %s has no type" % f.get("name"))
        return TYPE_NAMES[f["type"]]

    def field_options(self, f):
        opts = []
        if f.get("default_value") is not None:
            d = f["default_value"]
            if f["type"] in (9, 12):
                opts.append("default = " + _quote(d))
            else:
                opts.append("default = " + d)
        if f.get("json_name") and f["json_name"] != json_name_of(f["name"]):
            opts.append("json_name = " + _quote(f["json_name"]))
        for name, value in (f.get("options") or {}).items():
            opts.append("%s = %s" % (name, _option_value(value)))
        return " [%s]" % ", ".join(opts) if opts else ""

    def field(self, depth, f, entries, in_oneof=False):
        label = ""
        if f["label"] == LABEL_REPEATED:
            entry = entries.get(f.get("type_name"))
            if entry is not None:
                key = next(x for x in entry["field"] if x["number"] == 1)
                value = next(x for x in entry["field"] if x["number"] == 2)
                self.line(depth, "map<%s, %s> %s = %d%s;" % (
                    self.type_of(key), self.type_of(value), f["name"], f["number"], self.field_options(f)))
                return
            label = "repeated "
        elif in_oneof:
            label = ""
        elif f.get("proto3_optional"):
            label = "optional "
        elif f["label"] == LABEL_REQUIRED:
            label = "required "
        elif not self.proto3:
            label = "optional "
        self.line(depth, "%s%s %s = %d%s;" % (label, self.type_of(f), f["name"], f["number"], self.field_options(f)))

    def options(self, depth, options, skip=()):
        for name, value in options.items():
            if name not in skip:
                self.line(depth, "option %s = %s;" % (name, _option_value(value)))

    def enum(self, depth, e):
        self.line(depth, "enum %s {" % e["name"])
        self.options(depth + 1, e.get("options") or {})
        for v in e["value"]:
            opts = ""
            if v.get("options"):
                opts = " [%s]" % ", ".join("%s = %s" % (k, _option_value(x)) for k, x in v["options"].items())
            self.line(depth + 1, "%s = %d%s;" % (v["name"], v["number"], opts))
        if e.get("reserved_range"):
            self.line(depth + 1, "reserved %s;" % _ranges(e["reserved_range"], exclusive_end=False))
        if e.get("reserved_name"):
            self.line(depth + 1, "reserved %s;" % ", ".join(_quote(n) for n in e["reserved_name"]))
        self.line(depth, "}")

    def extensions(self, depth, fields):
        by_extendee = {}
        for f in fields:
            by_extendee.setdefault(f["extendee"], []).append(f)
        for extendee, group in by_extendee.items():
            self.line(depth, "extend %s {" % extendee)
            for f in group:
                self.field(depth + 1, f, {})
            self.line(depth, "}")

    def message(self, depth, m, scope):
        full = scope + "." + m["name"]
        self.line(depth, "message %s {" % m["name"])
        self.options(depth + 1, m.get("options") or {}, skip=("map_entry",))
        entries = {full + "." + n["name"]: n for n in m["nested_type"] if (n.get("options") or {}).get("map_entry")}
        # Synthetic oneofs of proto3 `optional` fields are not written as oneofs.
        synthetic = set()
        for i, _o in enumerate(m["oneof_decl"]):
            members = [f for f in m["field"] if f.get("oneof_index") == i]
            if members and all(f.get("proto3_optional") for f in members):
                synthetic.add(i)
        written = set()
        for f in m["field"]:
            index = f.get("oneof_index")
            if index is None or index in synthetic:
                self.field(depth + 1, f, entries)
            elif index not in written:
                written.add(index)
                self.line(depth + 1, "oneof %s {" % m["oneof_decl"][index]["name"])
                for member in m["field"]:
                    if member.get("oneof_index") == index:
                        self.field(depth + 2, member, entries, in_oneof=True)
                self.line(depth + 1, "}")
        if m["reserved_range"]:
            self.line(depth + 1, "reserved %s;" % _ranges(m["reserved_range"], exclusive_end=True))
        if m["reserved_name"]:
            self.line(depth + 1, "reserved %s;" % ", ".join(_quote(n) for n in m["reserved_name"]))
        if m["extension_range"]:
            self.line(depth + 1, "extensions %s;" % _ranges(m["extension_range"], exclusive_end=True))
        for n in m["nested_type"]:
            if full + "." + n["name"] not in entries:
                self.message(depth + 1, n, full)
        for e in m["enum_type"]:
            self.enum(depth + 1, e)
        self.extensions(depth + 1, m["extension"])
        self.line(depth, "}")


def file_to_text(f):
    syntax = f.get("syntax") or "proto2"
    w = _TextWriter(syntax)
    w.line(0, 'syntax = "%s";' % syntax)
    if f.get("package"):
        w.line(0, "package %s;" % f["package"])
    if f["dependency"]:
        w.line(0, "")
        for i, d in enumerate(f["dependency"]):
            kind = "public " if i in f["public_dependency"] else "weak " if i in f["weak_dependency"] else ""
            w.line(0, "import %s%s;" % (kind, _quote(d)))
    if f.get("options"):
        w.line(0, "")
        w.options(0, f["options"])
    scope = "." + f["package"] if f.get("package") else ""
    for m in f["message_type"]:
        w.line(0, "")
        w.message(0, m, scope)
    for e in f["enum_type"]:
        w.line(0, "")
        w.enum(0, e)
    if f["extension"]:
        w.line(0, "")
        w.extensions(0, f["extension"])
    for s in f["service"]:
        w.line(0, "")
        w.line(0, "service %s {" % s["name"])
        w.options(1, s.get("options") or {})
        for md in s["method"]:
            w.line(1, "rpc %s (%s%s) returns (%s%s);" % (
                md["name"], "stream " if md.get("client_streaming") else "", md["input_type"],
                "stream " if md.get("server_streaming") else "", md["output_type"]))
        w.line(0, "}")
    return "\n".join(w.lines) + "\n"


def descriptor_to_text(data):
    return file_to_text(decode_file(data))


def looks_like_descriptor(schema):
    """The FileDescriptorProto bytes when `schema` is base64 of one, else None (.proto text)."""
    compact = "".join(schema.split())
    if not compact or not re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", compact) or len(compact) % 4:
        return None
    try:
        data = base64.b64decode(compact, validate=True)
        decode_file(data)
    except (binascii.Error, ValueError, UnicodeDecodeError, KeyError, IndexError):
        return None
    return data


# -- text -> descriptor ----------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<ws>\s+|//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<number>-?(?:0[xX][0-9a-fA-F]+|\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?))
  | (?P<ident>\.?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<symbol>[{}\[\]();=<>,:.-])
""", re.S | re.X)

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "a": "\a", "b": "\b", "f": "\f", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}


def _unquote(token):
    body = token[1:-1]
    out = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt in "xX":
            m = re.match(r"[0-9a-fA-F]{1,2}", body[i + 2:])
            out.append(chr(int(m.group(0), 16)))
            i += 2 + len(m.group(0))
        elif nxt in "01234567":
            m = re.match(r"[0-7]{1,3}", body[i + 1:])
            out.append(chr(int(m.group(0), 8)))
            i += 1 + len(m.group(0))
        else:
            raise ValueError("bad escape \\%s" % nxt)
    return "".join(out)


def _tokenize(text):
    tokens = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ValueError("unexpected character %r at offset %d" % (text[pos], pos))
        pos = m.end()
        if m.lastgroup != "ws":
            tokens.append((m.lastgroup, m.group(0)))
    tokens.append(("end", ""))
    return tokens


def _camel(name):
    return "".join(p[:1].upper() + p[1:] for p in name.split("_"))


def _int(text):
    return int(text, 0) if not re.fullmatch(r"-?0\d+", text) else int(text, 8)


class _Parser:
    def __init__(self, text):
        self.tokens = _tokenize(text)
        self.pos = 0
        self.file = {"name": "", "package": "", "dependency": [], "public_dependency": [], "weak_dependency": [],
                     "message_type": [], "enum_type": [], "service": [], "extension": [], "options": {},
                     "syntax": "proto2"}

    @property
    def tok(self):
        return self.tokens[self.pos]

    def take(self):
        t = self.tokens[self.pos]
        self.pos += 1
        return t

    def is_(self, text):
        return self.tok[1] == text and self.tok[0] in ("symbol", "ident")

    def expect(self, text):
        if not self.is_(text):
            raise ValueError("expected %r, found %r" % (text, self.tok[1] or "end of text"))
        self.pos += 1

    def ident(self):
        kind, text = self.take()
        if kind != "ident":
            raise ValueError("expected a name, found %r" % (text or "end of text"))
        return text

    def string(self):
        kind, text = self.take()
        if kind != "string":
            raise ValueError("expected a string, found %r" % (text or "end of text"))
        value = _unquote(text)
        while self.tok[0] == "string":  # adjacent literals concatenate
            value += _unquote(self.take()[1])
        return value

    def constant(self):
        kind, text = self.tok
        if kind == "string":
            return self.string()
        if self.is_("-"):
            self.pos += 1
            kind, text = self.take()
            return "-" + text
        self.pos += 1
        if kind == "ident":
            return {"true": True, "false": False}.get(text, text)
        if kind == "number":
            return text
        if text == "{":  # aggregate option value: skip to the matching brace
            depth = 1
            while depth:
                t = self.take()
                if t[0] == "end":
                    raise ValueError("unterminated option value")
                depth += {"{": 1, "}": -1}.get(t[1], 0) if t[0] == "symbol" else 0
            return None
        raise ValueError("expected a constant, found %r" % text)

    def option_name(self):
        if self.is_("("):
            self.pos += 1
            name = "(" + self.ident() + ")"
            self.expect(")")
        else:
            name = self.ident()
        while self.is_(".") or (self.tok[0] == "ident" and self.tok[1].startswith(".")):
            if self.is_("."):
                self.pos += 1
                if self.is_("("):
                    self.pos += 1
                    name += ".(" + self.ident() + ")"
                    self.expect(")")
                else:
                    name += "." + self.ident()
            else:
                name += self.ident()
        return name

    def option_statement(self, options):
        self.expect("option")
        name = self.option_name()
        self.expect("=")
        value = self.constant()
        self.expect(";")
        options[name] = value

    def bracket_options(self):
        options = {}
        if not self.is_("["):
            return options
        self.pos += 1
        while True:
            name = self.option_name()
            self.expect("=")
            options[name] = self.constant()
            if self.is_(","):
                self.pos += 1
                continue
            self.expect("]")
            return options

    def parse(self):
        if self.is_("syntax"):
            self.pos += 1
            self.expect("=")
            self.file["syntax"] = self.string()
            self.expect(";")
        elif self.is_("edition"):
            raise ValueError("protobuf editions are not supported")
        while self.tok[0] != "end":
            if self.is_(";"):
                self.pos += 1
            elif self.is_("package"):
                self.pos += 1
                self.file["package"] = self.ident()
                self.expect(";")
            elif self.is_("import"):
                self.pos += 1
                kind = None
                if self.is_("public") or self.is_("weak"):
                    kind = self.take()[1]
                index = len(self.file["dependency"])
                self.file["dependency"].append(self.string())
                if kind:
                    self.file[kind + "_dependency"].append(index)
                self.expect(";")
            elif self.is_("option"):
                self.option_statement(self.file["options"])
            elif self.is_("message"):
                self.file["message_type"].append(self.message())
            elif self.is_("enum"):
                self.file["enum_type"].append(self.enum())
            elif self.is_("service"):
                self.file["service"].append(self.service())
            elif self.is_("extend"):
                self.file["extension"].extend(self.extend())
            else:
                raise ValueError("unexpected %r at the top level" % self.tok[1])
        return self.file

    def ranges(self, exclusive_end):
        ranges, names = [], []
        while True:
            if self.tok[0] == "string":
                names.append(self.string())
            else:
                start = _int(self.take()[1])
                end = start
                if self.is_("to"):
                    self.pos += 1
                    end = MAX_FIELD if self.is_("max") and self.take() else _int(self.take()[1])
                ranges.append((start, end + 1 if exclusive_end else end))
            if self.is_(","):
                self.pos += 1
                continue
            self.bracket_options()
            self.expect(";")
            return ranges, names

    def message(self):
        self.expect("message")
        m = {"name": self.ident(), "field": [], "nested_type": [], "enum_type": [], "extension_range": [],
             "extension": [], "oneof_decl": [], "options": {}, "reserved_range": [], "reserved_name": []}
        entries, synthetic = [], []
        self.expect("{")
        while not self.is_("}"):
            if self.is_(";"):
                self.pos += 1
            elif self.is_("option"):
                self.option_statement(m["options"])
            elif self.is_("message"):
                m["nested_type"].append(self.message())
            elif self.is_("enum"):
                m["enum_type"].append(self.enum())
            elif self.is_("extend"):
                m["extension"].extend(self.extend())
            elif self.is_("reserved"):
                self.pos += 1
                ranges, names = self.ranges(exclusive_end=True)
                m["reserved_range"] += ranges
                m["reserved_name"] += names
            elif self.is_("extensions"):
                self.pos += 1
                m["extension_range"] += self.ranges(exclusive_end=True)[0]
            elif self.is_("oneof"):
                self.pos += 1
                index = len(m["oneof_decl"])
                m["oneof_decl"].append({"name": self.ident()})
                self.expect("{")
                while not self.is_("}"):
                    if self.is_("option"):
                        self.option_statement({})
                    elif self.is_(";"):
                        self.pos += 1
                    else:
                        f = self.field(entries, in_oneof=True)
                        f["oneof_index"] = index
                        m["field"].append(f)
                self.expect("}")
            else:
                f = self.field(entries)
                if f.get("proto3_optional"):
                    synthetic.append(f)
                m["field"].append(f)
        self.expect("}")
        # As protoc: synthetic oneofs of proto3 `optional` fields come after the declared ones.
        for f in synthetic:
            name = "_" + f["name"]
            while any(o["name"] == name for o in m["oneof_decl"]):
                name = "X" + name
            f["oneof_index"] = len(m["oneof_decl"])
            m["oneof_decl"].append({"name": name})
        m["nested_type"] += entries
        return m

    def field(self, entries, in_oneof=False):
        label = LABEL_OPTIONAL
        proto3_optional = False
        if self.is_("map") and self.tokens[self.pos + 1][1] == "<":
            self.pos += 2
            key = self.ident()
            self.expect(",")
            value = self.ident()
            self.expect(">")
            name = self.ident()
            self.expect("=")
            number = _int(self.take()[1])
            options = self.bracket_options()
            self.expect(";")
            entry = {"name": _camel(name) + "Entry", "field": [
                self.new_field("key", 1, LABEL_OPTIONAL, key, {}), self.new_field("value", 2, LABEL_OPTIONAL, value, {})],
                "nested_type": [], "enum_type": [], "extension_range": [], "extension": [], "oneof_decl": [],
                "options": {"map_entry": True}, "reserved_range": [], "reserved_name": []}
            entries.append(entry)
            f = self.new_field(name, number, LABEL_REPEATED, entry["name"], options)
            return f
        if not in_oneof and (self.is_("optional") or self.is_("required") or self.is_("repeated")):
            word = self.take()[1]
            label = {"optional": LABEL_OPTIONAL, "required": LABEL_REQUIRED, "repeated": LABEL_REPEATED}[word]
            proto3_optional = word == "optional" and self.file["syntax"] == "proto3"
        type_name = self.ident()
        if type_name == "group":
            raise ValueError("groups are not supported")
        name = self.ident()
        self.expect("=")
        number = _int(self.take()[1])
        options = self.bracket_options()
        self.expect(";")
        f = self.new_field(name, number, label, type_name, options)
        f["proto3_optional"] = proto3_optional
        return f

    @staticmethod
    def new_field(name, number, label, type_name, options):
        f = {"name": name, "number": number, "label": label, "type": SCALARS.get(type_name),
             "type_name": None if type_name in SCALARS else type_name, "extendee": None, "default_value": None,
             "oneof_index": None, "json_name": json_name_of(name), "options": {}, "proto3_optional": False}
        for key, value in options.items():
            if key == "default":
                f["default_value"] = ("true" if value else "false") if isinstance(value, bool) else str(value)
            elif key == "json_name":
                f["json_name"] = value
            elif key in FIELD_OPTIONS:
                f["options"][key] = value
        return f

    def enum(self):
        self.expect("enum")
        e = {"name": self.ident(), "value": [], "options": {}, "reserved_range": [], "reserved_name": []}
        self.expect("{")
        while not self.is_("}"):
            if self.is_(";"):
                self.pos += 1
            elif self.is_("option"):
                self.option_statement(e["options"])
            elif self.is_("reserved"):
                self.pos += 1
                ranges, names = self.ranges(exclusive_end=False)
                e["reserved_range"] += ranges
                e["reserved_name"] += names
            else:
                name = self.ident()
                self.expect("=")
                number = self.constant()
                options = self.bracket_options()
                self.expect(";")
                e["value"].append({"name": name, "number": _int(number),
                                   "options": {k: v for k, v in options.items() if k in ENUM_VALUE_OPTIONS}})
        self.expect("}")
        e["options"] = {k: v for k, v in e["options"].items() if k in ENUM_OPTIONS}
        return e

    def extend(self):
        self.expect("extend")
        extendee = self.ident()
        fields = []
        self.expect("{")
        while not self.is_("}"):
            if self.is_(";"):
                self.pos += 1
                continue
            f = self.field([])
            f["extendee"] = extendee
            fields.append(f)
        self.expect("}")
        return fields

    def service(self):
        self.expect("service")
        s = {"name": self.ident(), "method": [], "options": {}}
        self.expect("{")
        while not self.is_("}"):
            if self.is_(";"):
                self.pos += 1
            elif self.is_("option"):
                self.option_statement(s["options"])
            else:
                self.expect("rpc")
                md = {"name": self.ident(), "options": {}}
                for side in ("input", "output"):
                    if side == "output":
                        self.expect("returns")
                    self.expect("(")
                    streaming = self.is_("stream") and self.tokens[self.pos + 1][0] == "ident"
                    if streaming:
                        self.pos += 1
                    md["client_streaming" if side == "input" else "server_streaming"] = streaming
                    md[side + "_type"] = self.ident()
                    self.expect(")")
                if self.is_("{"):
                    self.pos += 1
                    while not self.is_("}"):
                        if self.is_(";"):
                            self.pos += 1
                        else:
                            self.option_statement(md["options"])
                    self.expect("}")
                else:
                    self.expect(";")
                s["method"].append(md)
        self.expect("}")
        s["options"] = {k: v for k, v in s["options"].items() if k in SERVICE_OPTIONS}
        return s


# Well-known types any file may import without a reference: full name -> message or enum.
WELL_KNOWN = {
    "google/protobuf/any.proto": {"google.protobuf.Any": TYPE_MESSAGE},
    "google/protobuf/duration.proto": {"google.protobuf.Duration": TYPE_MESSAGE},
    "google/protobuf/empty.proto": {"google.protobuf.Empty": TYPE_MESSAGE},
    "google/protobuf/field_mask.proto": {"google.protobuf.FieldMask": TYPE_MESSAGE},
    "google/protobuf/struct.proto": {"google.protobuf.Struct": TYPE_MESSAGE, "google.protobuf.Value": TYPE_MESSAGE,
                                     "google.protobuf.ListValue": TYPE_MESSAGE, "google.protobuf.NullValue": TYPE_ENUM},
    "google/protobuf/source_context.proto": {"google.protobuf.SourceContext": TYPE_MESSAGE},
    "google/protobuf/timestamp.proto": {"google.protobuf.Timestamp": TYPE_MESSAGE},
    "google/protobuf/wrappers.proto": {"google.protobuf.%sValue" % t: TYPE_MESSAGE for t in (
        "Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes")},
}


def _symbols(f):
    """Every message and enum a file declares: full name (no leading dot) -> TYPE_MESSAGE / TYPE_ENUM."""
    out = {}

    def walk(scope, messages, enums):
        for e in enums:
            out[scope + e["name"]] = TYPE_ENUM
        for m in messages:
            out[scope + m["name"]] = TYPE_MESSAGE
            walk(scope + m["name"] + ".", m["nested_type"], m["enum_type"])

    walk(f["package"] + "." if f["package"] else "", f["message_type"], f["enum_type"])
    return out


def _resolve(name, scope, symbols):
    """protoc's lookup: a leading dot is absolute; else innermost scope outwards."""
    if name.startswith("."):
        bare = name[1:]
        return ("." + bare, symbols[bare]) if bare in symbols else (None, None)
    parts = scope.split(".") if scope else []
    while True:
        candidate = ".".join(parts + [name])
        if candidate in symbols:
            return "." + candidate, symbols[candidate]
        if not parts:
            return None, None
        parts.pop()


def text_to_file(text, resolve_import=None):
    """Parses .proto text into the descriptor model with every type name fully qualified.
    resolve_import(path) -> .proto text of an imported file (or None when unknown)."""
    f = _Parser(text).parse()
    if f["syntax"] not in ("proto2", "proto3"):
        raise ValueError("unknown syntax %r" % f["syntax"])
    symbols = _symbols(f)
    for dep in f["dependency"]:
        if dep in WELL_KNOWN:
            symbols.update(WELL_KNOWN[dep])
        elif resolve_import is not None:
            dep_text = resolve_import(dep)
            if dep_text is not None:
                symbols.update(_symbols(text_to_file(dep_text, resolve_import)))

    def fix(field, scope):
        for key in ("type_name", "extendee"):
            name = field.get(key)
            if not name:
                continue
            full, kind = _resolve(name, scope, symbols)
            if full is None:
                raise ValueError("unresolved type %s (field %s)" % (name, field["name"]))
            field[key] = full
            if key == "type_name":
                field["type"] = kind

    def walk(scope, messages, extensions):
        for x in extensions:
            fix(x, scope)
        for m in messages:
            inner = scope + "." + m["name"] if scope else m["name"]
            for field in m["field"]:
                fix(field, inner)
            walk(inner, m["nested_type"], m["extension"])

    walk(f["package"], f["message_type"], f["extension"])
    for s in f["service"]:
        for md in s["method"]:
            for key in ("input_type", "output_type"):
                full, kind = _resolve(md[key], f["package"], symbols)
                if full is None or kind != TYPE_MESSAGE:
                    raise ValueError("unresolved rpc type %s" % md[key])
                md[key] = full
    if f["syntax"] == "proto2":
        f["syntax"] = ""  # protoc leaves syntax unset for proto2
    return f


def text_to_descriptor(text, resolve_import=None):
    return encode_file(text_to_file(text, resolve_import))
