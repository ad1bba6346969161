import Flow
import Foundation
import Synchronization

/// A deterministic JSON API over a growing list of records, served by `RESTTestServer`: the REST
/// connector's fixtures for every paginator, the incremental cursor and parent–child resources.
///
/// Record `i` (1-based): `{"id": i, "name": "item-i", "amount": i*1.25, "updated_at": <2026-01-01 +
/// i minutes, RFC 3339>, "active": i%2==0, "meta": {"source": "s(i%3)", "score": i%7}, "tags":
/// ["t(i%4)"]}`. `name` of every 10th record holds unicode and an escaped quote.
///
/// Routes (`per_page` / `limit` default 10; `since` filters `updated_at > since`):
/// - `/page?page=N&per_page=P` → `{"data": [...], "total_pages": T}`; `page_number`.
/// - `/offset?offset=O&limit=L` → `{"results": [...], "total": N}`; `offset`.
/// - `/cursor?cursor=C` → `{"items": [...], "next_cursor": "c<n>" | null}`; `cursor` in the body.
/// - `/cursor-header?cursor=C` → records, next token in `X-Next-Cursor`.
/// - `/next?page=N` → `{"data": [...], "links": {"next": "<absolute URL>" | null}}`; `next_url`.
/// - `/link?page=N` → a top-level array, `Link: <...>; rel="next"`; `link_header`. Also served as
///   `/repos/dpone/demo/issues` (the shape of GitHub's issues API, for `examples/github-issues.yml`).
/// - `/orders?page=N` (parents: every record is an order) and `/orders/<id>/items` → 2 child items.
public final class RESTFixtureAPI: Sendable {
    private let count: Mutex<Int>
    public let perPage: Int

    public init(records: Int, perPage: Int = 10) {
        count = Mutex(records)
        self.perPage = perPage
    }

    public var records: Int { count.withLock { $0 } }

    /// Adds `n` records (ids continue).
    public func append(_ n: Int) { count.withLock { $0 += n } }

    /// The `updated_at` of record `i`: 2026-01-01T00:00:00Z plus `i` minutes, RFC 3339 (arithmetic
    /// only: the benchmark serves a million records).
    public static func updatedAt(_ i: Int) -> String {
        let (year, month, day) = CivilCalendar.civil(days: 20_454 + i / 1440)  // 2026-01-01 is day 20454
        let minuteOfDay = i % 1440
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(year)-\(two(month))-\(two(day))T\(two(minuteOfDay / 60)):\(two(minuteOfDay % 60)):00Z"
    }

    public static func record(_ i: Int) -> String {
        let name = i % 10 == 0 ? "item-\(i) \\u00e9\\u6f22 \\\"q\\\"" : "item-\(i)"
        return
            "{\"id\":\(i),\"name\":\"\(name)\",\"amount\":\(Double(i) * 1.25),\"updated_at\":\"\(updatedAt(i))\",\"active\":\(i % 2 == 0),\"meta\":{\"source\":\"s\(i % 3)\",\"score\":\(i % 7)},\"tags\":[\"t\(i % 4)\"]}"
    }

    /// The ids a request may see, ascending: all, or those updated after `since` (a binary search:
    /// `updated_at` grows with the id).
    private func ids(_ request: RESTTestRequest) -> Range<Int> {
        let n = records
        var low = 1
        if let since = request.query["since"], !since.isEmpty {
            var hi = n + 1
            while low < hi {
                let mid = (low + hi) / 2
                if Self.updatedAt(mid) > since { hi = mid } else { low = mid + 1 }
            }
        }
        return low..<max(low, n + 1)
    }

    private static func array(_ ids: Range<Int>) -> String { "[" + ids.map(record).joined(separator: ",") + "]" }

    public func handle(_ request: RESTTestRequest, baseURL: String) -> RESTTestResponse {
        let all = ids(request)
        let per = Int(request.query["per_page"] ?? request.query["limit"] ?? "") ?? perPage
        func window(_ start: Int) -> Range<Int> {
            let from = min(all.upperBound, all.lowerBound + start)
            return from..<min(all.upperBound, from + per)
        }
        let pages = max(1, (all.count + per - 1) / per)
        switch request.path {
        case "/page":
            let page = Int(request.query["page"] ?? "1") ?? 1
            return .json("{\"data\":\(Self.array(window((page - 1) * per))),\"total_pages\":\(pages)}")
        case "/offset":
            let offset = Int(request.query["offset"] ?? "0") ?? 0
            return .json("{\"results\":\(Self.array(window(offset))),\"total\":\(all.count)}")
        case "/cursor", "/cursor-header":
            let start = Int((request.query["cursor"] ?? "c0").dropFirst()) ?? 0
            let next = start + per < all.count ? "c\(start + per)" : nil
            if request.path == "/cursor-header" {
                return .json(Self.array(window(start)), headers: next.map { [("X-Next-Cursor", $0)] } ?? [])
            }
            return .json("{\"items\":\(Self.array(window(start))),\"next_cursor\":\(next.map { "\"\($0)\"" } ?? "null")}")
        case "/next":
            let page = Int(request.query["page"] ?? "1") ?? 1
            let next = page < pages ? "\"\(baseURL)/next?page=\(page + 1)&per_page=\(per)\"" : "null"
            return .json("{\"data\":\(Self.array(window((page - 1) * per))),\"links\":{\"next\":\(next)}}")
        case "/link", "/repos/dpone/demo/issues":
            let page = Int(request.query["page"] ?? "1") ?? 1
            var headers: [(String, String)] = []
            if page < pages {
                let since = request.query["since"].map { "&since=\($0)" } ?? ""
                let link = "\(baseURL)\(request.path)?per_page=\(per)\(since)&page="
                headers.append(("Link", "<\(link)\(page + 1)>; rel=\"next\", <\(link)\(pages)>; rel=\"last\""))
            }
            return .json(Self.array(window((page - 1) * per)), headers: headers)
        case "/orders":
            let page = Int(request.query["page"] ?? "1") ?? 1
            return .json("{\"orders\":\(Self.array(window((page - 1) * per)))}")
        default:
            let parts = request.path.split(separator: "/")
            if parts.count == 3, parts[0] == "orders", parts[2] == "items", let id = Int(parts[1]) {
                guard id >= 1 && id <= records else { return .json("{\"error\":\"no order \(id)\"}", status: 404) }
                return .json("[{\"sku\":\"\(id)-a\",\"qty\":1},{\"sku\":\"\(id)-b\",\"qty\":\(id % 5 + 1)}]")
            }
            return .json("{\"error\":\"no route \(request.path)\"}", status: 404)
        }
    }
}
