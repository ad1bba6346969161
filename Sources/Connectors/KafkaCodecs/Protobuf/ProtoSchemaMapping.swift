import Flow

/// How one column of the Flow schema is filled from the message's fields.
enum ProtoColumnPlan: Sendable {
    /// A singular scalar or enum field; `nullable` when the field has presence.
    case scalar(field: Int, ProtoScalar, nullable: Bool)
    case enumeration(field: Int, enumIndex: Int, nullable: Bool)
    case timestamp(field: Int)
    /// A message field (nullable), or a repeated or map field (never NULL: `[]` / `{}`).
    case json(field: Int)
    /// One column for a whole oneof: `{"member": value}`, NULL when no member is set.
    case oneof(Int)
}

/// Maps a message's fields to a Flow schema, one column per top-level field in declaration order
/// (a oneof takes one column at the place of its first member). PROTOBUF.md states the rules.
public enum ProtoSchemaMapping {
    /// The Flow schema the decoder produces for `message`.
    public static func schema(for message: ProtoMessage, in file: ProtoFile) -> Schema {
        plan(message, file).schema
    }

    static func plan(_ message: ProtoMessage, _ file: ProtoFile) -> (schema: Schema, plans: [ProtoColumnPlan], required: [Int]) {
        var fields: [Field] = []
        var plans: [ProtoColumnPlan] = []
        var required: [Int] = []
        var oneofsPlaced = Set<Int>()
        for (i, f) in message.fields.enumerated() {
            if f.label == .required { required.append(i) }
            if let oneof = f.oneof {
                guard oneofsPlaced.insert(oneof).inserted else { continue }
                fields.append(Field(message.oneofs[oneof], .json, nullable: true))
                plans.append(.oneof(oneof))
                continue
            }
            if f.isRepeated {
                fields.append(Field(f.name, .json, nullable: false))
                plans.append(.json(field: i))
                continue
            }
            let presence = f.label == .optional
            switch f.type {
            case .scalar(let s):
                fields.append(Field(f.name, ProtoScalarValues.logicalType(s), nullable: presence))
                plans.append(.scalar(field: i, s, nullable: presence))
            case .enumeration(let e):
                fields.append(Field(f.name, .string, nullable: presence))
                plans.append(.enumeration(field: i, enumIndex: e, nullable: presence))
            case .timestamp:
                fields.append(Field(f.name, .timestamp(withTimeZone: true), nullable: f.label != .required))
                plans.append(.timestamp(field: i))
            case .message:
                fields.append(Field(f.name, .json, nullable: f.label != .required))
                plans.append(.json(field: i))
            }
        }
        return (Schema(fields), plans, required)
    }
}
