/// A key path into the manifest, rendered `sink.strategy.mode` or `transforms[1].columns`.
struct ManifestPath: Sendable, Hashable, CustomStringConvertible {
    enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    var components: [Component] = []

    static let root = ManifestPath()

    func appending(_ key: String) -> ManifestPath {
        ManifestPath(components: components + [.key(key)])
    }

    func appending(index: Int) -> ManifestPath {
        ManifestPath(components: components + [.index(index)])
    }

    var description: String {
        var text = ""
        for c in components {
            switch c {
            case .key(let k): text += text.isEmpty ? k : "." + k
            case .index(let i): text += "[\(i)]"
            }
        }
        return text
    }
}
