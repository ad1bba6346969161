import DponeTestSupport
import Foundation
import Testing

/// The gate mechanism itself: an unreachable service is a failure, never a silent skip.
@Suite struct IntegrationGateTests {
    @Test func anUnreachableServiceThrows() {
        // Port 1 on loopback: nothing listens there.
        #expect(throws: ServiceUnreachable.self) { try IntegrationGate.requireService("nothing", port: 1) }
    }

    @Test func aListeningServicePasses() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(bound == 0)
        #expect(listen(listener, 1) == 0)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &len) }
        }
        try IntegrationGate.requireService("listener", port: Int(UInt16(bigEndian: addr.sin_port)))
    }

    @Test func gatesReadTheirVariables() {
        #expect(IntegrationGate.replay.rawValue == "DPONE_RUN_INTEGRATION_REPLAY")
        #expect(IntegrationGate.integration.rawValue == "DPONE_RUN_INTEGRATION")
    }
}
