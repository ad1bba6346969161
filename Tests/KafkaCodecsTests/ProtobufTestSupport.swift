import Flow
import KafkaCodecs

/// Shared schema text and helpers of the Protobuf tests.
enum ProtoFixtures {
    static let shop = """
        // Orders as a registry returns them.
        syntax = "proto3";
        package shop;

        import "google/protobuf/timestamp.proto";
        option java_package = "com.example.shop";

        /* The first top-level message: scalars. */
        message Order {
          int32 id = 1;
          string name = 2;
          sint32 delta = 3;
          fixed32 code = 4;
          double price = 5;
          float ratio = 6;
          google.protobuf.Timestamp created = 7;
          optional int64 qty = 8;
          uint64 big = 9;
          bool paid = 10;
          Status status = 11;
          bytes blob = 12;
          uint32 u32 = 13;
          sint64 s64 = 14;
          sfixed64 sf64 = 15;
          reserved 20 to 25, 30;
          reserved "legacy";
          enum Status {
            option allow_alias = true;
            UNKNOWN = 0;
            PAID = 1;
            SETTLED = 1;
            SHIPPED = 2;
          }
        }

        message Other {
          message Inner { string x = 1; Other.Item.Kind kind = 2; }
          repeated int32 nums = 1 [packed = true];
          repeated Item items = 2;
          map<string, int32> counts = 3;
          oneof choice {
            string text = 4;
            Item item = 5;
            int32 number = 6;
          }
          Inner inner = 7;
          message Item {
            string sku = 1;
            double price = 2;
            repeated string tags = 3;
            int64 big = 4;
            bytes raw = 5;
            enum Kind { NONE = 0; BOOK = 1; }
            Kind kind = 6;
            google.protobuf.Timestamp at = 7;
          }
          map<int64, Item> by_id = 8;
          repeated .shop.Order.Status statuses = 9;
        }
        """

    static func file() throws -> ProtoFile { try ProtoFile(parsing: shop) }

    /// Decodes one payload into one row.
    static func row(_ decoder: ProtobufDecoder, _ bytes: [UInt8]) throws -> [Value] {
        var columns = decoder.schema.fields.map { ColumnBuilder(type: $0.type) }
        try bytes.withUnsafeBytes { try decoder.decode($0, into: &columns) }
        let batch = Batch(schema: decoder.schema, columns: columns.indices.map { columns[$0].finish() })
        return batch.row(0)
    }

    /// The error decoding `bytes` throws, or nil when it decodes.
    static func error(_ decoder: ProtobufDecoder, _ bytes: [UInt8]) -> CodecError? {
        var columns = decoder.schema.fields.map { ColumnBuilder(type: $0.type) }
        do {
            try bytes.withUnsafeBytes { try decoder.decode($0, into: &columns) }
            return nil
        } catch let e as CodecError {
            return e
        } catch {
            return CodecError("not a CodecError: \(error)")
        }
    }
}

/// A minimal wire writer for building test payloads, written apart from the codec's own.
struct Wire {
    var bytes: [UInt8] = []

    static func varint(_ v: UInt64) -> [UInt8] {
        var v = v
        var out: [UInt8] = []
        while v >= 128 {
            out.append(UInt8(v & 127) | 128)
            v >>= 7
        }
        out.append(UInt8(v))
        return out
    }

    mutating func varint(_ field: Int, _ v: UInt64) {
        bytes += Wire.varint(UInt64(field << 3)) + Wire.varint(v)
    }

    mutating func bytes(_ field: Int, _ body: [UInt8]) {
        bytes += Wire.varint(UInt64(field << 3 | 2)) + Wire.varint(UInt64(body.count)) + body
    }

    mutating func string(_ field: Int, _ s: String) { bytes(field, Array(s.utf8)) }

    mutating func double(_ field: Int, _ d: Double) {
        bytes += Wire.varint(UInt64(field << 3 | 1))
        for k in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: d.bitPattern >> (8 * UInt64(k)))) }
    }
}

/// A deterministic generator so a failing fuzz case can be replayed.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
