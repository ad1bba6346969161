import Yams

/// Collects errors while a manifest is decoded and reads typed, env-resolved values from nodes.
///
/// Readers return nil after reporting an error, so a decoder can keep going and find the next one.
public final class DecodingContext {
    let file: String
    let environment: [String: String]
    private(set) var errors: [ManifestError] = []

    init(file: String, environment: [String: String]) {
        self.file = file
        self.environment = environment
    }

    func fail(at mark: Position, _ path: ManifestPath, _ message: String, hint: String? = nil) {
        errors.append(
            ManifestError(
                file: file, line: mark.line, column: mark.column, keyPath: path.description,
                message: message, hint: hint))
    }

    public func fail(_ ref: NodeRef, _ message: String, hint: String? = nil) {
        fail(at: ref.mark, ref.path, message, hint: hint)
    }

    // MARK: scalars

    /// The scalar's env-resolved text and kind, or nil (error reported) for a bad `${...}`.
    /// Non-scalars return nil without an error.
    func scalar(_ ref: NodeRef) -> (text: String, kind: ScalarKind)? {
        guard case .scalar(let s) = ref.node else { return nil }
        guard VariableSubstitution.hasReferences(s.string) else {
            return (s.string, ScalarKind.classify(s.string, plain: s.isPlain))
        }
        switch VariableSubstitution.substitute(s.string, environment: environment) {
        case .success(let text):
            return (text, ScalarKind.classify(text, plain: s.isPlain, allowNull: false))
        case .failure(.unset(let name)):
            fail(
                ref, "environment variable '\(name)' is not set",
                hint: "export \(name), use ${\(name):-default}, or write $${ for a literal '${'")
        case .failure(.unterminated):
            fail(ref, "unterminated '${' in value", hint: "close it with '}', or write $${ for a literal '${'")
        case .failure(.invalidName(let name)):
            fail(ref, "invalid environment variable name '\(name)' in '${...}'")
        }
        return nil
    }

    /// How the node is named in a "found ..." phrase.
    func found(_ ref: NodeRef) -> String {
        switch ref.node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let s): return ScalarKind.classify(s.string, plain: s.isPlain).found(s.string)
        }
    }

    private func wrongType(_ ref: NodeRef, _ expected: String, hint: String? = nil) {
        fail(ref, "expected \(expected), found \(found(ref))", hint: hint)
    }

    /// A non-null scalar's text (numbers and booleans read as their text).
    public func string(_ ref: NodeRef) -> String? {
        guard case .scalar = ref.node else {
            wrongType(ref, "a string")
            return nil
        }
        guard let (text, kind) = scalar(ref) else { return nil }
        if kind == .null {
            wrongType(ref, "a string")
            return nil
        }
        return text
    }

    /// Any scalar's text as written (after substitution), null-looking text included:
    /// for values such as `null_token: NULL` where the text itself is the point.
    public func literalText(_ ref: NodeRef) -> String? {
        guard case .scalar = ref.node else {
            wrongType(ref, "a string")
            return nil
        }
        return scalar(ref)?.text
    }

    public func bool(_ ref: NodeRef) -> Bool? {
        guard case .scalar = ref.node else {
            wrongType(ref, "a boolean (true or false)")
            return nil
        }
        guard let (text, kind) = scalar(ref) else { return nil }
        guard case .bool(let value) = kind else {
            fail(ref, "expected a boolean (true or false), found \(kind.found(text))")
            return nil
        }
        return value
    }

    public func int(_ ref: NodeRef) -> Int? {
        guard case .scalar = ref.node else {
            wrongType(ref, "an integer")
            return nil
        }
        guard let (text, kind) = scalar(ref) else { return nil }
        guard case .int(let value) = kind else {
            fail(ref, "expected an integer, found \(kind.found(text))")
            return nil
        }
        return value
    }

    /// A value of a string enumeration; a miss lists the valid values and suggests the nearest.
    /// `allowed` narrows the cases (e.g. sink types); `noun` names the thing ("strategy mode").
    public func choice<E: RawRepresentable & CaseIterable>(_ ref: NodeRef, _ noun: String, allowed: [E]? = nil) -> E?
    where E.RawValue == String {
        let valid = (allowed ?? Array(E.allCases)).map(\.rawValue)
        return choice(ref, noun, among: valid, known: E.allCases.map(\.rawValue)).flatMap(E.init(rawValue:))
    }

    /// One of `valid` names (connector types, say); a miss lists them and suggests the nearest.
    /// A name in `known` but not in `valid` is "not supported" rather than unknown.
    public func choice(_ ref: NodeRef, _ noun: String, among valid: [String], known: [String] = []) -> String? {
        guard let text = string(ref) else { return nil }
        if valid.contains(text) { return text }
        if known.contains(text) {
            fail(ref, "\(noun) '\(text)' is not supported; expected one of: \(valid.joined(separator: ", "))")
            return nil
        }
        fail(
            ref, "unknown \(noun) '\(text)'; expected one of: \(valid.joined(separator: ", "))",
            hint: Suggestion.hint(for: text, in: valid))
        return nil
    }

    /// `table: {schema, name}`; a plain string `schema.name` or `name` is accepted too.
    public func table(_ ref: NodeRef) -> TableRef? {
        if case .scalar = ref.node {
            guard let text = string(ref) else { return nil }
            let parts = text.split(separator: ".", maxSplits: 1).map(String.init)
            return parts.count == 2 ? TableRef(schema: parts[0], name: parts[1]) : TableRef(name: text)
        }
        guard let map = mapping(ref) else { return nil }
        map.rejectUnknownKeys(["schema", "name"], self)
        let schema = map["schema"].flatMap { string($0) }
        guard let name = map.required("name", self).flatMap({ string($0) }) else { return nil }
        return TableRef(schema: schema, name: name)
    }

    /// A strictly positive integer.
    public func positiveInt(_ ref: NodeRef) -> Int? {
        guard let n = int(ref) else { return nil }
        guard n > 0 else {
            fail(ref, "expected a positive integer, found \(n)")
            return nil
        }
        return n
    }

    // MARK: collections

    public func list(_ ref: NodeRef) -> [NodeRef]? {
        guard case .sequence(let seq) = ref.node else {
            wrongType(ref, "a list")
            return nil
        }
        return seq.enumerated().map { NodeRef(node: $1, path: ref.path.appending(index: $0), keyMark: nil) }
    }

    public func mapping(_ ref: NodeRef) -> MappingReader? {
        guard case .mapping(let map) = ref.node else {
            wrongType(ref, "a mapping")
            return nil
        }
        var entries: [MappingReader.Entry] = []
        for (key, value) in map {
            guard case .scalar(let k) = key else {
                fail(NodeRef(node: key, path: ref.path, keyMark: nil), "mapping keys must be plain strings")
                continue
            }
            entries.append(
                MappingReader.Entry(
                    key: k.string, keyMark: Position(key.mark),
                    value: NodeRef(node: value, path: ref.path.appending(k.string), keyMark: Position(key.mark))))
        }
        return MappingReader(ref: ref, entries: entries)
    }

    /// A list of strings; a single string reads as a one-element list.
    public func stringOrList(_ ref: NodeRef) -> [String]? {
        if case .sequence = ref.node { return stringList(ref) }
        guard case .scalar = ref.node else {
            wrongType(ref, "a string or a list of strings")
            return nil
        }
        return string(ref).map { [$0] }
    }

    public func stringList(_ ref: NodeRef) -> [String]? {
        guard let items = list(ref) else { return nil }
        let strings = items.compactMap { string($0) }
        return strings.count == items.count ? strings : nil
    }

    /// Any node as an untyped, env-resolved value.
    public func value(_ ref: NodeRef) -> ManifestValue? {
        switch ref.node {
        case .scalar:
            guard let (text, kind) = scalar(ref) else { return nil }
            switch kind {
            case .null: return .null
            case .bool(let b): return .bool(b)
            case .int(let i): return .int(i)
            case .float(let d): return .double(d)
            case .string: return .string(text)
            }
        case .sequence:
            guard let items = list(ref) else { return nil }
            let values = items.compactMap { value($0) }
            return values.count == items.count ? .list(values) : nil
        case .mapping:
            guard let map = mapping(ref) else { return nil }
            let values = map.entries.compactMap { e in value(e.value).map { ManifestValue.MappingEntry(key: e.key, value: $0) } }
            return values.count == map.entries.count ? .mapping(values) : nil
        case .alias:
            fail(ref, "aliases are not supported here")
            return nil
        }
    }
}
