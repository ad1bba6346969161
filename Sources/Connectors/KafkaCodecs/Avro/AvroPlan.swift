/// The decoding program: the writer schema resolved against the reader schema once, when the
/// decoder is built, so decoding a row is a walk over this tree with no name lookups or checks
/// that schema resolution already settled.
indirect enum AvroNode: Sendable {
    /// A null: no bytes.
    case null
    case scalar(AvroScalarPlan)
    case array(AvroNode)
    case map(AvroNode)
    /// A record plan in `AvroProgram.records` (an index, so recursive schemas stay finite).
    case record(Int)
    /// A writer union: the branch index, then that branch. A nil branch is one the reader cannot
    /// take; meeting it in data is an error (the schemas are compatible only for the other branches).
    case union([AvroNode?], names: [String])
}

/// Where a scalar's bytes come from (the writer's type).
enum AvroSource: Sendable, Equatable {
    case boolean, int, long, float, double
    /// `bytes` or `string`: the same length-prefixed encoding.
    case bytes
    case fixed(Int)
    /// Writer symbol index → reader symbol index, -1 for a symbol the reader lacks (and has no default).
    case enumeration(mapping: [Int])
}

/// What the reader makes of the writer's value (the reader's type).
enum AvroTarget: Sendable, Equatable {
    case bool
    /// A plain int or long.
    case integer
    case float32, float64
    /// A string: the bytes must be UTF-8.
    case text
    case bytes
    /// Days since the epoch.
    case date
    /// Microseconds since midnight: the writer's value times `multiplier` (1000 from millis).
    case time(multiplier: Int64)
    case timestamp(multiplier: Int64, withTimeZone: Bool)
    /// Two's-complement big-endian unscaled bytes at the writer's scale, rescaled to the reader's.
    case decimal(fromScale: Int, toScale: Int, precision: Int)
    /// A uuid written as its 36-character text.
    case uuidText
    /// A uuid written as fixed(16).
    case uuidRaw
    /// An enum: the reader's symbols, UTF-8.
    case symbol([[UInt8]])
}

struct AvroScalarPlan: Sendable, Equatable {
    var source: AvroSource
    var target: AvroTarget
}

/// One record: its fields in writer order, then the reader fields the writer lacks.
struct AvroRecordPlan: Sendable {
    struct Step: Sendable {
        /// The reader's field name (the writer's for skipped fields), for error paths.
        var name: String
        /// `"name":` as JSON, ready to append.
        var key: [UInt8]
        var node: AvroNode
        /// False for a writer field the reader does not have: read and dropped.
        var keep: Bool
    }

    struct Default: Sendable {
        var key: [UInt8]
        /// The default in binary, read with `node` like writer data.
        var bytes: [UInt8]
        var node: AvroNode
    }

    var steps: [Step] = []
    var defaults: [Default] = []
}

/// The value one scalar decodes to, already converted to the reader's meaning. Byte values point
/// into the payload (or into a plan's stored default) and are used before the next read.
enum AvroScalar {
    case bool(Bool)
    case int(Int64)
    case float(Float)
    case double(Double)
    case text(UnsafeRawBufferPointer)
    case bytes(UnsafeRawBufferPointer)
    case date(Int32)
    case time(Int64)
    case timestamp(Int64, withTimeZone: Bool)
    case decimal(Int128, scale: Int)
    /// The 16 uuid bytes, big-endian.
    case uuid(UInt128)
    /// The reader's symbol index.
    case symbol(Int)
}
