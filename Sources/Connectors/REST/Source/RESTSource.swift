import ConnectorKit
import Flow
import Formats
import Foundation
import Logging
import Manifest
import Synchronization

/// What a REST source reads, resolved from the manifest.
public struct RESTSourceOptions: Sendable {
    /// The API's base URL (the connection's URL).
    public var baseURL: String
    public var rest: RESTOptions
    /// The record columns, declared; nil: inferred from the first `rest.inferRecords` records.
    public var schema: Schema?
    public var batchRows = 65_536
    public var batchBytes = 8 << 20
    /// Secrets from outside the options (the connection URL's password), masked like the others.
    public var secrets: [String] = []

    public init(baseURL: String, rest: RESTOptions, schema: Schema? = nil) {
        self.baseURL = baseURL
        self.rest = rest
        self.schema = schema
    }
}

/// A REST API read page by page: every paginator, auth and retry style in `RESTOptions`, records
/// decoded from each page straight into column builders (no per-record dictionaries), and an
/// incremental cursor that advances only when the checkpoint carrying it is durable.
///
/// - One checkpoint at the end of the read. Positions: `{"cursor": {"column", "value"}}` when
///   incremental (a partial read), else `{}`. The checkpoint is complete (a sink may treat a missing
///   key as deleted) only when every page was read: not incremental, not cut by `max_pages`, and no
///   page of the resource (or of the parent) ignored by `on_status`.
/// - Pages are held whole while they are decoded (bounded by `max_page_bytes`); batches are cut at
///   `batch_rows` rows or 8 MiB.
/// - With `parent`, the child path is called once per parent record, up to `max_concurrency` at a
///   time; the parent fields named in `fields` fill the child path's placeholders and (with
///   `include`) become string columns `<include_prefix><name>` after the record's columns.
public final class RESTSource: SourceOperator {
    public let name: String
    public let options: RESTSourceOptions
    let clock: any RESTClock
    let random: @Sendable () -> Double
    let masker: RESTMasker
    let limiter: RESTRateLimiter
    let tokens: RESTTokenCache
    private let schemaCache = Mutex<Schema?>(nil)
    private let counters = Mutex<(requests: Int, retries: [RESTRetryEvent], pages: Int)>((0, [], 0))
    private static let log = Logger(label: "dpone.rest")

    public init(
        name: String, options: RESTSourceOptions, clock: any RESTClock = SystemRESTClock(),
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.name = name
        self.options = options
        self.clock = clock
        self.random = random
        self.masker = RESTMasker(options.rest.secrets + options.secrets)
        let rest = options.rest
        self.limiter = RESTRateLimiter(requests: rest.rateLimit?.requests, per: rest.rateLimit?.per ?? 1, clock: clock)
        self.tokens = RESTTokenCache(clock: clock)
    }

    /// Requests sent, retries taken (with their waits) and pages read, over every run so far.
    var statistics: (requests: Int, retries: [RESTRetryEvent], pages: Int) { counters.withLock { $0 } }
    /// OAuth2 tokens fetched.
    var tokenFetches: Int { get async { await tokens.fetches } }
    /// Waits the proactive rate limit imposed.
    var rateLimitWaits: [Double] { get async { await limiter.waits } }

    private var parentColumns: [Field] {
        guard let parent = options.rest.parent, parent.include else { return [] }
        return parent.fields.map { Field(parent.includePrefix + $0.name, .string) }
    }

    public func outputSchema() async throws -> Schema {
        if let cached = schemaCache.withLock({ $0 }) { return cached }
        let records: Schema
        if let declared = options.schema { records = declared } else { records = try await inferSchema() }
        let schema = Schema(records.fields + parentColumns)
        try schema.requireUsableNames(name)
        if let cursor = options.rest.incremental?.cursorPath, schema.index(of: cursor) == nil {
            throw DponeError(
                .manifest, "incremental.cursor_path '\(cursor)' is not a column of \(name)",
                hint: "columns: \(schema.names.joined(separator: ", "))"
                    + (options.rest.flatten == nil && cursor.contains(".") ? "; nested fields need flatten: true (name a__b)" : ""))
        }
        schemaCache.withLock { $0 = schema }
        return schema
    }

    public func acknowledge(_ checkpoint: CheckpointID) async throws {}

    public func run(into output: any SourceOutput, resumeFrom: StateValue?) async throws {
        let schema = try await outputSchema()
        let rest = options.rest
        var cursor = try rest.incremental.map {
            try IncrementalCursor(column: $0.cursorPath, schema: schema, resumeFrom: resumeFrom, sourceName: name)
        }
        let params = try incrementalParams(cursor)
        let recordSchema = Schema(Array(schema.fields.prefix(schema.count - parentColumns.count)))
        var emitter = Emitter(
            schema: schema, recordSchema: recordSchema, flatten: rest.flatten, batchRows: options.batchRows,
            batchBytes: options.batchBytes)
        let send: (Batch) async throws -> Void = { batch in
            var batch = batch
            if let lookback = rest.incremental?.lookback, !lookback.isEmpty {
                cursor?.observe(batch)
            } else if cursor != nil {
                batch = cursor!.filter(batch)
            }
            if batch.rowCount > 0 { try await output.send(batch) }
        }
        let client = makeClient("rest")
        defer { Task { await client.close() } }
        var partial = rest.incremental != nil
        if let parent = rest.parent {
            partial = try await readChildren(parent, params: params, client: client, emitter: &emitter, send: send) || partial
        } else {
            var pager = RESTPager(
                resource: rest.resource, baseURL: options.baseURL, maxPages: rest.maxPages, extraParams: params, masker: masker)
            var request: RESTRequest? = try pager.first()
            while let current = request {
                try Task.checkCancellation()
                guard let response = try await client.fetch(current) else {
                    partial = true  // a page ignored by on_status: the read is not a complete copy
                    break
                }
                let count = try emitter.decode(response.body, url: masker.mask(current.url), page: pager.pages + 1, records: rest.resource.records, parentValues: [])
                for batch in emitter.takeFull() { try await send(batch) }
                request = try pager.next(after: current, response: response, records: count)
                if pager.pages % 100 == 0 {
                    Self.log.info("\(name): \(pager.pages) pages, \(emitter.records) records")
                }
            }
            record(pages: pager.pages)
            partial = partial || pager.truncated
        }
        for batch in emitter.flush() { try await send(batch) }
        record(client)
        let positions = cursor?.positions ?? .object([:])
        try await output.checkpoint(positions: positions, complete: !partial)
    }

    // MARK: - Parent and child resources

    /// Reads every child of every parent record; returns whether the read was partial (a parent page
    /// ignored by `on_status`, or a child resource cut by `max_pages`).
    private func readChildren(
        _ parent: RESTParent, params: [RESTPair], client: RESTClient, emitter: inout Emitter,
        send: (Batch) async throws -> Void
    ) async throws -> Bool {
        var partial = false
        let rest = options.rest
        var parentPager = RESTPager(resource: parent.resource, baseURL: options.baseURL, maxPages: nil, extraParams: [], masker: masker)
        var request: RESTRequest? = try parentPager.first()
        let workers = (0..<rest.maxConcurrency).map { makeClient("rest-child-\($0)") }
        defer { for w in workers { Task { await w.close() } } }
        while let current = request {
            guard let response = try await client.fetch(current) else {
                partial = true
                break
            }
            let keys = try parentKeys(response.body, parent: parent, url: masker.mask(current.url))
            // Children of this parent page, max_concurrency at a time; decoded here, in order of completion.
            partial = try await withThrowingTaskGroup(of: (worker: Int, values: [String], pages: [(String, [UInt8])], truncated: Bool).self) { group in
                var truncated = false
                var next = 0
                func start(_ k: Int, on w: Int) {
                    let values = keys[k]
                    let worker = workers[w]
                    let resource = childResource(parent, values)
                    let maxPages = rest.maxPages
                    let masker = self.masker
                    let baseURL = options.baseURL
                    group.addTask {
                        var pager = RESTPager(resource: resource, baseURL: baseURL, maxPages: maxPages, extraParams: params, masker: masker)
                        var pages: [(String, [UInt8])] = []
                        var request: RESTRequest? = try pager.first()
                        while let current = request {
                            guard let response = try await worker.fetch(current) else { break }
                            let count = try response.body.withUnsafeBytes { raw in
                                try RESTSource.recordCount(raw, records: resource.records)
                            }
                            pages.append((masker.mask(current.url), response.body))
                            request = try pager.next(after: current, response: response, records: count)
                        }
                        return (w, values, pages, pager.truncated)
                    }
                }
                while next < min(keys.count, workers.count) {
                    start(next, on: next)
                    next += 1
                }
                while let result = try await group.next() {
                    for (page, (url, body)) in result.pages.enumerated() {
                        _ = try emitter.decode(
                            body, url: url, page: page + 1, records: rest.resource.records,
                            parentValues: parent.include ? result.values : [])
                        for batch in emitter.takeFull() { try await send(batch) }
                    }
                    record(pages: result.pages.count)
                    truncated = truncated || result.truncated
                    if next < keys.count {
                        start(next, on: result.worker)  // the worker that finished is free
                        next += 1
                    }
                }
                return truncated
            } || partial
            request = try parentPager.next(after: current, response: response, records: keys.count)
        }
        for w in workers { record(w) }
        return partial || parentPager.truncated
    }

    /// The parent field values of each record of a parent page, in `parent.fields` order.
    private func parentKeys(_ body: [UInt8], parent: RESTParent, url: String) throws -> [[String]] {
        let paths = try parent.fields.map { field -> JSONPath in
            guard let p = JSONPath(field.value) else { throw DponeError(.manifest, "invalid parent field path '\(field.value)'") }
            return p
        }
        return try body.withUnsafeBytes { raw in
            var keys: [[String]] = []
            try Self.forEachRecord(raw, records: parent.resource.records, url: url, page: 1) { start in
                var values: [String] = []
                for (i, path) in paths.enumerated() {
                    // A path into the record: locate inside the record's own text.
                    let record = UnsafeRawBufferPointer(rebasing: raw[start..<raw.count])
                    guard let value = try path.locate(in: record), let text = try value.text(in: record) else {
                        throw DponeError(
                            .source, "a parent record of \(url) has no value at '\(parent.fields[i].value)' for {\(parent.fields[i].name)}")
                    }
                    values.append(text)
                }
                keys.append(values)
            }
            return keys
        }
    }

    private func childResource(_ parent: RESTParent, _ values: [String]) -> RESTResource {
        var resource = options.rest.resource
        for (field, value) in zip(parent.fields, values) {
            resource.path = resource.path.replacingOccurrences(of: "{\(field.name)}", with: RESTURL.encode(value))
        }
        return resource
    }

    // MARK: - Schema inference

    private func inferSchema() async throws -> Schema {
        let rest = options.rest
        var sampler = JSONRecordSampler(flatten: rest.flatten)
        let client = makeClient("rest-infer")
        defer { Task { await client.close() } }
        let params = try incrementalParams(nil)
        var resources: [RESTResource] = []
        if let parent = rest.parent {
            let parentPager = RESTPager(resource: parent.resource, baseURL: options.baseURL, maxPages: 1, extraParams: [], masker: masker)
            let first = try parentPager.first()
            if let response = try await client.fetch(first) {
                for values in try parentKeys(response.body, parent: parent, url: masker.mask(first.url)).prefix(20) {
                    resources.append(childResource(parent, values))
                }
            }
        } else {
            resources = [rest.resource]
        }
        sampling: for resource in resources {
            var pager = RESTPager(resource: resource, baseURL: options.baseURL, maxPages: rest.maxPages, extraParams: params, masker: masker)
            var request: RESTRequest? = try pager.first()
            while let current = request, sampler.records < rest.inferRecords {
                guard let response = try await client.fetch(current) else { break }
                let url = masker.mask(current.url)
                var count = 0
                try response.body.withUnsafeBytes { raw in
                    try Self.forEachRecord(raw, records: resource.records, url: url, page: pager.pages + 1) { start in
                        count += 1
                        if sampler.records < rest.inferRecords {
                            do {
                                try sampler.observe(objectAt: start, in: raw)
                            } catch let error as DponeError {
                                throw DponeError(.source, "page \(pager.pages + 1) of \(url): \(error.message)", context: ["url": url])
                            }
                        }
                    }
                }
                request = try pager.next(after: current, response: response, records: count)
            }
            if sampler.records >= rest.inferRecords { break sampling }
        }
        let schema = sampler.schema()
        guard !schema.fields.isEmpty else {
            throw DponeError(
                .source, "\(name) returned no records to infer its schema from",
                hint: "declare the columns: source.options.schema: [{name: id, type: int64}, ...]")
        }
        Self.log.info("\(name): schema inferred from \(sampler.records) records: \(schema.fields.map { "\($0.name) \($0.type)" }.joined(separator: ", "))")
        return schema
    }

    // MARK: - Helpers

    private func makeClient(_ thread: String) -> RESTClient {
        RESTClient(
            options: options.rest, masker: masker, clock: clock, random: random, limiter: limiter, tokens: tokens,
            name: "dpone-\(thread)")
    }

    private func record(_ client: RESTClient) {
        counters.withLock {
            $0.requests += client.requests
            $0.retries += client.retryEvents
        }
    }

    private func record(pages: Int) { counters.withLock { $0.pages += pages } }

    /// The incremental parameters of this read: the stored cursor (less the lookback) or `initial`,
    /// and the window's end.
    private func incrementalParams(_ cursor: IncrementalCursor?) throws -> [RESTPair] {
        guard let inc = options.rest.incremental else { return [] }
        var params: [RESTPair] = []
        if let bound = cursor?.lowerBound, let text = try Self.cursorText(bound, type: cursor!.type, lookback: inc.lookback) {
            params.append(RESTPair(inc.param, text))
        } else if let initial = inc.initial {
            params.append(RESTPair(inc.param, initial))
        }
        if let end = inc.end, let endParam = inc.endParam { params.append(RESTPair(endParam, end)) }
        return params
    }

    /// A cursor value as an API expects it in a parameter: timestamps in RFC 3339 (`Z` for UTC),
    /// numbers and strings as they are; less `lookback` (a duration, or a number for a numeric cursor).
    static func cursorText(_ value: Value, type: LogicalType, lookback: String?) throws -> String? {
        var value = value
        if let lookback, !lookback.isEmpty {
            switch value {
            case .timestamp(let micros, let tz):
                guard let seconds = ManifestDuration.seconds(lookback) else {
                    throw DponeError(.manifest, "incremental.lookback '\(lookback)' is not a duration (10m, 1h) for a timestamp cursor")
                }
                value = .timestamp(micros - Int64(seconds * 1_000_000), withTimeZone: tz)
            case .int(let x):
                guard let n = Int64(lookback) else {
                    throw DponeError(.manifest, "incremental.lookback '\(lookback)' is not a number for a numeric cursor")
                }
                value = .int(x - n)
            default:
                throw DponeError(.manifest, "incremental.lookback needs a timestamp or integer cursor, the cursor is \(type)")
            }
        }
        if case .timestamp(let micros, _) = value {
            let seconds = Double(micros) / 1_000_000
            let date = Date(timeIntervalSince1970: seconds.rounded(.down))
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
            let fraction = ((micros % 1_000_000) + 1_000_000) % 1_000_000
            var text = String(format: "%04d-%02d-%02dT%02d:%02d:%02d", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
            if fraction != 0 { text += String(format: ".%06lld", fraction) }
            return text + "Z"
        }
        return ColumnText.text(of: value, as: type)
    }

    /// Calls `body` with the start offset of each record (object) of a page.
    static func forEachRecord(
        _ raw: UnsafeRawBufferPointer, records: String?, url: String, page: Int, _ body: (Int) throws -> Void
    ) throws {
        let located: JSONValueRef?
        do {
            if let records {
                located = try JSONPath(records)!.locate(in: raw)
                if located == nil, raw.contains(where: { $0 > 0x20 }) {
                    throw DponeError(
                        .source, "page \(page) of \(url) has no records at '\(records)'",
                        hint: "check source.options.records (the path of the records array in a page)", context: ["url": url])
                }
            } else {
                located = try JSONPath.firstArray(in: raw)
            }
        } catch let error as DponeError where error.context["byte"] != nil {
            throw DponeError(
                .source, "page \(page) of \(url) is not valid JSON: \(error.message.replacingOccurrences(of: "invalid JSON: ", with: ""))",
                context: ["url": url, "byte": error.context["byte"]!])
        }
        guard let located else { return }
        switch located.kind {
        case .null: return
        case .object: try body(located.range.lowerBound)
        case .array:
            do {
                try located.forEachElement(in: raw) { element in
                    guard element.kind == .object else {
                        throw DponeError(
                            .source, "page \(page) of \(url): a record at byte \(element.range.lowerBound + 1) is not a JSON object",
                            context: ["url": url, "byte": String(element.range.lowerBound + 1)])
                    }
                    try body(element.range.lowerBound)
                }
            } catch let error as DponeError where error.context["byte"] != nil && error.context["url"] == nil {
                throw DponeError(
                    .source, "page \(page) of \(url) is not valid JSON: \(error.message.replacingOccurrences(of: "invalid JSON: ", with: ""))",
                    context: ["url": url, "byte": error.context["byte"]!])
            }
        default:
            throw DponeError(.source, "page \(page) of \(url): the records at '\(records ?? "$")' are not an array or an object", context: ["url": url])
        }
    }

    static func recordCount(_ raw: UnsafeRawBufferPointer, records: String?) throws -> Int {
        var n = 0
        try forEachRecord(raw, records: records, url: "", page: 0) { _ in n += 1 }
        return n
    }
}

/// Decodes pages into batches of the output schema.
struct Emitter {
    let schema: Schema
    let recordSchema: Schema
    let batchRows: Int
    let batchBytes: Int
    private var reader: JSONObjectReader
    private var builder: BatchBuilder
    private var parentBuilder: BatchBuilder
    private var full: [Batch] = []
    private(set) var records = 0

    init(schema: Schema, recordSchema: Schema, flatten: JSONFlatten?, batchRows: Int, batchBytes: Int) {
        self.schema = schema
        self.recordSchema = recordSchema
        self.batchRows = batchRows
        self.batchBytes = batchBytes
        reader = JSONObjectReader(schema: recordSchema, sourceName: "the page", flatten: flatten)
        builder = BatchBuilder(schema: recordSchema)
        parentBuilder = BatchBuilder(schema: Schema(Array(schema.fields.suffix(schema.count - recordSchema.count))))
    }

    /// Decodes one page's records; returns how many it had. A failure names the page and the byte.
    mutating func decode(_ body: [UInt8], url: String, page: Int, records path: String?, parentValues: [String]) throws -> Int {
        var count = 0
        try body.withUnsafeBytes { raw in
            try RESTSource.forEachRecord(raw, records: path, url: url, page: page) { start in
                count += 1
                do {
                    _ = try reader.read(objectAt: start, in: raw, record: count, into: &builder)
                } catch let error as DponeError {
                    throw DponeError(
                        .source, "page \(page) of \(url): \(error.message.replacingOccurrences(of: " of the page", with: ""))",
                        hint: "the run stops before anything is published", context: error.context.merging(["url": url]) { a, _ in a })
                }
                for (i, value) in parentValues.enumerated() {
                    var text = value
                    text.withUTF8 { _ = ColumnText.append(UnsafeRawBufferPointer($0), to: &parentBuilder.columns[i]) }
                }
                if builder.rowCount >= batchRows || builder.byteCount >= batchBytes { cut() }
            }
        }
        records += count
        return count
    }

    private mutating func cut() {
        let rows = builder.finish()
        let parents = parentBuilder.finish()
        full.append(Batch(schema: schema, columns: rows.columns + parents.columns))
    }

    mutating func takeFull() -> [Batch] {
        defer { full = [] }
        return full
    }

    /// What is left: the last, partial batch.
    mutating func flush() -> [Batch] {
        if builder.rowCount > 0 { cut() }
        return takeFull()
    }
}
