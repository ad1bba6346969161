extension ManifestDecoder {
    /// The keys each transform type accepts besides `type`.
    static func transformKeys(_ kind: TransformKind) -> [String] {
        switch kind {
        case .rename, .select: ["type", "columns"]
        case .cast: ["type", "columns", "allow_lossy"]
        case .filter: ["type", "predicate"]
        }
    }

    func transforms(_ ref: NodeRef) -> [TransformConfig]? {
        guard let items = ctx.list(ref) else { return nil }
        let before = ctx.errors.count
        let steps = items.compactMap(transform)
        return ctx.errors.count == before ? steps : nil
    }

    private func transform(_ ref: NodeRef) -> TransformConfig? {
        guard let map = ctx.mapping(ref) else { return nil }
        guard let kind: TransformKind = map.required("type", ctx).flatMap({ ctx.choice($0, "transform type") }) else {
            return nil
        }
        map.rejectUnknownKeys(Self.transformKeys(kind), ctx)
        switch kind {
        case .rename:
            guard let columns = map.required("columns", ctx).flatMap({ ctx.mapping($0) }) else { return nil }
            let pairs = columns.entries.compactMap { e in ctx.string(e.value).map { ColumnRename(from: e.key, to: $0) } }
            return pairs.count == columns.entries.count ? .rename(pairs) : nil
        case .select:
            return map.required("columns", ctx).flatMap { ctx.stringList($0) }.map { .select($0) }
        case .cast:
            let allowLossy = map["allow_lossy"].map { ctx.bool($0) } ?? false
            guard let columns = map.required("columns", ctx).flatMap({ ctx.mapping($0) }) else { return nil }
            let casts = columns.entries.compactMap { e in logicalType(e.value).map { ColumnCast(column: e.key, type: $0) } }
            guard casts.count == columns.entries.count, let allowLossy else { return nil }
            return .cast(casts, allowLossy: allowLossy)
        case .filter:
            return map.required("predicate", ctx).flatMap { ctx.string($0) }.map { .filter(predicate: $0) }
        }
    }
}
