import Yams

/// A YAML node together with where it sits: its key path and the position of the key that introduced it.
public struct NodeRef {
    let node: Node
    let path: ManifestPath
    /// The position of the mapping key this node is the value of (nil for the root and list items).
    let keyMark: Position?

    /// The node's own position, falling back to its key's, then to 1:1.
    var mark: Position { Position(node.mark) ?? keyMark ?? .start }

    /// Where "this mapping lacks a key" points: the key naming the mapping, else the mapping itself.
    var ownerMark: Position { keyMark ?? mark }

    /// Whether the node is a scalar (a plain value rather than a mapping or a list).
    public var isScalar: Bool {
        if case .scalar = node { return true }
        return false
    }

    /// The node at `path` below this one through mappings, without reporting anything (nil when
    /// absent or when a step is not a mapping).
    public func peek(_ path: [String]) -> NodeRef? {
        var ref = self
        for key in path {
            guard case .mapping(let map) = ref.node,
                let (k, value) = map.first(where: { $0.key.string == key })
            else { return nil }
            ref = NodeRef(node: value, path: ref.path.appending(key), keyMark: Position(k.mark))
        }
        return ref
    }
}
