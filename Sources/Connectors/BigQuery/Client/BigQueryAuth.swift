import Crypto
import Flow
import Foundation
import _CryptoExtras

/// Where a BigQuery client's access tokens come from, decided once per sink in this order:
/// 1. a service-account JSON key (`credentials_file`, else `GOOGLE_APPLICATION_CREDENTIALS`): a JWT
///    signed with RS256 is exchanged at the key's `token_uri` for an access token;
/// 2. the GCE metadata server (`GCE_METADATA_HOST`, default `metadata.google.internal`);
/// 3. nothing, against an emulator (`BIGQUERY_EMULATOR_HOST` set and no key given).
public enum BigQueryCredentials: Sendable {
    case serviceAccount(ServiceAccountKey)
    case metadataServer(host: String)
    case none

    /// The credentials for a sink: `credentialsFile` wins over the environment's key; an emulator
    /// without a key needs none; otherwise the metadata server.
    public static func resolve(credentialsFile: String?, emulator: Bool, environment: [String: String]) throws -> BigQueryCredentials {
        if let path = credentialsFile ?? environment["GOOGLE_APPLICATION_CREDENTIALS"], !path.isEmpty {
            return .serviceAccount(try ServiceAccountKey(contentsOf: path))
        }
        if emulator { return .none }
        return .metadataServer(host: environment["GCE_METADATA_HOST"] ?? "metadata.google.internal")
    }

    /// What the run log says about the credentials (never a secret).
    public var summary: String {
        switch self {
        case .serviceAccount(let key): "service account \(key.clientEmail)"
        case .metadataServer(let host): "metadata server \(host)"
        case .none: "no credentials (emulator)"
        }
    }
}

/// A Google service-account key file (`"type": "service_account"`).
public struct ServiceAccountKey: Sendable {
    public var clientEmail: String
    public var privateKeyID: String?
    public var tokenURI: String
    /// The signing key; its PEM text is never kept, logged or shown.
    let privateKey: _RSA.Signing.PrivateKey

    /// Reads and parses the key at `path`; errors name the file, never its content.
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw credentialError("cannot read the BigQuery credentials file \(path)", hint: "set credentials_file or GOOGLE_APPLICATION_CREDENTIALS to a readable service-account JSON key")
        }
        try self.init(json: data, source: path)
    }

    public init(json: Data, source: String = "the credentials") throws {
        guard let object = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else {
            throw credentialError("\(source) is not a JSON object", hint: "download a service-account key (JSON) from the Google Cloud console")
        }
        if let type = object["type"] as? String, type != "service_account" {
            throw credentialError("\(source) holds a '\(type)' credential; only service-account keys are read", hint: "use a service-account key, or run on GCE/GKE (metadata server)")
        }
        guard let email = object["client_email"] as? String, let pem = object["private_key"] as? String else {
            throw credentialError("\(source) has no client_email or private_key", hint: "download a service-account key (JSON) from the Google Cloud console")
        }
        do {
            privateKey = try _RSA.Signing.PrivateKey(pemRepresentation: pem)
        } catch {
            throw credentialError("the private_key of \(source) is not an RSA key in PEM form", hint: "download a fresh service-account key")
        }
        clientEmail = email
        privateKeyID = object["private_key_id"] as? String
        tokenURI = object["token_uri"] as? String ?? "https://oauth2.googleapis.com/token"
    }

    /// The OAuth scope dpone asks for.
    public static let scope = "https://www.googleapis.com/auth/bigquery"

    /// The signed assertion (RFC 7523) exchanged for an access token: `header.claims.signature`,
    /// base64url without padding, RS256 (RSASSA-PKCS1-v1_5 with SHA-256), valid one hour from `now`.
    public func assertion(now: Date) throws -> String {
        let issued = Int(now.timeIntervalSince1970)
        var header: [(String, String)] = [("alg", "RS256"), ("typ", "JWT")]
        if let privateKeyID { header.append(("kid", privateKeyID)) }
        let claims: [(String, String)] = [
            ("iss", clientEmail), ("scope", Self.scope), ("aud", tokenURI),
        ]
        let signingInput = Self.segment(Self.json(header)) + "." + Self.segment(Self.json(claims, integers: [("iat", issued), ("exp", issued + 3600)]))
        let signature: _RSA.Signing.RSASignature
        do {
            signature = try privateKey.signature(for: SHA256.hash(data: Data(signingInput.utf8)), padding: .insecurePKCS1v1_5)
        } catch {
            throw credentialError("signing the service-account assertion failed: \(error)")
        }
        return signingInput + "." + signature.withUnsafeBytes { Self.segment($0) }
    }

    /// A flat JSON object with string members (escaped), then integer members, in the given order.
    static func json(_ strings: [(String, String)], integers: [(String, Int)] = []) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "{")]
        var first = true
        for (key, value) in strings {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            appendJSONString(key, to: &out)
            out.append(UInt8(ascii: ":"))
            appendJSONString(value, to: &out)
        }
        for (key, value) in integers {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            appendJSONString(key, to: &out)
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: String(value).utf8)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    private static func appendJSONString(_ text: String, to out: inout [UInt8]) {
        let data = (try? JSONSerialization.data(withJSONObject: [text], options: [.withoutEscapingSlashes])) ?? Data("[\"\"]".utf8)
        out.append(contentsOf: data.dropFirst().dropLast())
    }

    static func segment(_ bytes: [UInt8]) -> String { bytes.withUnsafeBytes { segment($0) } }

    static func segment(_ raw: UnsafeRawBufferPointer) -> String {
        var out: [UInt8] = []
        ScalarFormatting.appendBase64(raw, urlSafe: true, to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

/// A refusal of the credentials: permanent (retrying cannot fix a key).
func credentialError(_ message: String, hint: String? = nil) -> DponeError {
    DponeError(.sink, message, hint: hint, context: [DponeError.permanentKey: "true"])
}

/// An access token and when it stops being usable.
struct AccessToken: Sendable {
    var value: String
    var expires: Date

    /// Usable for at least another minute at `now`.
    func fresh(at now: Date) -> Bool { expires.timeIntervalSince(now) > 60 }

    /// `{"access_token": ..., "expires_in": N}` as answered by the token endpoint and the metadata
    /// server; nil when either member is missing.
    static func parse(_ body: [UInt8], now: Date) -> AccessToken? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
            let token = object["access_token"] as? String, !token.isEmpty
        else { return nil }
        let seconds = (object["expires_in"] as? NSNumber)?.doubleValue ?? 3600
        return AccessToken(value: token, expires: now.addingTimeInterval(seconds))
    }
}
