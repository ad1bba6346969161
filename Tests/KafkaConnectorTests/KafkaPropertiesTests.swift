import Flow
import KafkaConnector
import Testing

@Suite struct KafkaPropertiesTests {
    @Test func secretsAreMaskedInEveryRendering() {
        let p = KafkaProperties([
            "bootstrap.servers": "b1:9092", "sasl.password": "hunter2", "ssl.key.password": "k3y",
            "sasl.oauthbearer.config": "principal=x secret=y", "security.protocol": "SASL_SSL",
        ])
        #expect(!p.description.contains("hunter2") && !p.description.contains("k3y") && !p.description.contains("secret=y"))
        #expect(p.description.contains("bootstrap.servers=b1:9092") && p.description.contains("sasl.password=***"))
        #expect(p.redacted.map(\.key) == p.values.keys.sorted())
    }

    @Test func defaultsNeverOverrideTheUser() {
        var p = KafkaProperties(["enable.idempotence": "false"])
        p.setDefault("enable.idempotence", "true")
        p.setDefault("acks", "all")
        #expect(p["enable.idempotence"] == "false" && p["acks"] == "all")
    }
}
