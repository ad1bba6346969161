import Yams

/// What a scalar's text means, in the spirit of YAML's core schema.
enum ScalarKind: Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string

    /// Classifies `text`; quoted and block scalars are always strings. `allowNull` is false for text
    /// produced by `${VAR}` substitution (an empty value is an empty string, not null).
    static func classify(_ text: String, plain: Bool, allowNull: Bool = true) -> ScalarKind {
        guard plain else { return .string }
        switch text {
        case "", "~", "null", "Null", "NULL": return allowNull ? .null : .string
        case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": return .bool(true)
        case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": return .bool(false)
        default: break
        }
        if let i = Int(text) { return .int(i) }
        if text.contains(where: \.isNumber), let d = Double(text) { return .float(d) }
        return .string
    }

    /// How an error message names a value of this kind: `an integer '5'`, `a string 'maybe'`, `null`.
    func found(_ text: String) -> String {
        let shown = text.count > 40 ? String(text.prefix(37)) + "..." : text
        switch self {
        case .null: return "null"
        case .bool: return "a boolean '\(shown)'"
        case .int: return "an integer '\(shown)'"
        case .float: return "a number '\(shown)'"
        case .string: return "a string '\(shown)'"
        }
    }
}

extension Node.Scalar {
    var isPlain: Bool { style == .plain || style == .any }
}
