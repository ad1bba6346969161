import Flow

@testable import Formats

/// Decodes `text` with `decoder`, feeding it in chunks of `chunkSize` bytes (nil: one chunk).
func decodeAll<D: RecordDecoder>(_ decoder: D, _ text: String, chunkSize: Int? = nil) throws -> Batch {
    var decoder = decoder
    var builder = BatchBuilder(schema: decoder.schema)
    let bytes = Array(text.utf8)
    let size = max(1, chunkSize ?? bytes.count)
    try bytes.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let end = min(raw.count, offset + size)
            try decoder.decode(chunk: UnsafeRawBufferPointer(rebasing: raw[offset..<end]), into: &builder)
            offset = end
        }
    }
    try decoder.finish(into: &builder)
    return builder.finish()
}

func rows(_ batch: Batch) -> [[Value]] { (0..<batch.rowCount).map { batch.row($0) } }

func csv(_ schema: Schema, _ text: String, options: CSVOptions = CSVOptions(), chunkSize: Int? = nil) throws -> Batch {
    try decodeAll(CSVDecoder(schema: schema, options: options, sourceName: "t.csv"), text, chunkSize: chunkSize)
}
