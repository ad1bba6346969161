import Flow
import Manifest
@testable import Pipeline
import Testing

/// How each table of `cdc.tables` finds its sink target and key.
@Suite struct CDCRoutesTests {
    func sink(_ type: EndpointType = .postgres, table: TableRef? = nil, topic: String? = nil, key: [String] = []) -> SinkConfig {
        var config = SinkConfig(type: type, table: table, topic: topic)
        config.strategy.mode = .cdcApply
        config.strategy.uniqueKey = key
        return config
    }

    @Test func targetsComeFromTheEntryTheTemplateOrTheSourceName() throws {
        let orders = CDCTableConfig(table: TableRef(schema: "sales", name: "orders"))
        let template = sink(table: TableRef(schema: "replica_{schema}", name: "{table}_copy"))
        #expect(try CDCRoutes.sinkConfig(for: orders, sink: template, identity: ["id"]).table == TableRef(schema: "replica_sales", name: "orders_copy"))
        #expect(try CDCRoutes.sinkConfig(for: orders, sink: sink(), identity: ["id"]).table == TableRef(name: "orders"))
        var own = orders
        own.sinkTable = TableRef(schema: "x", name: "y")
        #expect(try CDCRoutes.sinkConfig(for: own, sink: template, identity: ["id"]).table == TableRef(schema: "x", name: "y"))
        #expect(try CDCRoutes.sinkConfig(for: orders, sink: sink(.kafka, topic: "cdc.{schema}.{table}"), identity: ["id"]).topic == "cdc.sales.orders")
        var topic = orders
        topic.sinkTopic = "orders-events"
        #expect(try CDCRoutes.sinkConfig(for: topic, sink: sink(.kafka, topic: "cdc.{table}"), identity: ["id"]).topic == "orders-events")
    }

    @Test func theKeyIsTheEntrysTheStrategysOrTheTablesIdentity() throws {
        var orders = CDCTableConfig(table: TableRef(schema: "public", name: "orders"))
        #expect(try CDCRoutes.sinkConfig(for: orders, sink: sink(), identity: ["id"]).strategy.uniqueKey == ["id"])
        #expect(try CDCRoutes.sinkConfig(for: orders, sink: sink(key: ["k"]), identity: ["id"]).strategy.uniqueKey == ["k"])
        orders.uniqueKey = ["a", "b"]
        #expect(try CDCRoutes.sinkConfig(for: orders, sink: sink(key: ["k"]), identity: ["id"]).strategy.uniqueKey == ["a", "b"])
        orders.uniqueKey = nil
        #expect(throws: DponeError.self) { try CDCRoutes.sinkConfig(for: orders, sink: sink(), identity: nil) }
        do {
            _ = try CDCRoutes.sinkConfig(for: orders, sink: sink(), identity: nil)
        } catch let error as DponeError {
            #expect(error.message.contains("public.orders has no primary key or replica identity index"))
            #expect(error.hint?.contains("unique_key") == true)
        }
    }
}
