import ConnectorKit
import DponeTestSupport
import Flow
import Foundation
import Synchronization
import Testing

@testable import BigQueryConnector

/// The resumable upload's edge cases the emulator never produces, against a loopback stub of the
/// upload and jobs endpoints: BigQuery keeping only part of a chunk (a 308 whose `Range` stops short)
/// must make the sink send the rest again from there, and the upload must arrive whole, in order,
/// in several chunks of the configured size.
@Suite("BigQuery resumable upload protocol")
struct BigQueryUploadProtocolTests {
    /// A stub of BigQuery's REST API: queries answer with empty results (the publish script with
    /// its counts), uploads keep at most `keepPerChunk` bytes of each chunk.
    final class Stub: Sendable {
        let uploaded = Mutex<[UInt8]>([])
        let chunks = Mutex<[String]>([])
        let keepPerChunk: Int
        init(keepPerChunk: Int) { self.keepPerChunk = keepPerChunk }

        func handle(_ request: RESTTestRequest, base: String) -> RESTTestResponse {
            func json(_ text: String, status: Int = 200) -> RESTTestResponse { RESTTestResponse(status: status, body: Array(text.utf8)) }
            if request.path.hasSuffix("/tables/items") { return json("{}", status: 404) }
            if request.method == "GET", request.path.contains("/datasets/") { return json("{}") }
            if request.path.hasSuffix("/queries") {
                let rows = uploaded.withLock { $0.split(separator: UInt8(ascii: "\n")).count }
                if request.bodyText.contains("SELECT dpone_inserted") {
                    return json(#"{"jobComplete":true,"rows":[{"f":[{"v":"\#(rows)"},{"v":"0"},{"v":"0"},{"v":"\#(rows)"},{"v":"\#(rows)"}]}]}"#)
                }
                return json(#"{"jobComplete":true,"rows":[]}"#)
            }
            if request.path.hasPrefix("/upload/") {
                return RESTTestResponse(status: 200, headers: [("Location", base + "/session")])
            }
            if request.path == "/session" {
                // Content-Range: bytes a-b/total or bytes a-b/*
                let range = request.headers["content-range"] ?? ""
                let parts = range.dropFirst("bytes ".count).split(separator: "/")
                let bounds = parts[0].split(separator: "-").compactMap { Int($0) }
                let total = parts.count > 1 ? Int(parts[1]) : nil
                chunks.withLock { $0.append(range) }
                let held = uploaded.withLock { up -> Int? in
                    // A chunk must start where the kept bytes end.
                    guard bounds.first == up.count else { return nil }
                    let keep = total != nil && request.body.count <= keepPerChunk ? request.body.count : min(request.body.count, keepPerChunk)
                    up.append(contentsOf: request.body.prefix(keep))
                    return up.count
                }
                guard let held else { return json(#"{"error":{"message":"chunk \#(range) does not start at the bytes kept"}}"#, status: 400) }
                if let total, held == total {
                    return json(#"{"jobReference":{"jobId":"job-1","location":"EU"},"status":{"state":"DONE"}}"#)
                }
                return RESTTestResponse(status: 308, headers: held > 0 ? [("Range", "bytes=0-\(held - 1)")] : [])
            }
            if request.path.hasSuffix("/jobs/job-1") {
                let rows = uploaded.withLock { $0.split(separator: UInt8(ascii: "\n")).count }
                return json(#"{"status":{"state":"DONE"},"statistics":{"load":{"outputRows":"\#(rows)"}}}"#)
            }
            return json(#"{"error":{"message":"unexpected \#(request.method) \#(request.path)"}}"#, status: 400)
        }
    }

    @Test func aShortRangeMakesTheRestGoAgainAndTheUploadArrivesWhole() async throws {
        let stub = Stub(keepPerChunk: 200_000)  // of each 256 KiB chunk, BigQuery keeps 200,000 bytes
        let base = Mutex("")
        let server = try RESTTestServer { request in stub.handle(request, base: base.withLock { $0 }) }
        base.withLock { $0 = server.url }
        defer { server.stop() }
        var options = BigQuerySinkOptions(
            project: "p", location: nil, target: BigQueryTable(project: "p", dataset: "d", name: "items"), mode: .fullRefresh(.truncateInsert),
            loadID: "L", credentials: .none, emulatorHost: server.url)
        options.chunkBytes = 256 << 10
        let sink = BigQuerySink(options: options)
        let schema = Schema([Field("id", .int64, nullable: false), Field("note", .string)])
        try await sink.open(schema: schema)
        let rows = 20_000
        for start in stride(from: 0, to: rows, by: 5_000) {
            var builder = BatchBuilder(schema: schema)
            for id in start..<(start + 5_000) { _ = builder.append(row: [.int(Int64(id)), .string("row \(id) " + String(repeating: "x", count: 40))]) }
            try await sink.write(builder.finish())
        }
        let commit = try await sink.finalize(CheckpointContext(id: CheckpointID(1), pipeline: "p", positions: .null, loadID: "L", runID: "R", isComplete: true))
        #expect(commit.inserted == rows)
        let lines = stub.uploaded.withLock { $0 }.split(separator: UInt8(ascii: "\n"))
        #expect(lines.count == rows, "every row arrived once")
        let ids = lines.compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])?["id"] as? Int
        }
        #expect(ids == Array(0..<rows), "in order, none torn")
        let ranges = stub.chunks.withLock { $0 }
        #expect(ranges.count >= 6, "several chunks: \(ranges)")
        #expect(ranges.contains { $0.hasPrefix("bytes 200000-") }, "the second chunk starts where BigQuery's Range ended: \(ranges.prefix(3))")
        #expect(ranges.last?.hasSuffix("/\(stub.uploaded.withLock { $0.count })") == true, "the last chunk gives the total")
        await sink.close()
    }
}
