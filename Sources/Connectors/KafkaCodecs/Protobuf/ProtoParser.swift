/// Reads `.proto` text as a schema registry returns it into unresolved drafts; `ProtoResolver`
/// then turns type names into indexes. Options, services and extensions are parsed only far
/// enough to be skipped: they do not change how a payload decodes.
struct ProtoParser {
    struct DraftField {
        var name: String
        var number: Int32
        var label: ProtoLabel
        /// A scalar keyword, or a type name resolved against the enclosing message's scope.
        var typeName: String
        var oneof: Int?
        var isMap: Bool
        var line: Int
        var column: Int
    }

    struct DraftMessage {
        var name: String
        var fullName: String
        var fields: [DraftField] = []
        var oneofs: [String] = []
        var nested: [Int] = []
        var isMapEntry = false
        var line: Int
        var column: Int
    }

    struct DraftEnum {
        var name: String
        var fullName: String
        var values: [ProtoEnumValue] = []
        var line: Int
        var column: Int
    }

    private var tokens: [ProtoToken]
    private var pos = 0
    var syntax = "proto2"
    var package = ""
    var imports: [String] = []
    var messages: [DraftMessage] = []
    var enums: [DraftEnum] = []
    var topLevelMessages: [Int] = []

    init(_ text: String) throws(ProtoSchemaError) {
        tokens = try ProtoLexer.tokenize(text)
    }

    // MARK: tokens

    private var token: ProtoToken { tokens[pos] }
    private func peek(_ ahead: Int) -> ProtoToken { tokens[min(pos + ahead, tokens.count - 1)] }

    private mutating func advance() -> ProtoToken {
        let t = tokens[pos]
        if pos < tokens.count - 1 { pos += 1 }
        return t
    }

    private func fail(_ message: String, at t: ProtoToken? = nil) -> ProtoSchemaError {
        let t = t ?? token
        let found = t.kind == .end ? "end of text" : "'\(t.text)'"
        return ProtoSchemaError("\(message), found \(found)", line: t.line, column: t.column)
    }

    private mutating func expect(_ c: Character) throws(ProtoSchemaError) {
        guard token.isSymbol(c) else { throw fail("expected '\(c)'") }
        pos += 1
    }

    private mutating func identifier(_ what: String) throws(ProtoSchemaError) -> String {
        guard token.kind == .identifier else { throw fail("expected \(what)") }
        return advance().text
    }

    /// `a.b.c`, or `.a.b.c` for a fully qualified name.
    private mutating func dottedName(_ what: String) throws(ProtoSchemaError) -> String {
        var name = ""
        if token.isSymbol(".") {
            pos += 1
            name = "."
        }
        name += try identifier(what)
        while token.isSymbol(".") {
            pos += 1
            name += "." + (try identifier(what))
        }
        return name
    }

    private mutating func stringLiteral(_ what: String) throws(ProtoSchemaError) -> String {
        guard token.kind == .string else { throw fail("expected \(what) as a quoted string") }
        var s = advance().text
        while token.kind == .string { s += advance().text }
        return s
    }

    /// An integer literal with an optional sign: decimal, `0x` hex or `0` octal.
    private mutating func integer(_ what: String) throws(ProtoSchemaError) -> Int64 {
        var negative = false
        if token.isSymbol("-") || token.isSymbol("+") {
            negative = advance().text == "-"
        }
        let t = token
        guard t.kind == .number else { throw fail("expected \(what)") }
        pos += 1
        let lower = t.text.lowercased()
        var magnitude: UInt64?
        if lower.hasPrefix("0x") {
            magnitude = UInt64(lower.dropFirst(2), radix: 16)
        } else if lower.hasPrefix("0") && lower.count > 1 {
            magnitude = UInt64(lower.dropFirst(), radix: 8)
        } else {
            magnitude = UInt64(lower, radix: 10)
        }
        guard let m = magnitude, m <= UInt64(Int64.max) else { throw fail("expected \(what) (an integer)", at: t) }
        return negative ? -Int64(m) : Int64(m)
    }

    /// Skips to the `;` ending the statement, stepping over `{…}` aggregates (option values).
    private mutating func skipStatement() throws(ProtoSchemaError) {
        var depth = 0
        while true {
            let t = advance()
            if t.kind == .end { throw fail("expected ';'", at: t) }
            if t.isSymbol("{") { depth += 1 }
            if t.isSymbol("}") { depth -= 1 }
            if t.isSymbol(";") && depth == 0 { return }
        }
    }

    /// Skips a `{…}` block with its nested blocks (services, extend).
    private mutating func skipBlock() throws(ProtoSchemaError) {
        while !token.isSymbol("{") {
            if token.kind == .end || token.isSymbol(";") { throw fail("expected '{'") }
            pos += 1
        }
        var depth = 0
        repeat {
            let t = advance()
            if t.kind == .end { throw fail("expected '}'", at: t) }
            if t.isSymbol("{") { depth += 1 }
            if t.isSymbol("}") { depth -= 1 }
        } while depth > 0
        if token.isSymbol(";") { pos += 1 }
    }

    // MARK: file

    mutating func parseFile() throws(ProtoSchemaError) {
        if token.isWord("syntax") {
            pos += 1
            try expect("=")
            let t = token
            syntax = try stringLiteral("a syntax")
            guard syntax == "proto3" || syntax == "proto2" else {
                throw ProtoSchemaError("unsupported syntax \"\(syntax)\" (proto2 and proto3 are)", line: t.line, column: t.column)
            }
            try expect(";")
        } else if token.isWord("edition") {
            throw fail("editions are not supported (proto2 and proto3 are)")
        }
        while token.kind != .end {
            let t = token
            if t.isSymbol(";") {
                pos += 1
            } else if t.isWord("package") {
                pos += 1
                package = try dottedName("a package name")
                if package.hasPrefix(".") { throw fail("a package name is not qualified with '.'", at: t) }
                try expect(";")
            } else if t.isWord("import") {
                pos += 1
                if token.isWord("public") || token.isWord("weak") { pos += 1 }
                imports.append(try stringLiteral("an import path"))
                try expect(";")
            } else if t.isWord("option") {
                try skipStatement()
            } else if t.isWord("message") {
                pos += 1
                topLevelMessages.append(try message(scope: package))
            } else if t.isWord("enum") {
                pos += 1
                try enumeration(scope: package)
            } else if t.isWord("service") || t.isWord("extend") {
                try skipBlock()
            } else if t.isWord("syntax") {
                throw fail("'syntax' must be the first statement")
            } else {
                throw fail("expected a top-level statement (message, enum, import, package, option, service)")
            }
        }
    }

    private func qualify(_ scope: String, _ name: String) -> String { scope.isEmpty ? name : scope + "." + name }

    // MARK: messages

    /// Parses `Name { … }` after the `message` keyword; returns the message's index.
    private mutating func message(scope: String) throws(ProtoSchemaError) -> Int {
        let at = token
        let name = try identifier("a message name")
        let id = messages.count
        let fullName = qualify(scope, name)
        messages.append(DraftMessage(name: name, fullName: fullName, line: at.line, column: at.column))
        try expect("{")
        var reservedNumbers: [ClosedRange<Int64>] = []
        var reservedNames: [String] = []
        while !token.isSymbol("}") {
            let t = token
            guard t.kind != .end else { throw fail("expected '}' closing message \(name)") }
            if t.isSymbol(";") {
                pos += 1
            } else if t.isWord("message") && peek(1).kind == .identifier && peek(2).isSymbol("{") {
                pos += 1
                let nested = try message(scope: fullName)
                messages[id].nested.append(nested)
            } else if t.isWord("enum") && peek(1).kind == .identifier && peek(2).isSymbol("{") {
                pos += 1
                try enumeration(scope: fullName)
            } else if t.isWord("oneof") && peek(1).kind == .identifier && peek(2).isSymbol("{") {
                pos += 1
                try oneof(message: id)
            } else if t.isWord("option") {
                // `option` and `reserved` are keywords here, as protoc reads them.
                try skipStatement()
            } else if t.isWord("reserved") {
                pos += 1
                try reserved(numbers: &reservedNumbers, names: &reservedNames)
            } else if t.isWord("extensions") && peek(1).kind == .number {
                try skipStatement()
            } else if t.isWord("extend") && !peek(2).isSymbol("=") {
                try skipBlock()
            } else {
                try field(message: id, oneof: nil)
            }
        }
        pos += 1
        for f in messages[id].fields {
            if reservedNumbers.contains(where: { $0.contains(Int64(f.number)) }) {
                throw ProtoSchemaError("field \(f.name) uses reserved number \(f.number)", line: f.line, column: f.column)
            }
            if reservedNames.contains(f.name) {
                throw ProtoSchemaError("field name \(f.name) is reserved", line: f.line, column: f.column)
            }
        }
        return id
    }

    /// `reserved 2, 15, 9 to 11, 40 to max;` or `reserved "foo", "bar";`.
    private mutating func reserved(numbers: inout [ClosedRange<Int64>], names: inout [String]) throws(ProtoSchemaError) {
        repeat {
            if token.kind == .string {
                names.append(advance().text)
            } else if token.kind == .identifier {
                names.append(advance().text)
            } else {
                let low = try integer("a reserved field number")
                var high = low
                if token.isWord("to") {
                    pos += 1
                    if token.isWord("max") {
                        pos += 1
                        high = Int64(Self.maxFieldNumber)
                    } else {
                        high = try integer("the end of a reserved range")
                    }
                }
                guard low <= high else { throw fail("a reserved range ends before it starts") }
                numbers.append(low...high)
            }
            guard token.isSymbol(",") else { break }
            pos += 1
        } while true
        try expect(";")
    }

    private mutating func oneof(message id: Int) throws(ProtoSchemaError) {
        let name = try identifier("a oneof name")
        let index = messages[id].oneofs.count
        messages[id].oneofs.append(name)
        try expect("{")
        while !token.isSymbol("}") {
            guard token.kind != .end else { throw fail("expected '}' closing oneof \(name)") }
            if token.isSymbol(";") {
                pos += 1
            } else if token.isWord("option") {
                try skipStatement()
            } else {
                try field(message: id, oneof: index)
            }
        }
        pos += 1
    }

    static let maxFieldNumber: Int32 = 536_870_911
    static let scalarNames = Set(ProtoScalar.allCases.map(\.rawValue))

    /// `[label] type name = number [options];` or `map<K, V> name = number [options];`.
    private mutating func field(message id: Int, oneof: Int?) throws(ProtoSchemaError) {
        let start = token
        var label = ProtoLabel.implicit
        if oneof == nil, token.kind == .identifier, peek(1).kind == .identifier || peek(1).isSymbol(".") {
            switch token.text {
            case "optional": label = .optional
            case "required": label = .required
            case "repeated": label = .repeated
            default: break
            }
            if label != .implicit {
                if label == .required && syntax == "proto3" {
                    throw fail("'required' is not allowed in proto3")
                }
                pos += 1
            }
        } else if oneof != nil, ["optional", "required", "repeated"].contains(token.text), token.kind == .identifier,
            peek(1).kind == .identifier, !peek(2).isSymbol("=")
        {
            throw fail("oneof members take no label")
        }
        if token.isWord("group") && peek(1).kind == .identifier && peek(2).isSymbol("=") {
            throw fail("groups are not supported")
        }
        var typeName: String
        var isMap = false
        var mapTypes: (key: String, value: String, line: Int, column: Int)?
        if token.isWord("map") && peek(1).isSymbol("<") {
            guard label == .implicit, oneof == nil else { throw fail("a map field takes no label and is not in a oneof") }
            pos += 2
            let keyToken = token
            let key = try dottedName("a map key type")
            guard Self.scalarNames.contains(key), !["double", "float", "bytes"].contains(key) else {
                throw fail("a map key is an integer, bool or string type", at: keyToken)
            }
            try expect(",")
            let valueToken = token
            let value = try dottedName("a map value type")
            if value == "map" { throw fail("a map value cannot be a map", at: valueToken) }
            try expect(">")
            mapTypes = (key, value, valueToken.line, valueToken.column)
            isMap = true
            label = .repeated
            typeName = ""
        } else {
            typeName = try dottedName("a field type")
        }
        let nameToken = token
        let name = try identifier("a field name")
        try expect("=")
        let numberToken = token
        let number = try integer("a field number")
        guard number >= 1, number <= Int64(Self.maxFieldNumber) else {
            throw fail("field numbers run from 1 to \(Self.maxFieldNumber)", at: numberToken)
        }
        guard !(19_000...19_999).contains(number) else {
            throw fail("field numbers 19000 to 19999 are reserved for protobuf itself", at: numberToken)
        }
        if token.isSymbol("[") { try skipFieldOptions() }
        if token.isSymbol("{") { throw fail("groups are not supported") }
        try expect(";")
        if let mapTypes {
            let entryName = Self.mapEntryName(name)
            let entryFull = messages[id].fullName + "." + entryName
            let entry = messages.count
            var draft = DraftMessage(name: entryName, fullName: entryFull, line: start.line, column: start.column)
            draft.isMapEntry = true
            draft.fields = [
                DraftField(name: "key", number: 1, label: .implicit, typeName: mapTypes.key, oneof: nil, isMap: false,
                           line: start.line, column: start.column),
                DraftField(name: "value", number: 2, label: .implicit, typeName: mapTypes.value, oneof: nil, isMap: false,
                           line: mapTypes.line, column: mapTypes.column),
            ]
            messages.append(draft)
            typeName = "." + entryFull
            _ = entry
        }
        for f in messages[id].fields {
            if f.number == Int32(number) {
                throw ProtoSchemaError("field number \(number) is already used by \(f.name)",
                                       line: numberToken.line, column: numberToken.column)
            }
            if f.name == name {
                throw ProtoSchemaError("field \(name) is declared twice", line: nameToken.line, column: nameToken.column)
            }
        }
        messages[id].fields.append(DraftField(
            name: name, number: Int32(number), label: label, typeName: typeName, oneof: oneof, isMap: isMap,
            line: start.line, column: start.column))
    }

    /// `[packed = true, deprecated = true, (my.opt).x = {…}]`: accepted and ignored (packing is
    /// read from the wire, where both forms are always accepted).
    private mutating func skipFieldOptions() throws(ProtoSchemaError) {
        var depth = 0
        repeat {
            let t = advance()
            if t.kind == .end { throw fail("expected ']'", at: t) }
            if t.isSymbol("[") || t.isSymbol("{") { depth += 1 }
            if t.isSymbol("]") || t.isSymbol("}") { depth -= 1 }
        } while depth > 0
    }

    /// `map<…> tag_ids` declares the entry message `TagIdsEntry`, as protoc names it.
    static func mapEntryName(_ field: String) -> String {
        var out = ""
        var upper = true
        for c in field {
            if c == "_" {
                upper = true
            } else {
                out += upper ? c.uppercased() : String(c)
                upper = false
            }
        }
        return out + "Entry"
    }

    // MARK: enums

    private mutating func enumeration(scope: String) throws(ProtoSchemaError) {
        let at = token
        let name = try identifier("an enum name")
        var draft = DraftEnum(name: name, fullName: qualify(scope, name), line: at.line, column: at.column)
        try expect("{")
        while !token.isSymbol("}") {
            guard token.kind != .end else { throw fail("expected '}' closing enum \(name)") }
            if token.isSymbol(";") {
                pos += 1
            } else if token.isWord("option") && !peek(1).isSymbol("=") {
                try skipStatement()
            } else if token.isWord("reserved") && !peek(1).isSymbol("=") {
                pos += 1
                var numbers: [ClosedRange<Int64>] = []
                var names: [String] = []
                try reserved(numbers: &numbers, names: &names)
            } else {
                let valueToken = token
                let valueName = try identifier("an enum value name")
                try expect("=")
                let number = try integer("an enum value number")
                guard let n = Int32(exactly: number) else { throw fail("an enum value is a 32-bit integer", at: valueToken) }
                if draft.values.contains(where: { $0.name == valueName }) {
                    throw ProtoSchemaError("enum value \(valueName) is declared twice", line: valueToken.line,
                                           column: valueToken.column)
                }
                if token.isSymbol("[") { try skipFieldOptions() }
                try expect(";")
                draft.values.append(ProtoEnumValue(name: valueName, number: n))
            }
        }
        pos += 1
        guard !draft.values.isEmpty else {
            throw ProtoSchemaError("enum \(name) has no values", line: at.line, column: at.column)
        }
        if syntax == "proto3" && draft.values[0].number != 0 {
            throw ProtoSchemaError("the first value of a proto3 enum must be 0", line: at.line, column: at.column)
        }
        enums.append(draft)
    }
}
