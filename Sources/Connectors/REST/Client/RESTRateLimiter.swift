/// The proactive rate limit of one source, shared by its connections: a token bucket
/// (`rate_limit: {requests, per}`) and the server's own `RateLimit-Remaining` / `RateLimit-Reset`
/// (or `X-RateLimit-*`) headers, which pause every request until the window resets.
actor RESTRateLimiter {
    private let clock: any RESTClock
    private let capacity: Double
    private let refillPerSecond: Double
    private var tokens: Double
    private var last: Double
    /// No request starts before this (the server said its window is spent).
    private var pausedUntil: Double = 0
    private(set) var waits: [Double] = []

    init(requests: Int?, per: Double, clock: any RESTClock) {
        self.clock = clock
        capacity = Double(requests ?? 0)
        refillPerSecond = requests.map { Double($0) / per } ?? 0
        tokens = capacity
        last = clock.now()
    }

    /// Waits until a request may start.
    func acquire() async throws {
        while true {
            let now = clock.now()
            if pausedUntil > now {
                let wait = pausedUntil - now
                waits.append(wait)
                try await clock.sleep(seconds: wait)
                continue
            }
            guard refillPerSecond > 0 else { return }
            tokens = min(capacity, tokens + (now - last) * refillPerSecond)
            last = now
            // A hair of tolerance: wall seconds (~1.8e9) carry ~2e-7 of rounding per reading.
            if tokens >= 1 - 1e-6 {
                tokens = max(0, tokens - 1)
                return
            }
            let wait = max(0.001, (1 - tokens) / refillPerSecond)
            waits.append(wait)
            try await clock.sleep(seconds: wait)
        }
    }

    /// Reads a response's rate-limit headers: with nothing remaining, requests pause until the reset.
    func observe(_ header: (String) -> String?) {
        let remaining = header("ratelimit-remaining") ?? header("x-ratelimit-remaining")
        guard let remaining, let left = Double(remaining.split(separator: ",").first.map(String.init) ?? remaining), left <= 0
        else { return }
        let resetText = header("ratelimit-reset") ?? header("x-ratelimit-reset")
        guard let resetText, let reset = Double(resetText.split(separator: ",").first.map(String.init) ?? resetText) else { return }
        let now = clock.now()
        // The IETF draft sends seconds until the reset; many APIs (GitHub) send an epoch time.
        let until = reset > 1_000_000_000 ? reset : now + reset
        pausedUntil = max(pausedUntil, min(until, now + 3600))
    }
}
