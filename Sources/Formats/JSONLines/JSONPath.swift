import Flow

/// A path into a JSON document, JSONPath-like: `data.items`, `$.data.items`, `meta.pages[0].next`,
/// `$` (the document itself). Keys are separated by dots; `[n]` indexes an array.
///
/// `locate` walks the raw text without building a tree: members that are not on the path are
/// skipped over as text.
public struct JSONPath: Sendable, Hashable, CustomStringConvertible {
    public enum Step: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    public let steps: [Step]
    public let description: String

    /// Parses `text`; nil when it is not a path (an empty key, an unclosed `[`, a non-numeric index).
    public init?(_ text: String) {
        description = text
        var body = Substring(text)
        if body.hasPrefix("$") { body = body.dropFirst() }
        if body.hasPrefix(".") { body = body.dropFirst() }
        var steps: [Step] = []
        var key = ""
        var i = body.startIndex
        func flushKey() -> Bool {
            guard !key.isEmpty else { return false }
            steps.append(.key(key))
            key = ""
            return true
        }
        var afterIndex = false
        while i < body.endIndex {
            let c = body[i]
            switch c {
            case ".":
                if !afterIndex, !flushKey() { return nil }
                afterIndex = false
            case "[":
                if !key.isEmpty { _ = flushKey() }
                guard let close = body[i...].firstIndex(of: "]"), let n = Int(body[body.index(after: i)..<close]), n >= 0
                else { return nil }
                steps.append(.index(n))
                i = close
                afterIndex = true
            default:
                if afterIndex { return nil }
                key.append(c)
            }
            i = body.index(after: i)
        }
        if !key.isEmpty { steps.append(.key(key)) } else if !afterIndex && !steps.isEmpty { return nil }
        self.steps = steps
    }

    /// The value at this path in `document`, or nil when a step is missing (or not an object or
    /// array). Throws `DponeError(.source)` when the text on the way is not JSON.
    public func locate(in document: UnsafeRawBufferPointer) throws -> JSONValueRef? {
        var s = JSONScanner(document)
        var current: JSONValueRef
        do {
            s.skipWhitespace()
            current = JSONValueRef(try s.scanValue())
        } catch let error as JSONSyntaxError {
            throw DponeError(.source, "invalid JSON: \(error.message)", context: ["byte": String(s.i + 1)])
        }
        for step in steps {
            var found: JSONValueRef?
            switch step {
            case .key(let name):
                try current.forEachMember(in: document) { key, value in
                    if found == nil, key == name { found = value }
                }
            case .index(let n):
                var k = 0
                try current.forEachElement(in: document) { value in
                    if k == n { found = value }
                    k += 1
                }
            }
            guard let found else { return nil }
            current = found
        }
        return current
    }

    /// The records array of a document whose records path is not given: the document itself when
    /// it is an array, else the first member (in document order) holding an array, looking one
    /// object level deeper when the top level has none (`{"data": {"items": [...]}}`).
    public static func firstArray(in document: UnsafeRawBufferPointer) throws -> JSONValueRef? {
        guard let root = try JSONPath("$")!.locate(in: document) else { return nil }
        if root.kind == .array { return root }
        guard root.kind == .object else { return nil }
        var nested: [JSONValueRef] = []
        var found: JSONValueRef?
        try root.forEachMember(in: document) { _, value in
            guard found == nil else { return }
            if value.kind == .array {
                found = value
            } else if value.kind == .object {
                nested.append(value)
            }
        }
        if let found { return found }
        for object in nested {
            try object.forEachMember(in: document) { _, value in
                if found == nil, value.kind == .array { found = value }
            }
            if let found { return found }
        }
        return nil
    }
}

/// A value inside a JSON document: its kind and the byte range of its raw text.
public struct JSONValueRef: Sendable, Hashable {
    public var kind: JSONObjectReader.MemberKind
    public var range: Range<Int>

    init(_ token: JSONToken) {
        kind =
            switch token.kind {
            case .string: .string
            case .number: .number
            case .true, .false: .bool
            case .null: .null
            case .object: .object
            case .array: .array
            }
        range = token.start..<token.end
    }

    /// Scalar text: a string unescaped, a number's digits, `true`/`false`; nil for null, objects and
    /// arrays.
    public func text(in document: UnsafeRawBufferPointer) throws -> String? {
        switch kind {
        case .null, .object, .array: return nil
        case .number, .bool: return String(decoding: UnsafeRawBufferPointer(rebasing: document[range]), as: UTF8.self)
        case .string:
            let s = JSONScanner(document)
            var out: [UInt8] = []
            do {
                try s.unescape(JSONToken(kind: .string, start: range.lowerBound, end: range.upperBound, hasEscapes: true), into: &out)
            } catch let error as JSONSyntaxError {
                throw DponeError(.source, "invalid JSON: \(error.message)")
            }
            return String(decoding: out, as: UTF8.self)
        }
    }

    /// Calls `body` with the start offset of each element of this array, in order.
    public func forEachElement(in document: UnsafeRawBufferPointer, _ body: (JSONValueRef) throws -> Void) throws {
        guard kind == .array else { return }
        var s = JSONScanner(document)
        s.i = range.lowerBound + 1
        do {
            s.skipWhitespace()
            if s.peek == UInt8(ascii: "]") { return }
            while true {
                s.skipWhitespace()
                let value = try s.scanValue()
                try body(JSONValueRef(value))
                guard try s.continues(closing: UInt8(ascii: "]")) else { return }
            }
        } catch let error as JSONSyntaxError {
            throw DponeError(.source, "invalid JSON: \(error.message)", context: ["byte": String(s.i + 1)])
        }
    }

    /// Calls `body` with each member of this object: its unescaped key and value.
    public func forEachMember(in document: UnsafeRawBufferPointer, _ body: (String, JSONValueRef) throws -> Void) throws {
        guard kind == .object else { return }
        var s = JSONScanner(document)
        s.i = range.lowerBound + 1
        var key: [UInt8] = []
        do {
            s.skipWhitespace()
            if s.peek == UInt8(ascii: "}") { return }
            while true {
                s.skipWhitespace()
                let k = try s.scanString()
                s.skipWhitespace()
                try s.expect(UInt8(ascii: ":"), "':'")
                s.skipWhitespace()
                let value = try s.scanValue()
                key.removeAll(keepingCapacity: true)
                try s.unescape(k, into: &key)
                try body(String(decoding: key, as: UTF8.self), JSONValueRef(value))
                guard try s.continues(closing: UInt8(ascii: "}")) else { return }
            }
        } catch let error as JSONSyntaxError {
            throw DponeError(.source, "invalid JSON: \(error.message)", context: ["byte": String(s.i + 1)])
        }
    }
}
