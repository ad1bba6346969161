import Flow

/// Decodes Avro binary records (no container framing, no registry prefix) into Flow rows, reading
/// data written with `writer` as the `reader` schema describes it (Avro schema resolution).
///
/// The reader schema decides the columns (`AvroSchema.flowSchema`); everything the two schemas
/// settle between them is compiled once in `init`, so `decode` only walks the bytes.
public struct AvroDecoder: RowDecoder {
    public let schema: Schema
    public let writerSchema: AvroSchema
    public let readerSchema: AvroSchema

    private struct Step: Sendable {
        var name: String
        /// The column the writer field fills, or nil for a field the reader drops.
        var column: Int?
        var node: AvroNode
    }

    private struct Default: Sendable {
        var column: Int
        var value: Value
    }

    private let program: AvroProgram
    private let steps: [Step]
    private let defaults: [Default]

    /// Data and reader share one schema.
    public init(schema: AvroSchema) throws {
        try self.init(writer: schema, reader: schema)
    }

    /// - Throws: `CodecError` when the schemas do not resolve (a reader field with no default that
    ///   the writer lacks, types that do not promote, ...) or the reader has no Flow mapping.
    public init(writer: AvroSchema, reader: AvroSchema) throws {
        schema = try reader.flowSchema()
        writerSchema = writer
        readerSchema = reader
        guard case .record(let w) = try writer.resolve(writer.root) else {
            throw CodecError("the writer's top-level type must be a record, not \(writer.root.kindName)")
        }
        guard case .record(let r) = try reader.resolve(reader.root) else {
            throw CodecError("the reader's top-level type must be a record")
        }
        // Top-level record names are not compared: a reader schema given by hand rarely repeats
        // the producer's name, and the fields are what matter.
        var resolver = AvroResolver(writer: writer, reader: reader)
        var steps: [Step] = []
        var taken = Set<Int>()
        for wf in w.fields {
            do {
                if let ri = AvroResolver.readerField(for: wf, in: r) {
                    guard taken.insert(ri).inserted else {
                        throw CodecError("two writer fields map to reader field \(r.fields[ri].name)")
                    }
                    steps.append(Step(name: r.fields[ri].name, column: ri, node: try resolver.node(wf.type, r.fields[ri].type)))
                } else {
                    steps.append(Step(name: wf.name, column: nil, node: try resolver.node(wf.type, wf.type)))
                }
            } catch let e as CodecError { throw e.within(wf.name) }
        }
        var pending: [(column: Int, bytes: [UInt8], node: AvroNode)] = []
        for (ri, rf) in r.fields.enumerated() where !taken.contains(ri) {
            do {
                let (bytes, node) = try resolver.defaultValue(rf)
                pending.append((ri, bytes, node))
            } catch let e as CodecError { throw e.within(rf.name) }
        }
        let program = AvroProgram(records: resolver.records)
        // Each default is decoded once, here, into the value every row then receives.
        var defaults: [Default] = []
        var scratch: [UInt8] = []
        for p in pending {
            var builder = ColumnBuilder(type: schema[p.column].type)
            do {
                try p.bytes.withUnsafeBytes { raw in
                    var c = AvroCursor(raw)
                    try program.append(p.node, &c, to: &builder, scratch: &scratch)
                }
            } catch let e as CodecError { throw CodecError("default: " + e.message, path: e.path).within(schema[p.column].name) }
            defaults.append(Default(column: p.column, value: builder.finish().value(at: 0)))
        }
        self.program = program
        self.steps = steps
        self.defaults = defaults
    }

    public func decode(_ payload: UnsafeRawBufferPointer, into columns: inout [ColumnBuilder]) throws {
        guard columns.count == schema.count else {
            throw CodecError("expected \(schema.count) column builders, got \(columns.count)")
        }
        var c = AvroCursor(payload)
        var scratch: [UInt8] = []
        for step in steps {
            do {
                if let k = step.column {
                    try program.append(step.node, &c, to: &columns[k], scratch: &scratch)
                } else {
                    try program.skip(step.node, &c)
                }
            } catch let e as CodecError { throw e.within(step.name) }
        }
        for d in defaults { columns[d.column].append(value: d.value) }
        guard c.remaining == 0 else { throw CodecError("\(c.remaining) bytes left after the record") }
    }
}
