import Yams

/// The entries of one YAML mapping, in document order, with checks for unknown and missing keys.
public struct MappingReader {
    public struct Entry {
        public let key: String
        let keyMark: Position?
        public let value: NodeRef
    }

    public let ref: NodeRef
    public let entries: [Entry]

    public subscript(_ key: String) -> NodeRef? { entries.first { $0.key == key }?.value }

    public func has(_ key: String) -> Bool { self[key] != nil }

    /// Reports every key not in `allowed`, suggesting the nearest valid key or listing them all.
    public func rejectUnknownKeys(_ allowed: [String], _ ctx: DecodingContext) {
        for entry in entries where !allowed.contains(entry.key) {
            let hint = Suggestion.hint(for: entry.key, in: allowed)
                ?? "valid keys here: \(allowed.joined(separator: ", "))"
            ctx.fail(
                at: entry.keyMark ?? entry.value.mark, ref.path.appending(entry.key), "unknown key '\(entry.key)'",
                hint: hint)
        }
    }

    /// The value under `key`, or nil after reporting it missing (pointing at this mapping).
    public func required(_ key: String, _ ctx: DecodingContext, because reason: String? = nil) -> NodeRef? {
        if let value = self[key] { return value }
        ctx.fail(
            at: ref.ownerMark, ref.path, "missing required key '\(key)'" + (reason.map { " (\($0))" } ?? ""))
        return nil
    }

    /// Reports `key` as not applicable when present.
    public func rejectKey(_ key: String, _ ctx: DecodingContext, _ message: String) {
        guard let entry = entries.first(where: { $0.key == key }) else { return }
        ctx.fail(at: entry.keyMark ?? entry.value.mark, entry.value.path, message)
    }
}
