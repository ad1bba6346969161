import DponeTestSupport
import Flow
import PostgresConnector
import Testing

/// A key staged twice in one checkpoint: refused by default (target untouched), or, with
/// `keepLastDuplicate` (`duplicate_policy: last`, the default for Kafka sources), the last staged
/// row wins, under both merge policies.
@Suite(.tags(.integrationPostgres), IntegrationGate.integration.trait)
struct SinkDuplicatePolicyTests {
    static let schema = Schema([Field("id", .int64, nullable: false), Field("name", .string)])

    static func batch(_ rows: [(Int64, String)]) -> Batch {
        var b = BatchBuilder(schema: schema)
        for (id, name) in rows { b.append(row: [.int(id), .string(name)]) }
        return b.finish()
    }

    func publish(_ sink: PostgresSink, _ id: UInt64, _ rows: [(Int64, String)]) async throws -> SinkCommit {
        try await sink.write(Self.batch(rows))
        return try await sink.finalize(
            CheckpointContext(id: CheckpointID(id), pipeline: "dup", positions: .object(["n": .int(Int64(id))]), loadID: "l\(id)", runID: "r"))
    }

    @Test(arguments: [MergePolicy.deleteInsert, .upsert])
    func theLastStagedRowOfAKeyWinsOrTheCheckpointFails(_ policy: MergePolicy) async throws {
        try await withTestSchema("dup") { conn, schema in
            let target = TableName(schema: schema, name: "dst")
            var options = PostgresSinkOptions(url: PostgresTestServer.url, target: target, mode: .incrementalMerge(policy), uniqueKey: ["id"])
            if policy == .upsert { try await conn.execute("CREATE TABLE \(target.sql) (id bigint PRIMARY KEY, name text)") }
            let strict = PostgresSink(name: "t", options: options)
            try await strict.open(schema: Self.schema)
            _ = try await publish(strict, 1, [(1, "a"), (2, "b")])
            await #expect(throws: DponeError.self) { try await publish(strict, 2, [(1, "x"), (1, "y")]) }
            await strict.abort()
            #expect(try await conn.query("SELECT id::text, name FROM \(target.sql) ORDER BY id") == [["1", "a"], ["2", "b"]])
            options.keepLastDuplicate = true
            let lenient = PostgresSink(name: "t", options: options)
            try await lenient.open(schema: Self.schema)
            let commit = try await publish(lenient, 2, [(1, "x"), (3, "c"), (1, "y"), (2, "b2"), (1, "z")])
            #expect(commit.inserted == 1 && commit.updated == 2, "\(commit)")
            #expect(try await conn.query("SELECT id::text, name FROM \(target.sql) ORDER BY id") == [["1", "z"], ["2", "b2"], ["3", "c"]])
            await lenient.close()
        }
    }
}
