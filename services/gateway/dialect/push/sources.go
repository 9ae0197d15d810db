package push

import (
	"context"
	"encoding/json"
	"io"
	"net/http"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	amurg "github.com/switchyard-hub/switchyard/pkg/dialect/amurg"
	codec "github.com/switchyard-hub/switchyard/pkg/dialect/push"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
	"github.com/switchyard-hub/switchyard/services/gateway/rest"
)

// Publish sends one push event (a push.proto body) on its core subject:
// one NATS message per event, whatever the number of readers. It is best
// effort, as the channels are live only.
func Publish(nc *nats.Conn, body proto.Message) error { return publishID(nc, nuid.Next(), body) }

// publishID is Publish with the envelope id chosen by the caller.
func publishID(nc *nats.Conn, id string, body proto.Message) error {
	subject, data, err := codec.Marshal(id, body)
	if err != nil {
		return err
	}
	return nc.Publish(subject, data)
}

// Limits of POST /v1/notifications.
const (
	maxNotificationBody = 64 << 10
	maxTitleBytes       = 256
	maxMessageBytes     = 4096
)

// sources are the push events this gateway is the source of.
type sources struct {
	s *edge.Server
}

func registerSources(s *edge.Server) {
	src := &sources{s: s}
	s.AfterHTTP(src.appNotification)
	s.OnRuntimeStatus(src.runtimePresence)
	s.OnIngest(amurg.TypeUpdateProgress, src.updateProgress)
	admin := rest.Admin(s)
	for _, prefix := range rest.Prefixes {
		s.Handle("POST "+prefix+"/notifications", admin(src.postNotification))
	}
}

func (src *sources) publish(body proto.Message) {
	if err := Publish(src.s.Bus().NC, body); err != nil {
		src.s.Log().Warn("push event not published", "err", err)
	}
}

// appNotification is Type 4 after every non-GET REST call this gateway
// serves (any status): Operation is the route ("POST /v1/sessions"),
// EndpointAddress the path called, Origin the X-App-Origin header. A call
// with a client token is its user's event; any other call (admin token,
// no or unknown token) is seen by admins only.
func (src *sources) appNotification(r *http.Request, _ int) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return
	}
	scope := &syv1.PushScope{}
	if p, ok := src.s.Authenticate(r); ok {
		scope.UserId = p.User
	}
	op := r.Pattern
	if op == "" {
		op = r.Method + " " + r.URL.Path
	}
	src.publish(&syv1.AppNotification{Scope: scope, Operation: op, EndpointAddress: r.URL.Path,
		HttpMethod: r.Method, Origin: r.Header.Get("X-App-Origin")})
}

// runtimePresence is a Type 2 UserNotification for each runtime
// online/offline transition this pod announces (the one place that sees
// each once). Hub-wide: every reader may see runtime presence.
func (src *sources) runtimePresence(_ context.Context, rid string, online bool) {
	title, state := "Runtime offline", "offline"
	if online {
		title, state = "Runtime online", "online"
	}
	details, _ := structpb.NewStruct(map[string]any{"runtime_id": rid, "online": online})
	src.publish(&syv1.UserNotification{Scope: &syv1.PushScope{HubWide: true}, Category: "runtime",
		Title: title, Message: "Runtime " + rid + " is " + state, Details: details})
}

// updateProgress passes a runtime's agent.update_progress to
// /notification as Type 8 with the object it sent; it does not go on to
// the session service (it belongs to no session).
func (src *sources) updateProgress(_ context.Context, c *edge.Conn, env *syv1.Envelope) bool {
	data := env.GetAppUpdateProgress().GetData()
	src.publish(&syv1.AppUpdateProgress{Scope: &syv1.PushScope{HubWide: true}, Data: data})
	return false
}

// notificationRequest is the body of POST /v1/notifications.
type notificationRequest struct {
	Title    string `json:"title"`
	Message  string `json:"message"`
	Category string `json:"category"`
	UserID   string `json:"user_id"`
}

// postNotification is POST /v1/notifications (admin): a Type 2 message to
// one user's readers (user_id) or, without user_id, to every reader.
// 202 {"id"}: the event is published, live only.
func (src *sources) postNotification(w http.ResponseWriter, r *http.Request, _ string) {
	var req notificationRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, maxNotificationBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		rest.WriteError(w, http.StatusBadRequest, errcode.InvalidMessage, "body must be JSON {title?, message, category?, user_id?}: "+err.Error())
		return
	}
	switch {
	case req.Message == "":
		rest.WriteError(w, http.StatusBadRequest, errcode.InvalidMessage, "message is required")
		return
	case len(req.Message) > maxMessageBytes || len(req.Title) > maxTitleBytes || len(req.Category) > maxTitleBytes || len(req.UserID) > maxTitleBytes:
		rest.WriteError(w, http.StatusBadRequest, errcode.InvalidMessage, "title, category and user_id are limited to 256 bytes, message to 4096")
		return
	}
	if req.Category == "" {
		req.Category = "admin"
	}
	scope := &syv1.PushScope{UserId: req.UserID, HubWide: req.UserID == ""}
	id := nuid.Next()
	if err := publishID(src.s.Bus().NC, id, &syv1.UserNotification{Scope: scope, Category: req.Category, Title: req.Title, Message: req.Message}); err != nil {
		rest.WriteError(w, http.StatusServiceUnavailable, errcode.Unavailable, "notification not published: "+err.Error())
		return
	}
	rest.WriteJSON(w, http.StatusAccepted, map[string]string{"id": id})
}
