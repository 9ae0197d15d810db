package routing

import syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"

// Protocol revisions a runtime may speak (pkg/dialect/amurg revision.go;
// the relay sees only the name the codec put in RuntimeHello.revision).
const (
	revisionEndpoints = "endpoints" // document 003: RuntimeHello.revision ""
	revisionAgents    = "agents"
)

// revisionOf names the revision of a hello.
func revisionOf(h *syv1.RuntimeHello) string {
	if r := h.GetRevision(); r != "" {
		return r
	}
	return revisionEndpoints
}

// helloWarnings are what an accepted hello gets in hello.ack "warnings"
// (and the relay's log).
func helloWarnings(h *syv1.RuntimeHello) []string {
	if len(h.GetEndpoints()) > 0 {
		return nil
	}
	list := map[string]string{revisionEndpoints: `"endpoints"`, revisionAgents: `"agents"`}[revisionOf(h)]
	return []string{"no endpoint registered: the hello's " + list + " list is empty or missing " +
		`(the hub reads "endpoints", or "agents" in the later revision), so no session can be created on this runtime`}
}
