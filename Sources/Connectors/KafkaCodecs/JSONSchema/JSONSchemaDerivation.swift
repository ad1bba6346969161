import Flow

/// Derives the draft-07 JSON Schema a sink registers for a Flow schema, describing objects as
/// dpone's JSON writer emits them: every column present (NULL as `null`), integers and decimals
/// as numbers, temporal values, uuids and hex bytes as strings, json columns as any value.
public enum JSONSchemaDerivation {
    /// The schema of one column's values (without nullability).
    static func typeSchema(_ t: LogicalType) -> (type: String?, extra: String) {
        switch t {
        case .bool: ("boolean", "")
        case .int16, .int32, .int64: ("integer", "")
        case .float32, .float64, .decimal: ("number", "")
        case .string: ("string", "")
        case .bytes: ("string", #","contentEncoding":"base16""#)
        case .date: ("string", #","format":"date""#)
        case .time: ("string", #","format":"time""#)
        case .timestamp(true): ("string", #","format":"date-time""#)
        case .timestamp(false): ("string", "")
        case .uuid: ("string", #","format":"uuid""#)
        case .json: (nil, "")
        case .list: ("array", "")
        case .numeric: (nil, #","description":"an exact decimal: a number, or the string NaN, Infinity or -Infinity""#)
        }
    }

    /// `{"$schema": draft-07, "type": "object", "properties": {…}, "required": [every column],
    /// "additionalProperties": false}`; a nullable column's type is `["T","null"]`.
    public static func schemaText(for schema: Schema, title: String? = nil) -> String {
        var out: [UInt8] = []
        out.append(contentsOf: #"{"$schema":"http://json-schema.org/draft-07/schema#""#.utf8)
        if let title {
            out.append(contentsOf: #","title":"#.utf8)
            JSONText.appendString(title, to: &out)
        }
        out.append(contentsOf: #","type":"object","properties":{"#.utf8)
        for (i, f) in schema.fields.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONText.appendString(f.name, to: &out)
            out.append(contentsOf: ":{".utf8)
            let (type, extra) = typeSchema(f.type)
            if let type {
                out.append(contentsOf: (f.nullable ? #""type":["\#(type)","null"]"# : #""type":"\#(type)""#).utf8)
                out.append(contentsOf: extra.utf8)
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(contentsOf: #"},"required":["#.utf8)
        for (i, f) in schema.fields.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONText.appendString(f.name, to: &out)
        }
        out.append(contentsOf: #"],"additionalProperties":false}"#.utf8)
        return String(decoding: out, as: UTF8.self)
    }
}
