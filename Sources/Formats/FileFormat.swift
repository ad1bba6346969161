import Flow

/// The text formats the files connector reads and writes.
public enum FileFormat: String, Sendable, Codable, CaseIterable {
    /// RFC 4180 comma-separated values (delimiter, quote and NULL spelling configurable).
    case csv
    /// JSON Lines: one JSON object per line.
    case jsonl

    /// The extension of part files written in this format.
    public var fileExtension: String { rawValue }
}

/// How CSV text is delimited and quoted and how NULL is spelled.
///
/// NULL is an *unquoted* field equal to `nullToken` (default: the empty field). A quoted field is
/// never NULL for text types: `""` is the empty string.
public struct CSVOptions: Sendable, Hashable {
    public var delimiter: UInt8
    public var quote: UInt8
    public var nullToken: String
    /// The first record names the columns (reading) / a header line is written (writing).
    public var hasHeader: Bool

    public init(
        delimiter: UInt8 = UInt8(ascii: ","),
        quote: UInt8 = UInt8(ascii: "\""),
        nullToken: String = "",
        hasHeader: Bool = true
    ) {
        self.delimiter = delimiter
        self.quote = quote
        self.nullToken = nullToken
        self.hasHeader = hasHeader
    }

    /// Throws when the delimiter and quote collide or are line breaks.
    public func validate() throws {
        let lineBreaks: Set<UInt8> = [UInt8(ascii: "\r"), UInt8(ascii: "\n")]
        guard delimiter != quote, !lineBreaks.contains(delimiter), !lineBreaks.contains(quote) else {
            throw DponeError(
                .manifest, "invalid CSV options: the delimiter and the quote must differ and not be line breaks",
                context: ["delimiter": String(UnicodeScalar(delimiter)), "quote": String(UnicodeScalar(quote))])
        }
        if nullToken.utf8.contains(where: { $0 == delimiter || $0 == quote || lineBreaks.contains($0) }) {
            throw DponeError(
                .manifest, "invalid CSV options: the null token '\(nullToken)' contains the delimiter, the quote or a line break")
        }
    }
}
