import Flow

/// A fixed-width storage type a `ColumnBuilder` accepts, so cast loops can be generic over it.
protocol ColumnAppendable {
    static func append(_ value: Self, to builder: inout ColumnBuilder)
}

extension Bool: ColumnAppendable {
    @inline(__always) static func append(_ v: Bool, to b: inout ColumnBuilder) { b.append(v) }
}
extension Int16: ColumnAppendable {
    @inline(__always) static func append(_ v: Int16, to b: inout ColumnBuilder) { b.append(v) }
}
extension Int32: ColumnAppendable {
    @inline(__always) static func append(_ v: Int32, to b: inout ColumnBuilder) { b.append(v) }
}
extension Int64: ColumnAppendable {
    @inline(__always) static func append(_ v: Int64, to b: inout ColumnBuilder) { b.append(v) }
}
extension Float: ColumnAppendable {
    @inline(__always) static func append(_ v: Float, to b: inout ColumnBuilder) { b.append(v) }
}
extension Double: ColumnAppendable {
    @inline(__always) static func append(_ v: Double, to b: inout ColumnBuilder) { b.append(v) }
}
extension Int128: ColumnAppendable {
    @inline(__always) static func append(_ v: Int128, to b: inout ColumnBuilder) { b.append(v) }
}

/// A uuid's 16 bytes, in order.
struct UUIDValue: ColumnAppendable {
    var bytes: (UInt64, UInt64) = (0, 0)

    @inline(__always) static func append(_ v: UUIDValue, to b: inout ColumnBuilder) {
        var bytes = v.bytes
        withUnsafeBytes(of: &bytes) { b.append(bytes: $0) }
    }
}
