/// One parsed and resolved `.proto` file: every message (nested ones and synthesised map entries
/// included) and enum in flat tables, and the selection of the message a payload holds.
public struct ProtoFile: Sendable {
    /// `proto2` or `proto3` (a file without `syntax` is proto2, as protoc reads it).
    public let syntax: String
    public let package: String
    public let imports: [String]
    /// Every message by id (`ProtoMessage.id`), in the order they were declared.
    public let messages: [ProtoMessage]
    public let enums: [ProtoEnum]
    /// Top-level messages in declaration order: what Confluent message index `[i]` counts.
    public let topLevelMessages: [Int]

    /// The import of the one well-known type resolved without its text.
    public static let timestampImport = "google/protobuf/timestamp.proto"

    /// Parses `text` and resolves every type name in it.
    public init(parsing text: String) throws(ProtoSchemaError) {
        var parser = try ProtoParser(text)
        try parser.parseFile()
        self = try ProtoResolver.resolve(parser)
    }

    init(syntax: String, package: String, imports: [String], messages: [ProtoMessage], enums: [ProtoEnum],
         topLevelMessages: [Int]) {
        self.syntax = syntax
        self.package = package
        self.imports = imports
        self.messages = messages
        self.enums = enums
        self.topLevelMessages = topLevelMessages
    }

    public var isProto3: Bool { syntax == "proto3" }

    /// The message with fully qualified name `name` (`shop.Order`, a leading `.` allowed).
    public func message(named name: String) throws(ProtoSchemaError) -> ProtoMessage {
        let bare = name.hasPrefix(".") ? String(name.dropFirst()) : name
        for m in messages where !m.isMapEntry && m.fullName == bare { return m }
        let known = messages.filter { !$0.isMapEntry }.map(\.fullName).joined(separator: ", ")
        throw ProtoSchemaError("no message named \(bare) (the schema declares: \(known))")
    }

    /// The message a Confluent message-index path names: `[0]` (or `[]`) is the first top-level
    /// message, `[1, 0]` the first nested message of the second top-level one. Map entries are
    /// not counted: they are not declared in the text.
    public func message(atIndexes indexes: [Int]) throws(ProtoSchemaError) -> ProtoMessage {
        let path = indexes.isEmpty ? [0] : indexes
        var candidates = topLevelMessages
        var current: ProtoMessage?
        for (depth, i) in path.enumerated() {
            guard i >= 0, i < candidates.count else {
                let prefix = path[..<depth].map(String.init).joined(separator: ",")
                let place = depth == 0 ? "top-level messages" : "nested messages in [\(prefix)]"
                throw ProtoSchemaError(
                    "message index \(i) at position \(depth) of [\(path.map(String.init).joined(separator: ","))] is out of range (\(candidates.count) \(place))")
            }
            let m = messages[candidates[i]]
            current = m
            candidates = m.nestedMessages
        }
        guard let current else { throw ProtoSchemaError("empty message index path") }
        return current
    }

    /// The index path of `message` (the inverse of `message(atIndexes:)`), or nil for a map entry.
    public func indexes(of message: ProtoMessage) -> [Int]? {
        func search(_ ids: [Int], _ prefix: [Int]) -> [Int]? {
            for (i, id) in ids.enumerated() {
                if id == message.id { return prefix + [i] }
                if let found = search(messages[id].nestedMessages, prefix + [i]) { return found }
            }
            return nil
        }
        return search(topLevelMessages, [])
    }
}

/// Resolves the parser's type names against the file's scopes the way protoc does: innermost
/// enclosing scope first, outwards to the package root; a leading `.` means fully qualified.
enum ProtoResolver {
    private enum Symbol { case message(Int), enumeration(Int) }

    static func resolve(_ p: ProtoParser) throws(ProtoSchemaError) -> ProtoFile {
        var symbols: [String: Symbol] = [:]
        for (i, m) in p.messages.enumerated() {
            if symbols[m.fullName] != nil {
                throw ProtoSchemaError("\(m.fullName) is declared twice", line: m.line, column: m.column)
            }
            symbols[m.fullName] = .message(i)
        }
        for (i, e) in p.enums.enumerated() {
            if symbols[e.fullName] != nil {
                throw ProtoSchemaError("\(e.fullName) is declared twice", line: e.line, column: e.column)
            }
            symbols[e.fullName] = .enumeration(i)
        }
        let unresolvedImports = p.imports.filter { $0 != ProtoFile.timestampImport }

        func lookup(_ name: String, scope: String) -> ProtoFieldType? {
            if let s = ProtoScalar(rawValue: name) { return .scalar(s) }
            func type(_ s: Symbol) -> ProtoFieldType {
                switch s {
                case .message(let i): .message(i)
                case .enumeration(let i): .enumeration(i)
                }
            }
            if name.hasPrefix(".") {
                let bare = String(name.dropFirst())
                if let s = symbols[bare] { return type(s) }
                return bare == "google.protobuf.Timestamp" ? .timestamp : nil
            }
            var parts = scope.split(separator: ".").map(String.init)
            while true {
                let candidate = parts.isEmpty ? name : parts.joined(separator: ".") + "." + name
                if let s = symbols[candidate] { return type(s) }
                if candidate == "google.protobuf.Timestamp" { return .timestamp }
                if parts.isEmpty { return nil }
                parts.removeLast()
            }
        }

        var messages: [ProtoMessage] = []
        messages.reserveCapacity(p.messages.count)
        for (id, m) in p.messages.enumerated() {
            var fields: [ProtoField] = []
            for f in m.fields {
                guard let type = lookup(f.typeName, scope: m.fullName) else {
                    var message = "unknown type \(f.typeName) for field \(f.name)"
                    if !unresolvedImports.isEmpty {
                        message += " (imports are not resolved, only \(ProtoFile.timestampImport) is known: "
                            + unresolvedImports.joined(separator: ", ") + ")"
                    }
                    throw ProtoSchemaError(message, line: f.line, column: f.column)
                }
                if m.isMapEntry, f.number == 2, case .message(let v) = type, p.messages[v].isMapEntry {
                    throw ProtoSchemaError("a map value cannot be a map", line: f.line, column: f.column)
                }
                let label = p.syntax == "proto2" && f.label == .implicit && f.oneof == nil && !m.isMapEntry
                    ? ProtoLabel.optional : f.label
                fields.append(ProtoField(name: f.name, number: f.number, label: label, type: type, oneof: f.oneof,
                                         isMap: f.isMap))
            }
            messages.append(ProtoMessage(id: id, name: m.name, fullName: m.fullName, fields: fields, oneofs: m.oneofs,
                                         nestedMessages: m.nested, isMapEntry: m.isMapEntry))
        }
        let enums = p.enums.map { ProtoEnum(name: $0.name, fullName: $0.fullName, values: $0.values) }
        return ProtoFile(syntax: p.syntax, package: p.package, imports: p.imports, messages: messages, enums: enums,
                         topLevelMessages: p.topLevelMessages)
    }
}
