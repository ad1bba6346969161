import ConnectorKit

/// Everything a Postgres finalizer needs to publish one checkpoint (`StagedLoadPlan` over
/// Postgres table names).
public typealias LoadPlan = StagedLoadPlan<TableName>
