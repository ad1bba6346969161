import Yams

/// A YAML node together with where it sits: its key path and the position of the key that introduced it.
struct NodeRef {
    let node: Node
    let path: ManifestPath
    /// The position of the mapping key this node is the value of (nil for the root and list items).
    let keyMark: Position?

    /// The node's own position, falling back to its key's, then to 1:1.
    var mark: Position { Position(node.mark) ?? keyMark ?? .start }

    /// Where "this mapping lacks a key" points: the key naming the mapping, else the mapping itself.
    var ownerMark: Position { keyMark ?? mark }
}
