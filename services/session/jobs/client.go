package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Client calls the jobs API of the session service over NATS (for the
// gateway's REST). Failed calls return *Error (HTTPStatus gives the REST
// status); no session replica answering is unavailable.
type Client struct {
	bus *bus.Bus
}

// NewClient uses b's connection. ctx deadlines bound every call.
func NewClient(b *bus.Bus) *Client { return &Client{bus: b} }

// Create stores a new job and returns it as stored (created set). job.Owner
// must be set (the gateway sets it: the REST body's owner, else the admin
// token's name).
func (c *Client) Create(ctx context.Context, job *syv1.Job) (*syv1.Job, error) {
	r, err := c.call(ctx, bus.SubjJobsCreate(), TypeCreate, &syv1.JobRequest{Job: job})
	if err != nil {
		return nil, err
	}
	return r.GetJob(), nil
}

// List returns the jobs of owner by name; an empty owner lists every job.
func (c *Client) List(ctx context.Context, owner string) ([]*syv1.Job, error) {
	r, err := c.call(ctx, bus.SubjJobsList(), TypeList, &syv1.JobRequest{Owner: owner})
	if err != nil {
		return nil, err
	}
	return r.GetJobs(), nil
}

// Delete removes a job and returns what it was. Runs already started go on.
func (c *Client) Delete(ctx context.Context, name string) (*syv1.Job, error) {
	r, err := c.call(ctx, bus.SubjJobsDelete(), TypeDelete, &syv1.JobRequest{Name: name})
	if err != nil {
		return nil, err
	}
	return r.GetJob(), nil
}

func (c *Client) call(ctx context.Context, subject, typ string, req *syv1.JobRequest) (*syv1.JobReply, error) {
	env := &syv1.Envelope{Type: typ, Body: &syv1.Envelope_JobRequest{JobRequest: req}}
	resp, err := c.bus.Request(ctx, subject, env)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
			return nil, &Error{Code: errcode.Unavailable, Message: "no session service answered: " + err.Error()}
		}
		return nil, &Error{Code: errcode.Unavailable, Message: err.Error()}
	}
	r := resp.GetJobReply()
	if r == nil {
		return nil, fmt.Errorf("jobs: reply to %s has no job_reply body (type %q)", typ, resp.GetType())
	}
	if e := r.GetError(); e != nil {
		return nil, &Error{Code: e.GetCode(), Message: e.GetMessage()}
	}
	return r, nil
}
