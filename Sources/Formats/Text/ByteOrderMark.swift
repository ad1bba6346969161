import Flow

/// Byte-order marks at the start of a text file. Text is read as UTF-8: a UTF-8 mark is dropped
/// (spreadsheet exports start with one), a UTF-16 or UTF-32 mark is refused with a clear error
/// instead of being read as garbage.
enum ByteOrderMark {
    static let utf8: [UInt8] = [0xEF, 0xBB, 0xBF]
    /// The bytes needed to recognise every mark handled here.
    static let longest = 4

    /// `start` (the input's first bytes, or all of a shorter input) without a UTF-8 mark.
    static func strip(_ start: [UInt8], sourceName: String) throws -> [UInt8] {
        if start.starts(with: utf8) { return Array(start.dropFirst(utf8.count)) }
        let encoding: String? =
            if start.starts(with: [0xFF, 0xFE, 0x00, 0x00]) || start.starts(with: [0x00, 0x00, 0xFE, 0xFF]) {
                "UTF-32"
            } else if start.starts(with: [0xFF, 0xFE]) || start.starts(with: [0xFE, 0xFF]) {
                "UTF-16"
            } else {
                nil
            }
        if let encoding {
            throw DponeError(
                .source, "\(sourceName) is \(encoding) (it starts with a \(encoding) byte-order mark); dpone reads UTF-8 text",
                hint: "convert it first, e.g. iconv -f \(encoding) -t UTF-8, or save it from the spreadsheet as CSV UTF-8",
                context: ["file": sourceName])
        }
        return start
    }
}

/// Holds back the input's first bytes until a byte-order mark can be recognised, then passes the
/// start on without a UTF-8 mark (or refuses UTF-16/32) and every later chunk as it is. Shared by
/// the CSV tokenizer and the JSON Lines splitter.
struct ByteOrderMarkFilter: Sendable {
    enum Step {
        /// Keep feeding: the start is still being collected.
        case wait
        /// Read these bytes (the collected start, mark removed) instead of the chunk.
        case start([UInt8])
        /// Read the chunk as it is.
        case pass
    }

    let sourceName: String
    private var head: [UInt8]? = []

    init(sourceName: String) { self.sourceName = sourceName }

    /// Bytes held back so far.
    var heldBytes: Int { head?.count ?? 0 }

    mutating func feed(_ chunk: UnsafeRawBufferPointer) throws -> Step {
        guard head != nil else { return .pass }
        head!.append(contentsOf: chunk)
        guard head!.count >= ByteOrderMark.longest else { return .wait }
        return .start(try takeHead())
    }

    /// The end of the input: what is still held back (nil when nothing is).
    mutating func finish() throws -> [UInt8]? {
        guard head != nil else { return nil }
        return try takeHead()
    }

    private mutating func takeHead() throws -> [UInt8] {
        let bytes = head ?? []
        head = nil
        return try ByteOrderMark.strip(bytes, sourceName: sourceName)
    }
}
