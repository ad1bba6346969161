import Crypto
import DponeTestSupport
import Flow
import Foundation
import Testing
import _CryptoExtras

@testable import BigQueryConnector

/// Service-account auth: the RS256 assertion (signed with a committed test-only key, verified with
/// its public key, and pinned as a golden), the token exchange against a loopback token endpoint,
/// its caching, and that no secret reaches an error.
@Suite("BigQuery auth")
struct BigQueryAuthTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    /// A throwaway 2048-bit key made for these tests only; it grants nothing anywhere.
    static func keyPEM() throws -> String {
        try String(contentsOf: golden.appendingPathComponent("test-service-account-key.pem"), encoding: .utf8)
    }

    static func keyJSON(tokenURI: String) throws -> Data {
        try JSONSerialization.data(withJSONObject: [
            "type": "service_account", "project_id": "acme-prod", "private_key_id": "0123abcd",
            "private_key": try keyPEM(), "client_email": "loader@acme-prod.iam.gserviceaccount.com", "token_uri": tokenURI,
        ])
    }

    static func decodeSegment(_ text: Substring) throws -> [String: Any] {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        let data = try #require(Data(base64Encoded: base64))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func theAssertionIsAnRS256JWTTheKeysPublicHalfVerifies() throws {
        let key = try ServiceAccountKey(json: try Self.keyJSON(tokenURI: "https://oauth2.googleapis.com/token"))
        let now = Date(timeIntervalSince1970: 1_780_000_000)
        let jwt = try key.assertion(now: now)
        let parts = jwt.split(separator: ".")
        try #require(parts.count == 3)
        let header = try Self.decodeSegment(parts[0])
        #expect(header["alg"] as? String == "RS256")
        #expect(header["typ"] as? String == "JWT")
        #expect(header["kid"] as? String == "0123abcd")
        let claims = try Self.decodeSegment(parts[1])
        #expect(claims["iss"] as? String == "loader@acme-prod.iam.gserviceaccount.com")
        #expect(claims["scope"] as? String == "https://www.googleapis.com/auth/bigquery")
        #expect(claims["aud"] as? String == "https://oauth2.googleapis.com/token")
        #expect(claims["iat"] as? Int == 1_780_000_000)
        #expect(claims["exp"] as? Int == 1_780_003_600)

        // The signature verifies with the public key over exactly `header.claims`, and not over
        // anything else.
        var signature = String(parts[2]).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while signature.count % 4 != 0 { signature += "=" }
        let raw = try #require(Data(base64Encoded: signature))
        let publicKey = try _RSA.Signing.PrivateKey(pemRepresentation: try Self.keyPEM()).publicKey
        let signed = Data("\(parts[0]).\(parts[1])".utf8)
        let rsa = _RSA.Signing.RSASignature(rawRepresentation: raw)
        #expect(publicKey.isValidSignature(rsa, for: SHA256.hash(data: signed), padding: .insecurePKCS1v1_5))
        #expect(!publicKey.isValidSignature(rsa, for: SHA256.hash(data: signed + Data("x".utf8)), padding: .insecurePKCS1v1_5))

        // PKCS #1 v1.5 signatures are deterministic: the whole assertion is pinned.
        let url = Self.golden.appendingPathComponent("jwt_assertion.txt")
        if ProcessInfo.processInfo.environment["DPONE_UPDATE_GOLDEN"] == "1" { try (jwt + "\n").write(to: url, atomically: true, encoding: .utf8) }
        #expect(jwt + "\n" == (try String(contentsOf: url, encoding: .utf8)))
    }

    @Test func theTokenIsExchangedOnceCachedAndSentAsABearer() async throws {
        let server = try RESTTestServer { request in
            if request.path == "/token" {
                return RESTTestResponse(body: Array(#"{"access_token":"ya29.secret-token","expires_in":3599,"token_type":"Bearer"}"#.utf8))
            }
            return RESTTestResponse(body: Array(#"{"jobComplete":true,"rows":[{"f":[{"v":"1"}]}]}"#.utf8))
        }
        defer { server.stop() }
        let key = try ServiceAccountKey(json: try Self.keyJSON(tokenURI: server.url + "/token"))
        let client = BigQueryClient(project: "acme-prod", credentials: .serviceAccount(key), emulatorHost: server.url)
        #expect(try await client.query("SELECT 1").count == 1)
        #expect(try await client.query("SELECT 1").count == 1)
        let tokenRequests = server.requests.filter { $0.path == "/token" }
        #expect(tokenRequests.count == 1)
        let form = try #require(tokenRequests.first?.bodyText)
        #expect(form.hasPrefix("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=ey"))
        let queries = server.requests.filter { $0.path.hasSuffix("/queries") }
        #expect(queries.count == 2)
        #expect(queries.allSatisfy { $0.headers["authorization"] == "Bearer ya29.secret-token" })
    }

    @Test func aRefusedGrantFailsClearlyWithoutTheKeyOrToken() async throws {
        let server = try RESTTestServer { _ in
            RESTTestResponse(status: 400, body: Array(#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#.utf8))
        }
        defer { server.stop() }
        let key = try ServiceAccountKey(json: try Self.keyJSON(tokenURI: server.url + "/token"))
        let client = BigQueryClient(project: "acme-prod", credentials: .serviceAccount(key), emulatorHost: server.url, maxRetries: 0)
        let error = await #expect(throws: DponeError.self) { try await client.query("SELECT 1") }
        let text = "\(error.map { "\($0)" } ?? "")"
        #expect(text.contains("invalid_grant"))
        #expect(text.contains("HTTP 400"))
        #expect(!text.contains("PRIVATE KEY"))
        #expect(!text.contains("assertion="))
    }

    @Test func credentialsResolveInTheDocumentedOrder() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dpone-bq-auth-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("sa.json").path
        try Self.keyJSON(tokenURI: "https://oauth2.googleapis.com/token").write(to: URL(fileURLWithPath: path))

        if case .serviceAccount(let key) = try BigQueryCredentials.resolve(credentialsFile: path, emulator: true, environment: [:]) {
            #expect(key.clientEmail == "loader@acme-prod.iam.gserviceaccount.com")
        } else {
            Issue.record("a credentials file wins")
        }
        guard case .serviceAccount = try BigQueryCredentials.resolve(credentialsFile: nil, emulator: false, environment: ["GOOGLE_APPLICATION_CREDENTIALS": path]) else {
            Issue.record("GOOGLE_APPLICATION_CREDENTIALS is read")
            return
        }
        guard case .metadataServer(let host) = try BigQueryCredentials.resolve(credentialsFile: nil, emulator: false, environment: ["GCE_METADATA_HOST": "127.0.0.1:9"]), host == "127.0.0.1:9" else {
            Issue.record("the metadata server comes next")
            return
        }
        guard case .none = try BigQueryCredentials.resolve(credentialsFile: nil, emulator: true, environment: [:]) else {
            Issue.record("an emulator without a key needs none")
            return
        }
        let missing = #expect(throws: DponeError.self) {
            try BigQueryCredentials.resolve(credentialsFile: dir.appendingPathComponent("nope.json").path, emulator: false, environment: [:])
        }
        #expect(missing?.message.contains("nope.json") == true)
    }

    @Test func theMetadataServerTokenIsUsed() async throws {
        let server = try RESTTestServer { request in
            if request.path.hasPrefix("/computeMetadata/") {
                guard request.headers["metadata-flavor"] == "Google" else { return RESTTestResponse(status: 403) }
                return RESTTestResponse(body: Array(#"{"access_token":"ya29.from-metadata","expires_in":600}"#.utf8))
            }
            return RESTTestResponse(body: Array(#"{"jobComplete":true,"rows":[]}"#.utf8))
        }
        defer { server.stop() }
        let host = server.url.replacingOccurrences(of: "http://", with: "")
        let client = BigQueryClient(project: "p", credentials: .metadataServer(host: host), emulatorHost: server.url)
        _ = try await client.query("SELECT 1")
        #expect(server.requests.last?.headers["authorization"] == "Bearer ya29.from-metadata")
    }
}
