import Formats
import Manifest

extension FileFormat {
    /// The format a path's extension implies (`.csv`, `.tsv` → csv; `.jsonl`, `.ndjson` → jsonl), or nil.
    public static func inferred(fromPath path: String) -> FileFormat? {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: ".") else { return nil }
        switch name[name.index(after: dot)...].lowercased() {
        case "csv", "tsv": return .csv
        case "jsonl", "ndjson": return .jsonl
        default: return nil
        }
    }
}

/// How a files source or sink lays out its file. Every field is resolved (defaults applied).
public struct FileOptions: ConnectorOptions, Hashable, Codable {
    public var renderKey: String { "file" }

    /// `format`; defaults to the path's extension.
    public var format: FileFormat
    /// `delimiter`, one character; default `,` (a tab for `.tsv`). CSV only.
    public var delimiter: Character
    /// `quote`, one character; default `"`. CSV only.
    public var quote: Character
    /// `null_token`: the text that reads as NULL, taken literally (`null_token: NULL` is "NULL"); default "".
    public var nullToken: String
    /// `header`: whether the first CSV line names the columns; default true.
    public var header: Bool

    public init(
        format: FileFormat, delimiter: Character = ",", quote: Character = "\"", nullToken: String = "",
        header: Bool = true
    ) {
        self.format = format
        self.delimiter = delimiter
        self.quote = quote
        self.nullToken = nullToken
        self.header = header
    }

    enum CodingKeys: String, CodingKey {
        case format, delimiter, quote, header
        case nullToken = "null_token"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        format = try c.decode(FileFormat.self, forKey: .format)
        delimiter = Character(try c.decode(String.self, forKey: .delimiter))
        quote = Character(try c.decode(String.self, forKey: .quote))
        nullToken = try c.decode(String.self, forKey: .nullToken)
        header = try c.decode(Bool.self, forKey: .header)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(format, forKey: .format)
        try c.encode(String(delimiter), forKey: .delimiter)
        try c.encode(String(quote), forKey: .quote)
        try c.encode(nullToken, forKey: .nullToken)
        try c.encode(header, forKey: .header)
    }
}

extension SourceOptions {
    /// The file layout of a files source.
    public var file: FileOptions? {
        get { connector(FileOptions.self) }
        set { connector = newValue.map(AnyConnectorOptions.init) }
    }
}

extension SinkOptions {
    /// The file layout of a files sink.
    public var file: FileOptions? {
        get { connector(FileOptions.self) }
        set { connector = newValue.map(AnyConnectorOptions.init) }
    }
}
