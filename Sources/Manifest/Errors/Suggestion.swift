/// Finds the valid spelling a user most likely meant.
public enum Suggestion {
    /// The candidate nearest to `input`: an optimal-string-alignment (Damerau) distance of at most 2
    /// (and smaller than the candidate's length), or one being a prefix of the other. Ties go to the
    /// smaller distance, then to the earlier candidate. Comparison ignores ASCII case.
    static func nearest(to input: String, in candidates: [String]) -> String? {
        let needle = input.lowercased()
        guard !needle.isEmpty else { return nil }
        var best: (candidate: String, score: Int)?
        for candidate in candidates {
            let c = candidate.lowercased()
            var score = distance(needle, c)
            if score > 2 || score >= c.count {
                guard needle.count >= 2, c.hasPrefix(needle) || needle.hasPrefix(c) else { continue }
                score = 3
            }
            if best == nil || score < best!.score { best = (candidate, score) }
        }
        return best?.candidate
    }

    /// Optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[a.count][b.count]
    }

    /// `did you mean 'x'?` or nil.
    public static func hint(for input: String, in candidates: [String]) -> String? {
        nearest(to: input, in: candidates).map { "did you mean '\($0)'?" }
    }
}
