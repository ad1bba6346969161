import Flow

/// Decodes protobuf payloads of one message type into one row each, straight from the wire bytes
/// into column builders. Malformed input throws a `CodecError` naming the field; it never traps.
///
/// The payload is the bare message: Confluent framing (magic byte, schema id, message indexes)
/// is removed by the caller, which uses the indexes to pick the message (`init(file:messageIndexes:)`).
public struct ProtobufDecoder: RowDecoder {
    public let schema: Schema
    public let file: ProtoFile
    public let message: ProtoMessage
    private let plans: [ProtoColumnPlan]
    private let required: [Int]
    private let json: ProtoJSONWriter

    public init(file: ProtoFile, message: ProtoMessage) {
        self.file = file
        self.message = message
        let (schema, plans, required) = ProtoSchemaMapping.plan(message, file)
        self.schema = schema
        self.plans = plans
        self.required = required
        self.json = ProtoJSONWriter(file: file)
    }

    /// The message with fully qualified name `messageName` in `file`.
    public init(file: ProtoFile, messageName: String) throws(ProtoSchemaError) {
        self.init(file: file, message: try file.message(named: messageName))
    }

    /// The message Confluent message indexes select (`[0]` or `[]`: the first top-level message).
    public init(file: ProtoFile, messageIndexes: [Int]) throws(ProtoSchemaError) {
        self.init(file: file, message: try file.message(atIndexes: messageIndexes))
    }

    /// Parses `protoText` and selects `messageName`, or the first top-level message when nil.
    public init(protoText: String, messageName: String? = nil) throws(ProtoSchemaError) {
        let file = try ProtoFile(parsing: protoText)
        if let messageName {
            try self.init(file: file, messageName: messageName)
        } else {
            try self.init(file: file, messageIndexes: [0])
        }
    }

    public func decode(_ payload: UnsafeRawBufferPointer, into columns: inout [ColumnBuilder]) throws {
        precondition(columns.count == plans.count, "one builder per schema column")
        try ProtoScan.with(message, payload) { scan in
            for i in required where scan.heads[i] < 0 {
                throw CodecError("required field is missing", path: message.fields[i].name)
            }
            for (c, plan) in plans.enumerated() {
                try append(plan, scan, into: &columns[c])
            }
        }
    }

    private func append(_ plan: ProtoColumnPlan, _ scan: ProtoScan, into column: inout ColumnBuilder) throws {
        switch plan {
        case .scalar(let fi, let s, let nullable):
            let k = scan.tails[fi]
            if k < 0 {
                if nullable { column.appendNull() } else { ProtoScalarValues.appendDefault(s, to: &column) }
                return
            }
            var r = scan.reader(k)
            do { try ProtoScalarValues.append(s, &r, to: &column) } catch let e as CodecError {
                throw e.within(message.fields[fi].name)
            }
        case .enumeration(let fi, let e, let nullable):
            let k = scan.tails[fi]
            let enumeration = file.enums[e]
            var number = enumeration.defaultNumber
            if k >= 0 {
                var r = scan.reader(k)
                number = Int32(truncatingIfNeeded: try r.varint())
            } else if nullable {
                return column.appendNull()
            }
            if let symbol = enumeration.symbol(for: number) {
                column.append(string: symbol)
            } else {
                var text: [UInt8] = []
                ScalarFormatting.appendInt(Int64(number), to: &text)
                column.append(bytes: text)
            }
        case .timestamp(let fi):
            guard scan.heads[fi] >= 0 else { return column.appendNull() }
            do {
                try json.merged(fi, scan, cutoff: 0) { column.append(ProtoTimestamp.micros(try ProtoTimestamp.read($0))) }
            } catch let e as CodecError {
                throw e.within(message.fields[fi].name)
            }
        case .json(let fi):
            let f = message.fields[fi]
            if scan.heads[fi] < 0 && !f.isRepeated { return column.appendNull() }
            var out: [UInt8] = []
            do {
                try json.fieldValue(f, fi, scan, cutoff: 0, depth: 0, into: &out)
            } catch let e as CodecError {
                throw e.within(f.name)
            }
            column.append(bytes: out)
        case .oneof(let o):
            guard let fi = scan.oneofWinner(o, in: message), let cutoff = scan.oneofCutoff(field: fi, in: message) else {
                return column.appendNull()
            }
            let f = message.fields[fi]
            var out: [UInt8] = [UInt8(ascii: "{")]
            JSONText.appendString(f.name, to: &out)
            out.append(UInt8(ascii: ":"))
            do {
                try json.fieldValue(f, fi, scan, cutoff: cutoff, depth: 0, into: &out)
            } catch let e as CodecError {
                throw e.within(f.name)
            }
            out.append(UInt8(ascii: "}"))
            column.append(bytes: out)
        }
    }
}
