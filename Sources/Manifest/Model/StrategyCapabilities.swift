/// The one table of which load modes each sink type supports.
public enum StrategyCapabilities {
    /// Supported modes per sink type, in `LoadMode.allCases` order. REST is not a sink: no modes.
    public static func supportedModes(for sink: EndpointType) -> [LoadMode] {
        switch sink {
        case .files: [.fullRefresh, .incrementalAppend]
        case .postgres, .clickhouse, .mssql: LoadMode.allCases
        case .kafka: LoadMode.allCases.filter { $0 != .partitionReplace && $0 != .scd2 }
        case .rest: []
        }
    }

    public static func supports(_ sink: EndpointType, _ mode: LoadMode) -> Bool {
        supportedModes(for: sink).contains(mode)
    }
}
