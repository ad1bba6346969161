import Testing

@testable import Flow

/// The error a failed graph reports is the cause, whichever task failed first: seen in CI, a
/// sink refused a value and the source's next barrier ("cannot start a checkpoint after a
/// failure") finished first and was reported instead.
@Suite struct GraphFailureCauseTests {
    @Test func theCauseWinsOverItsConsequences() {
        let cause = DponeError(.sink, "value 0.000000000000000000001 does not fit Decimal(76, 20)")
        let consequence = DponeError(.checkpoint, "cannot start a checkpoint after a failure", context: [DponeError.consequenceKey: "true"])
        let closed = DponeError(.internal, "send on a finished channel 'x'", context: [DponeError.consequenceKey: "true"])
        let chosen = GraphRunner.primaryError(GraphFailures(errors: [consequence, CancellationError(), closed, cause]))
        #expect((chosen as? DponeError) == cause)
        // Only consequences: the first is reported.
        #expect((GraphRunner.primaryError(GraphFailures(errors: [consequence, closed])) as? DponeError) == consequence)
        // The marker stays out of what a user reads.
        #expect("\(consequence)" == "cannot start a checkpoint after a failure")
    }
}
