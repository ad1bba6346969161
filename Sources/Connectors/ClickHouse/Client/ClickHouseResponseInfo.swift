import Foundation

/// What a successful request reported besides its body.
public struct ClickHouseResponseInfo: Sendable {
    /// The `query_id` the client sent (a UUID), also in the server's `system.query_log`.
    public var queryID: String
    public var httpStatus: Int
    /// Response headers, names lowercased (`x-clickhouse-summary`, `x-clickhouse-format`...).
    public var headers: [String: String]
    /// Bytes of the response body received.
    public var bytesReceived: Int
    /// Bytes of a streamed request body sent.
    public var bytesSent: Int

    /// `X-ClickHouse-Summary` as a dictionary (`written_rows`, `read_rows`...); empty when the server
    /// does not send it (18.x does not).
    public var summary: [String: String] {
        guard let text = headers["x-clickhouse-summary"], let data = text.data(using: .utf8),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return [:] }
        return object.mapValues { "\($0)" }
    }

    /// `written_rows` of the summary, when the server reports it.
    public var writtenRows: Int? { summary["written_rows"].flatMap { Int($0) } }
}
