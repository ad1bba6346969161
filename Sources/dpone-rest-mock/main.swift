import DponeTestSupport
import Foundation
import Synchronization

// The REST fixture API of the tests, standalone: for benchmarks and for trying manifests by hand.
//
// usage: dpone-rest-mock [--port N] [--records N] [--per-page N]
// Prints "listening http://127.0.0.1:PORT" and serves until killed. Routes: see RESTFixtureAPI.

var port = 0
var records = 1000
var perPage = 10
var arguments = CommandLine.arguments.dropFirst()
while let flag = arguments.popFirst() {
    guard let value = arguments.popFirst(), let n = Int(value) else {
        FileHandle.standardError.write(Data("usage: dpone-rest-mock [--port N] [--records N] [--per-page N]\n".utf8))
        exit(2)
    }
    switch flag {
    case "--port": port = n
    case "--records": records = n
    case "--per-page": perPage = n
    default:
        FileHandle.standardError.write(Data("unknown flag \(flag)\n".utf8))
        exit(2)
    }
}
let api = RESTFixtureAPI(records: records, perPage: perPage)
let base = Mutex<String>("")
let server = try RESTTestServer(port: port) { request in api.handle(request, baseURL: base.withLock { $0 }) }
base.withLock { $0 = server.url }
FileHandle.standardOutput.write(Data("listening \(server.url)\n".utf8))
while true { sleep(3600) }
