import Flow

/// Every problem found in one manifest, sorted by position (line, then column); never empty when thrown.
///
/// `description` renders each error on its own line(s), in order; the CLI prints it and exits 2.
public struct ManifestErrors: Error, Sendable, Hashable, CustomStringConvertible {
    public var errors: [ManifestError]

    /// Sorts `errors` by position, keeping discovery order for ties, and drops exact duplicates.
    public init(_ errors: [ManifestError]) {
        var seen: Set<ManifestError> = []
        let unique = errors.filter { seen.insert($0).inserted }
        self.errors = unique.enumerated().sorted { a, b in
            (a.element.line, a.element.column, a.offset) < (b.element.line, b.element.column, b.offset)
        }.map(\.element)
    }

    /// The first error by position.
    public var first: ManifestError? { errors.first }

    public var description: String { errors.map(\.description).joined(separator: "\n") }

    /// All errors as one engine-wide error of kind `.manifest` (exit code 2).
    public var dponeError: DponeError {
        DponeError(.manifest, description)
    }
}
