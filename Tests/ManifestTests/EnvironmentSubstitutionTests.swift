import FilesConnector
import Formats
import KafkaConnector
import Manifest
import Pipeline
import PostgresConnector
import Testing

@Suite struct EnvironmentSubstitutionTests {
    let env = ["A": "1", "EMPTY": "", "DIR": "/srv/data"]

    func substitute(_ text: String) -> Result<String, VariableSubstitution.Failure> {
        VariableSubstitution.substitute(text, environment: env)
    }

    @Test func replacesReferences() {
        #expect(substitute("${DIR}/x-${A}.csv") == .success("/srv/data/x-1.csv"))
        #expect(substitute("${EMPTY}") == .success(""))
        #expect(substitute("no refs, $HOME stays") == .success("no refs, $HOME stays"))
    }

    @Test func escapesAndDefaults() {
        #expect(substitute("$${A} and ${A}") == .success("${A} and 1"))
        #expect(substitute("${MISSING:-fallback}") == .success("fallback"))
        #expect(substitute("${EMPTY:-fallback}") == .success("fallback"))
        #expect(substitute("${A:-fallback}") == .success("1"))
    }

    @Test func reportsProblems() {
        #expect(substitute("${MISSING}") == .failure(.unset(name: "MISSING")))
        #expect(substitute("x ${A") == .failure(.unterminated))
        #expect(substitute("${1A}") == .failure(.invalidName("1A")))
    }

    @Test func substitutionAppliesToEveryScalarAndRetypesPlainOnes() throws {
        let doc = try ManifestLoader.parse(
            yaml: """
                name: ${NAME}
                source:
                  type: ${KIND}
                  path: "${DIR}/a.csv"
                  options:
                    batch_rows: ${ROWS}
                    header: ${HEADER}
                    null_token: ${EMPTY}
                sink: {type: files, path: out.csv}
                """,
            path: "m.yml",
            environment: ["NAME": "n1", "KIND": "files", "DIR": "/d", "ROWS": "7", "HEADER": "false", "EMPTY": ""])
        #expect(doc.name == "n1")
        #expect(doc.source.path == "/d/a.csv")
        #expect(doc.source.options.batchRows == 7)
        #expect(doc.source.options.file?.header == false)
        #expect(doc.source.options.file?.nullToken == "")
    }

    @Test func aQuotedReferenceStaysAString() {
        #expect(throws: ManifestErrors.self) {
            try ManifestLoader.parse(
                yaml: """
                    name: n
                    source:
                      type: files
                      path: a.csv
                      options:
                        batch_rows: "${ROWS}"
                    sink: {type: files, path: out.csv}
                    """, path: "m.yml", environment: ["ROWS": "7"])
        }
    }

    @Test func anUnsetVariableIsReportedAtTheValue() {
        do {
            _ = try ManifestLoader.parse(
                yaml: "name: n\nsource:\n  type: files\n  path: ${NOPE}/a.csv\nsink: {type: files, path: o.csv}\n",
                path: "m.yml", environment: [:])
            Issue.record("expected an error")
        } catch {
            #expect(error.errors.count == 1)
            #expect(error.first?.headline == "m.yml:4:9: error: environment variable 'NOPE' is not set at 'source.path'")
        }
    }
}
