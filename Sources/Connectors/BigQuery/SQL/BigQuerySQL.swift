import Flow

/// A BigQuery table: `project.dataset.table`, always quoted with backticks when rendered.
public struct BigQueryTable: Sendable, Hashable, CustomStringConvertible {
    public var project: String
    public var dataset: String
    public var name: String

    public init(project: String, dataset: String, name: String) {
        self.project = project
        self.dataset = dataset
        self.name = name
    }

    /// `` `project`.`dataset`.`name` ``.
    public var sql: String { "\(BigQuerySQL.quote(project)).\(BigQuerySQL.quote(dataset)).\(BigQuerySQL.quote(name))" }
    /// `dataset.name` (what errors and logs show).
    public var description: String { "\(dataset).\(name)" }

    /// A table beside this one in the same dataset.
    public func sibling(_ name: String) -> BigQueryTable { BigQueryTable(project: project, dataset: dataset, name: name) }
}

/// GoogleSQL spelling: identifiers, literals.
public enum BigQuerySQL {
    /// A backtick-quoted identifier (backticks and backslashes escaped).
    public static func quote(_ name: String) -> String {
        "`" + name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "`", with: "\\`") + "`"
    }

    /// A string literal: single quotes, with quotes, backslashes and control characters escaped.
    public static func literal(_ text: String) -> String {
        var out = "'"
        for scalar in text.unicodeScalars {
            switch scalar {
            case "'": out += "\\'"
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += "\\x" + String(scalar.value, radix: 16).leftPadded(to: 2)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "'"
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
