import Yams

/// A 1-based line and column in the manifest text.
struct Position: Sendable, Hashable {
    var line: Int
    var column: Int

    static let start = Position(line: 1, column: 1)

    init(line: Int, column: Int) {
        self.line = max(line, 1)
        self.column = max(column, 1)
    }

    /// Yams marks are already 1-based.
    init?(_ mark: Mark?) {
        guard let mark else { return nil }
        self.init(line: mark.line, column: mark.column)
    }
}
