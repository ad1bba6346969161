/// Names of settings whose values are secrets (passwords, keys, tokens, SASL configs): their values
/// are masked as `***` wherever settings are shown (logs, errors, rendered manifests, artifacts).
public enum SecretKeys {
    public static func isSecret(_ key: String) -> Bool {
        let k = key.lowercased()
        return ["password", "secret", "token", "sasl.jaas", "sasl.oauthbearer.config", "key.pem", "ssl_key", "credential"]
            .contains { k.contains($0) }
    }
}
