import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The test layers of DESIGN.md as Swift Testing tags.
extension Tag {
    @Tag public static var integrationMatrixMock: Self
    @Tag public static var integrationPostgres: Self
    @Tag public static var integrationClickHouse: Self
    @Tag public static var integrationKafka: Self
    @Tag public static var integrationMSSQL: Self
    @Tag public static var integrationReplay: Self
    @Tag public static var integrationLive: Self
    @Tag public static var integrationMatrix: Self
    @Tag public static var integrationFiles: Self
}

/// Environment gates of the test layers. A gated test is skipped, with the reason, when its variable
/// is not `1`; when the variable is set and its service is unreachable the test fails (see
/// `requireService`), so a broken CI set-up can never pass as "skipped".
public enum IntegrationGate: String, Sendable {
    case integration = "DPONE_RUN_INTEGRATION"
    case replay = "DPONE_RUN_INTEGRATION_REPLAY"
    case live = "DPONE_RUN_INTEGRATION_LIVE"
    case matrix = "DPONE_RUN_INTEGRATION_MATRIX"

    public var isOpen: Bool {
        ProcessInfo.processInfo.environment[rawValue] == "1"
            || (self != .live && ProcessInfo.processInfo.environment[IntegrationGate.matrix.rawValue] == "1")
    }

    /// A trait for `@Test`/`@Suite`: enabled only when the gate is open, else skipped with the reason.
    public var trait: ConditionTrait {
        .enabled(if: isOpen, "set \(rawValue)=1 to run this layer")
    }

    /// Fails the test (it does not skip) when the service at host:port does not accept a TCP connection.
    public static func requireService(_ name: String, host: String = "127.0.0.1", port: Int) throws {
        guard canConnect(host: host, port: port) else {
            throw ServiceUnreachable(description: "\(name) is not reachable at \(host):\(port) while its gate is set")
        }
    }

    public static func canConnect(host: String, port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &addr.sin_addr)
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}

public struct ServiceUnreachable: Error, CustomStringConvertible {
    public let description: String
}
