package telemetry

import (
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Messaging operation types (OpenTelemetry semantic conventions,
// messaging.operation.type; "send" is the current name of what older
// conventions called "publish").
const (
	OpSend    = "send"
	OpReceive = "receive"
	OpProcess = "process"
)

// Messaging are the semantic-convention attributes of a span that sends,
// receives or processes one NATS message on subject: messaging.system=nats,
// messaging.destination.name, messaging.operation.type and
// messaging.operation.name (publish, receive, process).
func Messaging(op, subject string) trace.SpanStartOption {
	name := op
	if op == OpSend {
		name = "publish"
	}
	return trace.WithAttributes(
		attribute.String(string(semconv.MessagingSystemKey), "nats"),
		semconv.MessagingDestinationName(subject),
		semconv.MessagingOperationTypeKey.String(op),
		semconv.MessagingOperationName(name),
	)
}
