import DponeTestSupport
import Flow
import Formats
import Foundation
import Testing

@testable import RESTConnector

/// Every paginator and stop rule against the fixture API over real HTTP on loopback.
@Suite("REST pagination") struct RESTPaginationTests {
    let declared = Schema([Field("id", .int64), Field("name", .string), Field("updated_at", .timestamp(withTimeZone: true))])

    @Test("page_number walks pages until total_pages, records at data")
    func pageNumber() async throws {
        let api = RESTFixtureAPI(records: 95)
        let server = try fixtureServer(api)
        defer { server.stop() }
        let s = source(server, path: "/page", schema: declared) {
            $0.resource.records = "data"
            $0.resource.paginator = .pageNumber(param: "page", start: 1, totalPagesPath: "total_pages")
        }
        let out = try await read(s)
        #expect(out.ints("id") == (1...95).map(Int64.init))
        #expect(server.requests.count == 10)
        #expect(out.checkpoints.count == 1 && out.checkpoints[0].complete)
    }

    @Test("page_number without a total stops at the first empty page")
    func pageNumberEmptyStop() async throws {
        let server = try fixtureServer(RESTFixtureAPI(records: 30))
        defer { server.stop() }
        let s = source(server, path: "/page", schema: declared) {
            $0.resource.records = "data"
            $0.resource.paginator = .pageNumber(param: "page", start: 1, totalPagesPath: nil)
        }
        let out = try await read(s)
        #expect(out.rowCount == 30)
        #expect(server.requests.map { $0.query["page"] } == ["1", "2", "3", "4"])
    }

    @Test("offset pages by limit and stops at total")
    func offset() async throws {
        let server = try fixtureServer(RESTFixtureAPI(records: 40))
        defer { server.stop() }
        let s = source(server, path: "/offset", schema: declared) {
            $0.resource.records = "results"
            $0.resource.paginator = .offset(offsetParam: "offset", limitParam: "limit", limit: 10, totalPath: "total")
        }
        let out = try await read(s)
        #expect(out.ints("id") == (1...40).map(Int64.init))
        #expect(server.requests.map { $0.query["offset"] } == ["0", "10", "20", "30"])
    }

    @Test("offset without a total stops at a short page")
    func offsetShortPage() async throws {
        let server = try fixtureServer(RESTFixtureAPI(records: 25))
        defer { server.stop() }
        let s = source(server, path: "/offset", schema: declared) {
            $0.resource.records = "results"
            $0.resource.paginator = .offset(offsetParam: "offset", limitParam: "limit", limit: 10, totalPath: nil)
        }
        let out = try await read(s)
        #expect(out.rowCount == 25)
        #expect(server.requests.count == 3)
    }

    @Test("cursor from the body, sent as a query parameter")
    func cursorBody() async throws {
        let server = try fixtureServer(RESTFixtureAPI(records: 33))
        defer { server.stop() }
        let s = source(server, path: "/cursor", schema: declared) {
            $0.resource.records = "items"
            $0.resource.paginator = .cursor(cursorPath: "next_cursor", cursorHeader: nil, param: "cursor", inBody: false)
        }
        let out = try await read(s)
        #expect(out.ints("id") == (1...33).map(Int64.init))
        #expect(server.requests.map { $0.query["cursor"] } == [nil, "c10", "c20", "c30"])
    }

    @Test("cursor from a response header; records auto-detected as the top-level array")
    func cursorHeader() async throws {
        let server = try fixtureServer(RESTFixtureAPI(records: 21))
        defer { server.stop() }
        let s = source(server, path: "/cursor-header", schema: declared) {
            $0.resource.paginator = .cursor(cursorPath: nil, cursorHeader: "x-next-cursor", param: "cursor", inBody: false)
        }
        let out = try await read(s)
        #expect(out.rowCount == 21)
        #expect(server.requests.count == 3)
    }

    @Test("cursor sent in a POST body field")
    func cursorInPostBody() async throws {
        let server = try RESTTestServer { request in
            let start = request.bodyText.contains("\"cursor\":\"c2\"") ? 2 : 0
            let next = start == 0 ? "\"c2\"" : "null"
            let ids = start == 0 ? [1, 2] : [3]
            return .json("{\"items\":[\(ids.map(RESTFixtureAPI.record).joined(separator: ","))],\"next\":\(next)}")
        }
        defer { server.stop() }
        let s = source(server, path: "/search", schema: declared) {
            $0.resource.method = .post
            $0.resource.json = "{\"query\":\"all\"}"
            $0.resource.paginator = .cursor(cursorPath: "next", cursorHeader: nil, param: "cursor", inBody: true)
        }
        let out = try await read(s)
        #expect(out.ints("id") == [1, 2, 3])
        #expect(server.requests.map(\.method) == ["POST", "POST"])
        #expect(server.requests[1].bodyText == "{\"cursor\":\"c2\",\"query\":\"all\"}")
    }

    @Test("next_url from the body; records auto-detected under a member")
    func nextURL() async throws {
        let server = try fixtureServer(RESTFixtureAPI(records: 27))
        defer { server.stop() }
        let s = source(server, path: "/next", schema: declared) { $0.resource.paginator = .nextURL(path: "links.next") }
        let out = try await read(s)
        #expect(out.ints("id") == (1...27).map(Int64.init))
        #expect(server.requests.count == 3)
    }

    @Test("link_header follows rel=next (GitHub style)")
    func linkHeader() async throws {
        let server = try fixtureServer(RESTFixtureAPI(records: 45))
        defer { server.stop() }
        let s = source(server, path: "/link?per_page=20", schema: declared) { $0.resource.paginator = .linkHeader }
        let out = try await read(s)
        #expect(out.ints("id") == (1...45).map(Int64.init))
        #expect(server.requests.map { $0.query["page"] } == [nil, "2", "3"])
    }

    @Test("max_pages stops the read early")
    func maxPages() async throws {
        let server = try fixtureServer(RESTFixtureAPI(records: 100))
        defer { server.stop() }
        let s = source(server, path: "/page", schema: declared) {
            $0.resource.records = "data"
            $0.resource.paginator = .pageNumber(param: "page", start: 1, totalPagesPath: nil)
            $0.maxPages = 3
        }
        let out = try await read(s)
        #expect(out.rowCount == 30)
        #expect(server.requests.count == 3)
        #expect(out.checkpoints.map(\.complete) == [false], "a read cut short is not a complete copy")
    }

    @Test("a repeated next token is a pagination loop, named with both pages")
    func paginationLoop() async throws {
        let server = try RESTTestServer { _ in .json("{\"items\":[\(RESTFixtureAPI.record(1))],\"next\":\"same\"}") }
        defer { server.stop() }
        let s = source(server, path: "/loop", schema: declared) {
            $0.resource.paginator = .cursor(cursorPath: "next", cursorHeader: nil, param: "cursor", inBody: false)
        }
        let output = CollectingOutput()
        let error = await #expect(throws: DponeError.self) { try await s.run(into: output, resumeFrom: nil) }
        #expect(error?.message.contains("pagination loop") == true)
        #expect(error?.message.contains("page 2 returned the next-page token of page 1 again") == true)
        #expect(output.checkpoints.isEmpty)
        #expect(server.requests.count == 2)
    }

    @Test("a malformed page fails with its URL and byte offset, before any checkpoint")
    func malformedPage() async throws {
        let server = try RESTTestServer { request in
            if request.query["page"] == "2" { return .json("{\"data\":[{\"id\":3,\"name\":\"x\" \"updated_at\":null}]}") }
            return .json("{\"data\":[\(RESTFixtureAPI.record(1)),\(RESTFixtureAPI.record(2))]}")
        }
        defer { server.stop() }
        let s = source(server, path: "/page", schema: declared) {
            $0.resource.records = "data"
            $0.resource.paginator = .pageNumber(param: "page", start: 1, totalPagesPath: nil)
        }
        let output = CollectingOutput()
        let error = await #expect(throws: DponeError.self) { try await s.run(into: output, resumeFrom: nil) }
        let message = error?.message ?? ""
        #expect(message.contains("page 2 of \(server.url)/page?page=2"), "\(message)")
        #expect(message.contains("at byte 29"), "\(message)")
        #expect(output.checkpoints.isEmpty)
    }

    @Test("a truncated page fails with its URL and byte offset")
    func truncatedPage() async throws {
        let server = try RESTTestServer { _ in .json("{\"data\":[{\"id\":1},{\"id\":") }
        defer { server.stop() }
        let s = source(server, path: "/t", schema: declared) { $0.resource.records = "data" }
        let error = await #expect(throws: DponeError.self) { try await read(s) }
        #expect(error?.message.contains("page 1 of \(server.url)/t is not valid JSON") == true, "\(error?.message ?? "")")
        #expect(error?.context["byte"] != nil)
    }
}

/// Schema inference, flattening and parent–child resources.
@Suite("REST records") struct RESTRecordTests {
    @Test("schema inferred from the first records: nested objects json, numbers widened")
    func inference() async throws {
        let server = try fixtureServer(RESTFixtureAPI(records: 12))
        defer { server.stop() }
        let s = source(server, path: "/page") {
            $0.resource.records = "data"
            $0.resource.paginator = .pageNumber(param: "page", start: 1, totalPagesPath: "total_pages")
        }
        let schema = try await s.outputSchema()
        #expect(schema.names == ["id", "name", "amount", "updated_at", "active", "meta", "tags"])
        #expect(schema.fields.map(\.type) == [.int64, .string, .float64, .timestamp(withTimeZone: true), .bool, .json, .json])
        let out = try await read(s)
        #expect(out.rowCount == 12)
        let names = out.batches.flatMap { b in (0..<b.rowCount).map { b.column(named: "name")!.value(at: $0) } }
        #expect(names.contains(.string("item-10 é漢 \"q\"")))
    }

    @Test("int then float widens to float64; number then string to string; sometimes-object to json")
    func widening() async throws {
        let server = try RESTTestServer { _ in
            .json("[{\"a\":1,\"b\":1,\"c\":1},{\"a\":2.5,\"b\":\"x\",\"c\":{\"k\":1}}]")
        }
        defer { server.stop() }
        let schema = try await source(server, path: "/w").outputSchema()
        #expect(schema.fields.map(\.type) == [.float64, .string, .json])
    }

    @Test("flatten spreads nested objects over columns with the separator, to max_depth")
    func flatten() async throws {
        let server = try RESTTestServer { _ in
            .json("[{\"id\":1,\"meta\":{\"source\":\"a\",\"deep\":{\"x\":1,\"y\":{\"z\":2}}}},{\"id\":2,\"meta\":{\"source\":\"b\"}}]")
        }
        defer { server.stop() }
        let s = source(server, path: "/f") { $0.flatten = JSONFlatten(separator: "__", maxDepth: 2) }
        let schema = try await s.outputSchema()
        #expect(schema.names == ["id", "meta__source", "meta__deep__x", "meta__deep__y"])
        #expect(schema[3].type == .json)
        let out = try await read(s)
        let batch = out.batches[0]
        #expect(batch.column(named: "meta__source")!.value(at: 1) == .string("b"))
        #expect(batch.column(named: "meta__deep__x")!.value(at: 0) == .int(1))
        #expect(batch.column(named: "meta__deep__x")!.isNull(1))
    }

    @Test("no records and no declared schema: a clear error")
    func emptyInference() async throws {
        let server = try RESTTestServer { _ in .json("{\"data\":[]}") }
        defer { server.stop() }
        let error = await #expect(throws: DponeError.self) { try await source(server, path: "/e").outputSchema() }
        #expect(error?.hint?.contains("source.options.schema") == true)
    }

    @Test("parent–child: one child call per parent record, parent fields as columns, bounded concurrency")
    func parentChild() async throws {
        let api = RESTFixtureAPI(records: 25)
        let server = try fixtureServer(api)
        defer { server.stop() }
        let s = source(server, path: "/orders/{order_id}/items") {
            var parent = RESTResource()
            parent.path = "/orders"
            parent.records = "orders"
            parent.paginator = .pageNumber(param: "page", start: 1, totalPagesPath: nil)
            $0.parent = RESTParent(resource: parent, fields: [RESTPair("order_id", "id")])
            $0.maxConcurrency = 3
        }
        let schema = try await s.outputSchema()
        #expect(schema.names == ["sku", "qty", "_parent_order_id"])
        let out = try await read(s)
        #expect(out.rowCount == 50)
        let skus = Set(out.batches.flatMap { b in (0..<b.rowCount).map { "\(b.column(named: "sku")!.value(at: $0))" } })
        #expect(skus.count == 50)
        for b in out.batches {
            for r in 0..<b.rowCount {
                guard case .string(let sku) = b.column(named: "sku")!.value(at: r),
                    case .string(let parent) = b.column(named: "_parent_order_id")!.value(at: r)
                else { Issue.record("unexpected types"); continue }
                #expect(sku.hasPrefix(parent + "-"))
            }
        }
        let children = server.requests.filter { $0.path.hasSuffix("/items") }
        #expect(children.count >= 25)
    }

    @Test("on_status 404: ignore skips a missing child")
    func ignoreMissingChild() async throws {
        let server = try RESTTestServer { request in
            if request.path == "/orders" { return .json("[{\"id\":1},{\"id\":99},{\"id\":2}]") }
            if request.path == "/orders/99/items" { return .json("{\"error\":\"gone\"}", status: 404) }
            let id = request.path.split(separator: "/")[1]
            return .json("[{\"sku\":\"\(id)-a\"}]")
        }
        defer { server.stop() }
        let s = source(server, path: "/orders/{id}/items", schema: Schema([Field("sku", .string)])) {
            var parent = RESTResource()
            parent.path = "/orders"
            $0.parent = RESTParent(resource: parent, fields: [RESTPair("id", "id")])
            $0.onStatus[404] = .ignore
        }
        let out = try await read(s)
        #expect(out.rowCount == 2)
    }
}

/// The incremental cursor: what is sent, what is kept, what is stored.
@Suite("REST incremental") struct RESTIncrementalTests {
    let declared = Schema([Field("id", .int64), Field("updated_at", .timestamp(withTimeZone: true))])
    var stored: StateValue {
        .object(["cursor": .object(["column": .string("updated_at"), "value": .string("2026-01-01T00:30:00Z")])])
    }

    /// A server that ignores every filter: it returns records 1...50 whatever is asked.
    func unfiltered() throws -> RESTTestServer {
        try RESTTestServer { _ in .json("[" + (1...50).map(RESTFixtureAPI.record).joined(separator: ",") + "]") }
    }

    @Test("first run sends initial and the window's end; stores the largest cursor read")
    func initialAndEnd() async throws {
        let server = try fixtureServer(RESTFixtureAPI(records: 50))
        defer { server.stop() }
        let s = source(server, path: "/page", schema: declared) {
            $0.resource.records = "data"
            $0.resource.paginator = .pageNumber(param: "page", start: 1, totalPagesPath: "total_pages")
            var inc = RESTIncremental(cursorPath: "updated_at", param: "since")
            inc.initial = "2026-01-01T00:05:00Z"
            inc.end = "2026-12-31T00:00:00Z"
            inc.endParam = "until"
            $0.incremental = inc
        }
        let out = try await read(s)
        #expect(out.ints("id") == Array(6...50))
        #expect(server.requests.allSatisfy { $0.query["since"] == "2026-01-01T00:05:00Z" && $0.query["until"] == "2026-12-31T00:00:00Z" })
        let cursor = out.checkpoints.first?.positions["cursor"]
        #expect(cursor?["value"]?.stringValue.map { $0.hasPrefix("2026-01-01") && $0.contains("00:50:00") } == true, "\(String(describing: cursor))")
        #expect(out.checkpoints.first?.complete == false)
    }

    @Test("a resumed run sends the stored cursor and keeps only records strictly after it, even from an API that ignores the filter")
    func strictlyAfterStored() async throws {
        let server = try unfiltered()
        defer { server.stop() }
        let s = source(server, path: "/all", schema: declared) { $0.incremental = RESTIncremental(cursorPath: "updated_at", param: "since") }
        let out = try await read(s, resumeFrom: stored)
        #expect(server.requests.first?.query["since"] == "2026-01-01T00:30:00Z")
        #expect(out.ints("id") == Array(31...50))
    }

    @Test("lookback sends the cursor minus the lookback and keeps what is re-read")
    func lookback() async throws {
        let server = try unfiltered()
        defer { server.stop() }
        let s = source(server, path: "/all", schema: declared) {
            var inc = RESTIncremental(cursorPath: "updated_at", param: "since")
            inc.lookback = "10m"
            $0.incremental = inc
        }
        let out = try await read(s, resumeFrom: stored)
        #expect(server.requests.first?.query["since"] == "2026-01-01T00:20:00Z")
        #expect(out.rowCount == 50, "lookback keeps every record the API returns (deduplicate with incremental_merge)")
    }

    @Test("an integer cursor with a numeric lookback")
    func integerLookback() async throws {
        let server = try unfiltered()
        defer { server.stop() }
        let s = source(server, path: "/all", schema: declared) {
            var inc = RESTIncremental(cursorPath: "id", param: "after_id")
            inc.lookback = "5"
            $0.incremental = inc
        }
        let state: StateValue = .object(["cursor": .object(["column": .string("id"), "value": .string("40")])])
        let out = try await read(s, resumeFrom: state)
        #expect(server.requests.first?.query["after_id"] == "35")
        #expect(out.checkpoints.first?.positions["cursor"]?["value"]?.stringValue == "50")
    }
}
