import Flow

/// Derives the `.proto` text a sink registers for a Flow schema: the message `ProtobufEncoder`
/// writes. Types without a protobuf counterpart travel as text or integers (see PROTOBUF.md).
public enum ProtoSchemaDerivation {
    /// The protobuf type a Flow type is written as.
    public static func protoType(_ t: LogicalType) -> String {
        switch t {
        case .bool: "bool"
        case .int16, .int32: "int32"
        case .int64: "int64"
        case .float32: "float"
        case .float64: "double"
        case .decimal, .numeric, .string, .uuid, .json, .list: "string"  // a list: the JSON text of the array
        case .bytes: "bytes"
        case .date: "int32"
        case .time: "int64"
        case .timestamp: "google.protobuf.Timestamp"
        }
    }

    /// proto3 text with one message `messageName` (in `package` when not empty): column `i` is
    /// field `i + 1`, named after the column with characters protobuf does not allow replaced by
    /// `_`. Nullable scalars are `optional`; a timestamp is a message and has presence anyway.
    public static func protoText(for schema: Schema, messageName: String, package: String = "") throws(ProtoSchemaError) -> String {
        guard isIdentifier(messageName) else { throw ProtoSchemaError("'\(messageName)' is not a protobuf message name") }
        if !package.isEmpty {
            for part in package.split(separator: ".", omittingEmptySubsequences: false) where !isIdentifier(String(part)) {
                throw ProtoSchemaError("'\(package)' is not a protobuf package name")
            }
        }
        var text = "syntax = \"proto3\";\n\n"
        if !package.isEmpty { text += "package \(package);\n\n" }
        if schema.fields.contains(where: { if case .timestamp = $0.type { true } else { false } }) {
            text += "import \"\(ProtoFile.timestampImport)\";\n\n"
        }
        text += "message \(messageName) {\n"
        var used = Set<String>()
        for (i, f) in schema.fields.enumerated() {
            let name = fieldName(f.name)
            guard used.insert(name).inserted else {
                throw ProtoSchemaError("columns map to the same protobuf field name \(name)")
            }
            var label = ""
            if f.nullable, !isMessage(f.type) { label = "optional " }
            text += "  \(label)\(protoType(f.type)) \(name) = \(i + 1);"
            if let note = note(f.type) { text += " // \(note)" }
            text += "\n"
        }
        text += "}\n"
        return text
    }

    private static func isMessage(_ t: LogicalType) -> Bool {
        if case .timestamp = t { true } else { false }
    }

    private static func note(_ t: LogicalType) -> String? {
        switch t {
        case .decimal(let p, let s): "decimal(\(p),\(s)) as text"
        case .date: "days since 1970-01-01"
        case .time: "microseconds since midnight"
        case .uuid: "uuid as text"
        case .json: "JSON text"
        case .timestamp(false): "wall-clock time, no zone"
        default: nil
        }
    }

    /// `column`, with every character outside `[A-Za-z0-9_]` replaced by `_` and `f_` in front
    /// when it does not start with a letter.
    public static func fieldName(_ column: String) -> String {
        var out = ""
        for u in column.unicodeScalars {
            out.unicodeScalars.append(u.isASCII && (isLetter(u) || isDigit(u) || u == "_") ? u : "_")
        }
        if let first = out.unicodeScalars.first, isLetter(first) { return out }
        return "f_" + out
    }

    private static func isLetter(_ u: Unicode.Scalar) -> Bool { ("a"..."z").contains(u) || ("A"..."Z").contains(u) }
    private static func isDigit(_ u: Unicode.Scalar) -> Bool { ("0"..."9").contains(u) }

    static func isIdentifier(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, isLetter(first) || first == "_" else { return false }
        return s.unicodeScalars.allSatisfy { $0.isASCII && (isLetter($0) || isDigit($0) || $0 == "_") }
    }
}
