package kind

// EndpointRelease: gateway (admin REST DELETE /v1/endpoints/{id}/owner) →
// relay, forget which runtime owns an endpoint so that the next runtime
// to register it takes it over. The relay's answer has the same kind
// (endpoint_id set, runtime_id the former owner) or is an Error.
const EndpointRelease = "endpoint.release"
