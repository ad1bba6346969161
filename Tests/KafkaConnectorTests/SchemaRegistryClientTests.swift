import DponeTestSupport
import Flow
import KafkaCodecs
import KafkaConnector
import Testing

/// Pure parts of the client: subject naming, URL handling. No registry needed.
@Suite struct SchemaRegistryNamingTests {
    @Test func subjectNameStrategies() {
        let record = "com.example.Order"
        #expect(SubjectNameStrategy.topicName.subject(topic: "orders", recordName: record, isKey: false) == "orders-value")
        #expect(SubjectNameStrategy.topicName.subject(topic: "orders", recordName: record, isKey: true) == "orders-key")
        #expect(SubjectNameStrategy.recordName.subject(topic: "orders", recordName: record, isKey: false) == record)
        #expect(SubjectNameStrategy.recordName.subject(topic: "orders", recordName: record, isKey: true) == record)
        #expect(
            SubjectNameStrategy.topicRecordName.subject(topic: "orders", recordName: record, isKey: true)
                == "orders-com.example.Order")
        #expect(!SubjectNameStrategy.topicName.needsRecordName && SubjectNameStrategy.recordName.needsRecordName)
    }

    @Test func strategyNamesAsConfigured() {
        #expect(SubjectNameStrategy(name: "topic_name") == .topicName)
        #expect(SubjectNameStrategy(name: "TopicRecordNameStrategy") == .topicRecordName)
        #expect(SubjectNameStrategy(name: "io.confluent.kafka.serializers.subject.RecordNameStrategy") == .recordName)
        #expect(SubjectNameStrategy(name: "recordName") == .recordName)
        #expect(SubjectNameStrategy(name: "by_magic") == nil)
    }

    @Test func urlsLoseTheirCredentials() throws {
        let client = try SchemaRegistryClient(url: "http://alice:s3cr%40t@registry.local:8081/sr/")
        #expect(client.url == "http://registry.local:8081/sr")
        let several = try SchemaRegistryClient(url: "http://a:8081, https://u:p@b:8082")
        #expect(several.url == "http://a:8081,https://b:8082")
    }

    @Test func badURLsThrowWithoutThePassword() {
        for url in ["ftp://u:hunter2@h:1", "u:hunter2@h:1", "http://u:hunter2@:8081", ""] {
            let error = #expect(throws: DponeError.self, "\(url)") {
                try SchemaRegistryClient(url: url, errorKind: .sink)
            }
            #expect(error?.kind == .sink)
            #expect(error.map { !"\($0)".contains("hunter2") } == true, "\(error.map { "\($0)" } ?? "")")
        }
    }
}

/// The client against the fake registry (`scripts/schema-registry.sh start`,
/// `DPONE_TEST_SCHEMA_REGISTRY_URL`). Subjects get random names, so the fake's persistent state never
/// makes runs depend on each other.
@Suite(
    "Schema registry client: integration", .tags(.integrationMatrixMock), IntegrationGate.integration.trait)
struct SchemaRegistryClientTests {
    static let order = #"""
        {"type":"record","name":"Order","namespace":"com.example","fields":[{"name":"id","type":"long"},{"name":"name","type":"string"}]}
        """#
    static let proto = #"""
        syntax = "proto3";
        package com.example;
        message Order { int64 id = 1; string name = 2; }
        """#
    static let jsonSchema = #"{"type":"object","properties":{"id":{"type":"integer"}},"required":["id"]}"#

    static func client(errorKind: DponeError.Kind = .source) throws -> SchemaRegistryClient {
        try SchemaRegistryTestServer.require()
        return try SchemaRegistryClient(url: SchemaRegistryTestServer.url, timeoutSeconds: 10, errorKind: errorKind)
    }

    @Test func registerLookupAndGetByID() async throws {
        let client = try Self.client()
        let subject = SchemaRegistryTestServer.uniqueName("reg") + "-value"
        #expect(try await client.lookup(subject: subject, schema: Self.order) == nil)  // unknown subject → nil

        let id = try await client.register(subject: subject, schema: Self.order)
        #expect(id > 0)
        // Idempotent: the same schema again is the same id, also from a fresh client (no cache).
        let fresh = try Self.client()
        #expect(try await fresh.register(subject: subject, schema: Self.order) == id)
        #expect(try await fresh.lookup(subject: subject, schema: Self.order) == id)
        // A schema the subject does not have → nil (40403), not an error.
        #expect(try await fresh.lookup(subject: subject, schema: #"{"type":"string"}"#) == nil)

        let registered = try await fresh.schema(id: id)
        #expect(registered == RegisteredSchema(id: id, schemaType: .avro, schema: Self.order))
        let latest = try await fresh.latest(subject: subject)
        #expect(latest.id == id && latest.version == 1 && latest.schema.schema == Self.order)

        // A second version.
        let v2 = Self.order.replacing(#""type":"string"}]"#, with: #""type":"string"},{"name":"note","type":["null","string"],"default":null}]"#)
        let id2 = try await fresh.register(subject: subject, schema: v2)
        #expect(id2 != id)
        let newest = try await fresh.latest(subject: subject)
        #expect(newest.id == id2 && newest.version == 2)
        let first = try await fresh.version(subject: subject, version: 1)
        #expect(first.id == id)
        #expect(try await fresh.subjects().contains(subject))
    }

    @Test func idsAreGlobalAcrossSubjects() async throws {
        let client = try Self.client()
        let a = SchemaRegistryTestServer.uniqueName("ga")
        let b = SchemaRegistryTestServer.uniqueName("gb")
        let schema = #"{"type":"record","name":"\#(a.replacing("-", with: "_"))","fields":[{"name":"x","type":"int"}]}"#
        let idA = try await client.register(subject: a, schema: schema)
        let idB = try await client.register(subject: b, schema: schema)
        #expect(idA == idB)
    }

    @Test func protobufAndJSONSchemasKeepTheirType() async throws {
        let client = try Self.client()
        let base = SchemaRegistryTestServer.uniqueName("types")
        let protoID = try await client.register(subject: base + "-p", schema: Self.proto, schemaType: .protobuf)
        let jsonID = try await client.register(subject: base + "-j", schema: Self.jsonSchema, schemaType: .json)
        let fresh = try Self.client()
        let proto = try await fresh.schema(id: protoID)
        #expect(proto.schemaType == .protobuf && proto.schema == Self.proto)
        let json = try await fresh.schema(id: jsonID)
        #expect(json.schemaType == .json && json.schema == Self.jsonSchema)
        #expect(try await fresh.latest(subject: base + "-p").schema.schemaType == .protobuf)
        // The type is part of the identity: the same text as AVRO is not found under the subject.
        #expect(try await fresh.lookup(subject: base + "-j", schema: Self.jsonSchema, schemaType: .json) == jsonID)
    }

    @Test func referencesRoundTrip() async throws {
        let client = try Self.client()
        let base = SchemaRegistryTestServer.uniqueName("refs")
        let common = #"syntax = "proto3"; package common; message Money { string amount = 1; }"#
        _ = try await client.register(subject: base + "-common", schema: common, schemaType: .protobuf)
        let reference = SchemaReference(name: "common/money.proto", subject: base + "-common", version: 1)
        let order = #"syntax = "proto3"; import "common/money.proto"; message Order { common.Money total = 1; }"#
        let id = try await client.register(
            subject: base + "-value", schema: order, schemaType: .protobuf, references: [reference])
        let fetched = try await Self.client().schema(id: id)
        #expect(fetched.references == [reference])
    }

    @Test func schemasByIDAreCachedForever() async throws {
        let client = try Self.client()
        let subject = SchemaRegistryTestServer.uniqueName("cache")
        let id = try await client.register(subject: subject, schema: Self.jsonSchema, schemaType: .json)

        let reader = try Self.client()
        let before = reader.requestCount
        let first = try await reader.schema(id: id)
        #expect(reader.requestCount == before + 1)
        for _ in 0..<5 { #expect(try await reader.schema(id: id) == first) }
        #expect(reader.requestCount == before + 1)
        // Deleting the subject does not change what the id names: the cache stays right.
        try await client.deleteSubject(subject)
        #expect(try await reader.schema(id: id) == first)
        // Registrations are cached too: the second register sends nothing.
        let writer = try Self.client()
        let id1 = try await writer.register(subject: subject + "-again", schema: Self.jsonSchema, schemaType: .json)
        let sent = writer.requestCount
        #expect(try await writer.register(subject: subject + "-again", schema: Self.jsonSchema, schemaType: .json) == id1)
        #expect(writer.requestCount == sent)
        // ...and `register` filled the id cache.
        #expect(try await writer.schema(id: id1).schema == Self.jsonSchema && writer.requestCount == sent)
    }

    @Test func notFoundCarriesTheRegistryCodeAndMessage() async throws {
        let client = try Self.client(errorKind: .sink)
        let missing = Int32.max - Int32.random(in: 0..<1000)
        let error = await #expect(throws: DponeError.self) { try await client.schema(id: missing) }
        #expect(error?.kind == .sink)
        #expect(error?.context["error_code"] == "40403" && error?.context["http_status"] == "404")
        #expect(error?.message.contains("Schema \(missing) not found") == true, "\(error.map { "\($0)" } ?? "")")

        let subject = SchemaRegistryTestServer.uniqueName("absent")
        let latest = await #expect(throws: DponeError.self) { try await client.latest(subject: subject) }
        #expect(latest?.context["error_code"] == "40401")
        #expect(latest?.message.contains(subject) == true)
        // Failures are never cached: a later registration is found.
        let id = try await client.register(subject: subject, schema: Self.order)
        #expect(try await client.latest(subject: subject).id == id)
    }

    @Test func invalidSchemaIsRejectedWith422() async throws {
        let client = try Self.client(errorKind: .sink)
        let error = await #expect(throws: DponeError.self) {
            try await client.register(subject: SchemaRegistryTestServer.uniqueName("bad"), schema: "{not json")
        }
        #expect(error?.context["error_code"] == "42201" && error?.kind == .sink)
        #expect(error?.hint?.contains("invalid") == true)
    }

    @Test func basicAuthFailureNeverShowsThePassword() async throws {
        try SchemaRegistryTestServer.require()
        let registry = try await SchemaRegistryTestServer.Private.start(user: "dpone:open-sesame")
        defer { registry.stop() }
        let authority = registry.url.replacing("http://", with: "")

        // Right credentials, in the URL or as parameters.
        let inURL = try SchemaRegistryClient(url: "http://dpone:open-sesame@\(authority)")
        let id = try await inURL.register(subject: "auth-value", schema: Self.order)
        let asParameters = try SchemaRegistryClient(url: registry.url, username: "dpone", password: "open-sesame")
        #expect(try await asParameters.schema(id: id).schema == Self.order)

        // No credentials: 401 with a hint to set them.
        let anonymous = try SchemaRegistryClient(url: registry.url)
        let missing = await #expect(throws: DponeError.self) { try await anonymous.schema(id: id) }
        #expect(missing?.context["http_status"] == "401")
        #expect(missing?.hint?.contains("requires credentials") == true)

        // Wrong password, given both ways: 401, and the password appears nowhere.
        for client in [
            try SchemaRegistryClient(url: "http://dpone:wrong-hunter2@\(authority)", maxRetries: 0),
            try SchemaRegistryClient(url: registry.url, username: "dpone", password: "wrong-hunter2"),
        ] {
            #expect(!client.url.contains("hunter2"))
            let error = await #expect(throws: DponeError.self) { try await client.schema(id: id) }
            let text = error.map { "\($0) \($0.context)" } ?? ""
            #expect(error?.context["http_status"] == "401" && error?.context["error_code"] == "401", "\(text)")
            #expect(!text.contains("hunter2"), "\(text)")
            #expect(error?.hint?.contains("user dpone") == true)
            #expect(error?.context["registry"] == registry.url)
        }
    }

    @Test func unreachableRegistryIsRetriedThenReported() async throws {
        try SchemaRegistryTestServer.require()
        let registry = try await SchemaRegistryTestServer.Private.start()
        let url = registry.url
        registry.stop()  // a port nobody listens on now
        let client = try SchemaRegistryClient(
            url: url.replacing("http://", with: "http://u:hunter2@"), timeoutSeconds: 2, errorKind: .source,
            maxRetries: 2)
        let error = await #expect(throws: DponeError.self) { try await client.schema(id: 1) }
        #expect(error?.kind == .source && error?.message.contains("unreachable") == true)
        #expect(error.map { !"\($0)".contains("hunter2") } == true)
        #expect(client.requestCount == 3)  // 1 + 2 retries for a GET
        // POSTs are not retried.
        _ = await #expect(throws: DponeError.self) { try await client.register(subject: "s", schema: Self.order) }
        #expect(client.requestCount == 4)
    }

    @Test func secondURLIsUsedWhenTheFirstIsDown() async throws {
        let live = try Self.client()
        let subject = SchemaRegistryTestServer.uniqueName("failover")
        let id = try await live.register(subject: subject, schema: Self.order)
        let dead = try await SchemaRegistryTestServer.Private.start()
        let deadURL = dead.url
        dead.stop()
        let client = try SchemaRegistryClient(url: "\(deadURL),\(SchemaRegistryTestServer.url)", timeoutSeconds: 5)
        #expect(try await client.schema(id: id).schema == Self.order)
    }

    @Test func subjectsWithOddCharactersAreEscaped() async throws {
        let client = try Self.client()
        let subject = SchemaRegistryTestServer.uniqueName("odd") + " with/slash?and%"
        let id = try await client.register(subject: subject, schema: Self.order)
        #expect(try await client.lookup(subject: subject, schema: Self.order) == id)
        #expect(try await client.subjects().contains(subject))
        #expect(try await client.deleteSubject(subject, permanent: true) == [1])
    }
}
