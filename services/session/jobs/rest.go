package jobs

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/switchyard-hub/switchyard/pkg/errcode"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// View is the REST JSON of a job (docs/protocol-notes.md, "Scheduled jobs").
type View struct {
	Name       string `json:"name"`
	Schedule   string `json:"schedule"`
	EndpointID string `json:"endpoint_id"`
	Prompt     string `json:"prompt"`
	Owner      string `json:"owner"`
	Created    string `json:"created"`
	CreatedBy  string `json:"created_by,omitempty"`
}

// ViewOf renders a job for REST.
func ViewOf(j *syv1.Job) View {
	return View{Name: j.GetName(), Schedule: j.GetSchedule(), EndpointID: j.GetEndpointId(), Prompt: j.GetPrompt(),
		Owner: j.GetOwner(), Created: j.GetCreated(), CreatedBy: j.GetCreatedBy()}
}

// createBody is POST /v1/jobs.
type createBody struct {
	Name       *string `json:"name"`
	Schedule   *string `json:"schedule"`
	EndpointID *string `json:"endpoint_id"`
	Prompt     *string `json:"prompt"`
	Owner      *string `json:"owner"`
}

// maxBodyBytes bounds a POST /v1/jobs body.
const maxBodyBytes = MaxPromptBytes + 16<<10

// DecodeCreate reads a POST /v1/jobs body into a Job. principal (the admin
// token's name) is the owner when the body names none. Wrong JSON is an
// *Error with code invalid_json or invalid_message.
func DecodeCreate(r io.Reader, principal string) (*syv1.Job, error) {
	var b createBody
	dec := json.NewDecoder(io.LimitReader(r, maxBodyBytes))
	if err := dec.Decode(&b); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, errorf(errcode.InvalidMessage, "field %s must be a %s", typeErr.Field, typeErr.Type)
		}
		return nil, errorf(errcode.InvalidJSON, "body is not a JSON object: %v", err)
	}
	for field, v := range map[string]*string{"name": b.Name, "schedule": b.Schedule, "endpoint_id": b.EndpointID, "prompt": b.Prompt} {
		if v == nil {
			return nil, errorf(errcode.InvalidMessage, "%s is required", field)
		}
	}
	j := &syv1.Job{Name: *b.Name, Schedule: *b.Schedule, EndpointId: *b.EndpointID, Prompt: *b.Prompt, Owner: principal, CreatedBy: principal}
	if b.Owner != nil && strings.TrimSpace(*b.Owner) != "" {
		j.Owner = *b.Owner
	}
	return j, nil
}

// REST serves the three job calls for a gateway. Each handler has the
// gateway's restHandler shape (w, r, principal) and must be wrapped in the
// gateway's admin-token check. Errors are {"code","message"} like every
// other REST error.
type REST struct {
	Client *Client
}

// Create serves POST /v1/jobs: 201 and the job.
func (h REST) Create(w http.ResponseWriter, r *http.Request, principal string) {
	j, err := DecodeCreate(r.Body, principal)
	if err == nil {
		j, err = h.Client.Create(r.Context(), j)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, ViewOf(j))
}

// List serves GET /v1/jobs (?owner= filters): 200 {"jobs":[…]}.
func (h REST) List(w http.ResponseWriter, r *http.Request, _ string) {
	list, err := h.Client.List(r.Context(), r.URL.Query().Get("owner"))
	if err != nil {
		writeError(w, err)
		return
	}
	views := make([]View, 0, len(list))
	for _, j := range list {
		views = append(views, ViewOf(j))
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": views})
}

// Delete serves DELETE /v1/jobs/{name}: 204.
func (h REST) Delete(w http.ResponseWriter, r *http.Request, _ string) {
	if _, err := h.Client.Delete(r.Context(), r.PathValue("name")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	var je *Error
	if !errors.As(err, &je) {
		je = &Error{Code: errcode.Internal, Message: err.Error()}
	}
	writeJSON(w, je.HTTPStatus(), map[string]string{"code": je.Code, "message": je.Message})
}
