import Flow
import Formats

/// Encodes batches straight from their columns into the newline-delimited JSON a BigQuery load job
/// reads (`sourceFormat: NEWLINE_DELIMITED_JSON` with an explicit schema), one object per row.
///
/// Why NDJSON: NULL and the empty string stay distinct without a null marker, exact decimals travel
/// as strings, and the emulator loads it (offline it has no Avro reader). CSV would need both a null
/// marker and quoting rules for every string; Avro OCF is not served by the emulator offline.
///
/// Values by BigQuery type:
/// - INT64, BOOL: JSON numbers and booleans; FLOAT64 a number, or `"NaN"`, `"Infinity"`, `"-Infinity"`;
/// - NUMERIC / BIGNUMERIC: the exact decimal digits as a string;
/// - STRING (uuids in canonical form), DATE, TIME, DATETIME (`YYYY-MM-DDTHH:MM:SS[.ffffff]`),
///   TIMESTAMP (the same with `Z`): strings;
/// - BYTES: base64; JSON: the value's own JSON text, unquoted.
///
/// Technical columns follow the business ones: `__dpone__seq` (the row's order in the checkpoint,
/// for the keep-last duplicate policy) and, when operations are staged, `__dpone__op`.
public struct BigQueryRowEncoder: Sendable {
    /// `"name":` for each business column, with a leading comma from the second on.
    private let keyPrefixes: [[UInt8]]
    private let sequenceKey: [UInt8]
    private let operationKey: [UInt8]?

    public init(columns: [String], stagesOperations: Bool) {
        keyPrefixes = columns.enumerated().map { i, name in Self.key(name, comma: i > 0) }
        sequenceKey = Self.key(TechnicalColumns.sequence, comma: !columns.isEmpty)
        operationKey = stagesOperations ? Self.key(TechnicalColumns.operation, comma: true) : nil
    }

    private static func key(_ name: String, comma: Bool) -> [UInt8] {
        var out: [UInt8] = comma ? [UInt8(ascii: ",")] : []
        var name = name
        name.withUTF8 { JSONLinesEncoder.appendString(UnsafeRawBufferPointer($0), to: &out) }
        out.append(UInt8(ascii: ":"))
        return out
    }

    /// Appends rows `rows` of `batch`; `firstSequence` numbers the first of them.
    public func encode(_ batch: Batch, rows: Range<Int>, firstSequence: Int64, into out: inout [UInt8]) {
        let columns = batch.columns
        var sequence = firstSequence
        for row in rows {
            out.append(UInt8(ascii: "{"))
            for c in 0..<columns.count {
                out.append(contentsOf: keyPrefixes[c])
                Self.appendValue(columns[c], row: row, to: &out)
            }
            out.append(contentsOf: sequenceKey)
            ScalarFormatting.appendInt(sequence, to: &out)
            sequence += 1
            if let operationKey {
                out.append(contentsOf: operationKey)
                ScalarFormatting.appendInt(Int64(batch.operations?[row].rawValue ?? RowOperation.upsert.rawValue), to: &out)
            }
            out.append(contentsOf: "}\n".utf8)
        }
    }

    @inline(__always)
    static func appendValue(_ column: Column, row: Int, to out: inout [UInt8]) {
        if column.isNull(row) {
            out.append(contentsOf: "null".utf8)
            return
        }
        switch column.values {
        case .bool(let a): ScalarFormatting.appendBool(a[row], to: &out)
        case .int16(let a): ScalarFormatting.appendInt(Int64(a[row]), to: &out)
        case .int32(let a):
            if column.type == .date {
                quoted(&out) { ScalarFormatting.appendDate(days: a[row], to: &$0) }
            } else {
                ScalarFormatting.appendInt(Int64(a[row]), to: &out)
            }
        case .int64(let a):
            switch column.type {
            case .time: quoted(&out) { ScalarFormatting.appendTime(micros: a[row], to: &$0) }
            case .timestamp(let tz): quoted(&out) { ScalarFormatting.appendTimestamp(micros: a[row], withTimeZone: tz, to: &$0) }
            default: ScalarFormatting.appendInt(a[row], to: &out)
            }
        case .float32(let a): appendFloat(Double(a[row]), to: &out) { ScalarFormatting.appendFloat(a[row], to: &$0) }
        case .float64(let a): appendFloat(a[row], to: &out) { ScalarFormatting.appendDouble(a[row], to: &$0) }
        case .int128(let a):
            var scale = 0
            if case .decimal(_, let s) = column.type { scale = s }
            quoted(&out) { ScalarFormatting.appendDecimal(a[row], scale: scale, to: &$0) }
        case .variable:
            column.withBytes(at: row) { raw in
                switch column.type {
                case .bytes:
                    quoted(&out) { ScalarFormatting.appendBase64(raw, to: &$0) }
                case .json, .list:
                    // Valid JSON has CR and LF only as whitespace (never inside a string): they
                    // become spaces, so a pretty-printed value stays on its NDJSON line.
                    if raw.isEmpty {
                        out.append(contentsOf: "null".utf8)
                    } else {
                        let start = out.count
                        out.append(contentsOf: raw)
                        for i in start..<out.count where out[i] == 0x0A || out[i] == 0x0D { out[i] = 0x20 }
                    }
                case .numeric:
                    quoted(&out) { $0.append(contentsOf: raw) }
                default:
                    JSONLinesEncoder.appendString(raw, to: &out)
                }
            }
        case .fixed16:
            column.withBytes(at: row) { raw in quoted(&out) { ScalarFormatting.appendUUID(raw, to: &$0) } }
        }
    }

    @inline(__always)
    private static func quoted(_ out: inout [UInt8], _ body: (inout [UInt8]) -> Void) {
        out.append(UInt8(ascii: "\""))
        body(&out)
        out.append(UInt8(ascii: "\""))
    }

    @inline(__always)
    private static func appendFloat(_ value: Double, to out: inout [UInt8], finite: (inout [UInt8]) -> Void) {
        if value.isFinite {
            finite(&out)
        } else if value.isNaN {
            out.append(contentsOf: "\"NaN\"".utf8)
        } else {
            out.append(contentsOf: (value < 0 ? "\"-Infinity\"" : "\"Infinity\"").utf8)
        }
    }
}
