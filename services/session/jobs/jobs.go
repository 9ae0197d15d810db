// Package jobs is the scheduled-jobs engine of the session service: jobs
// (a cron schedule, an endpoint and a prompt) kept in the NATS KV bucket
// sy_jobs and managed over NATS request/reply (Client, served by every
// Scheduler), and a Scheduler run by every session replica that starts each
// cron tick's turn exactly once across all replicas.
//
// Once-only rule (docs/architecture.md, "Scheduled jobs"): every replica
// computes every job's ticks and races to KV-create the run record
// <job>.<tick unix> in sy_job_runs; the winner holds a lease on the record,
// renewed by compare-and-set on its revision while the turn runs. A replica
// that finds a record whose lease has expired (its holder died or stopped)
// takes it over with a CAS on the revision it read and runs the tick again
// (the turn restarts in a new session), at most MaxAttempts times. Results
// and the notification are written and published only by the lease holder,
// so a replica that lost its lease never reports.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/switchyard-hub/switchyard/pkg/errcode"
)

// Runner runs one turn for a job: the session service creates a session on
// the endpoint as owner, sends prompt as a user.message and waits for
// turn.completed, collecting the agent.output text. ctx carries the run
// timeout and is cancelled when the replica loses the run's lease or stops.
// An error may carry a code (see Coded); a timeout of ctx is reported as
// runtime_timeout.
type Runner interface {
	RunTurn(ctx context.Context, endpointID, owner, prompt string) (sessionID, finalText string, err error)
}

// RunnerFunc adapts a function to Runner.
type RunnerFunc func(ctx context.Context, endpointID, owner, prompt string) (string, string, error)

// RunTurn calls f.
func (f RunnerFunc) RunTurn(ctx context.Context, endpointID, owner, prompt string) (string, string, error) {
	return f(ctx, endpointID, owner, prompt)
}

// Coded is an error with a machine-readable code (pkg/errcode or the codes
// below). Runner errors that implement it keep their code in the
// notification; others are runtime_error.
type Coded interface {
	error
	Code() string
}

// Error codes of the jobs API (docs/errors.md, "Scheduled jobs"), next to
// pkg/errcode's invalid_message and unavailable.
const (
	CodeInvalidSchedule = "invalid_schedule"  // the cron expression does not parse or never fires
	CodeJobExists       = "job_exists"        // a job of that name exists
	CodeJobNotFound     = "job_not_found"     // no job of that name
	CodeRunAbandoned    = "job_run_abandoned" // MaxAttempts replicas died or stopped while running the tick
)

// Envelope types of the jobs subjects (internal kinds: never on a socket,
// except job.notification, which gateways render as the chat dialect's
// {"type":"notification"} frame).
const (
	TypeCreate       = "job.create"
	TypeList         = "job.list"
	TypeDelete       = "job.delete"
	TypeReply        = "job.reply"
	TypeNotification = "job.notification"
)

// Limits on a job's fields.
const (
	MaxPromptBytes  = 64 << 10
	MaxPreviewRunes = 500
	maxIDBytes      = 256
)

// Error is a failed jobs request, as the Client returns it.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return "jobs: " + e.Code + ": " + e.Message }

// HTTPStatus is the status a gateway answers a failed REST call with.
func (e *Error) HTTPStatus() int { return HTTPStatus(e.Code) }

// HTTPStatus maps a jobs error code to an HTTP status.
func HTTPStatus(code string) int {
	switch code {
	case CodeInvalidSchedule, errcode.InvalidMessage, errcode.InvalidJSON:
		return http.StatusBadRequest
	case CodeJobExists:
		return http.StatusConflict
	case CodeJobNotFound:
		return http.StatusNotFound
	case errcode.Unavailable:
		return http.StatusServiceUnavailable
	case errcode.AuthFailed:
		return http.StatusUnauthorized
	case errcode.Forbidden:
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// codeOf is the code a failed run is reported with.
func codeOf(err error) string {
	var c Coded
	switch {
	case errors.As(err, &c) && c.Code() != "":
		return c.Code()
	case errors.Is(err, context.DeadlineExceeded):
		return errcode.RuntimeTimeout
	}
	return errcode.RuntimeError
}

// Config of the scheduler; the session service embeds it in its Config.
type Config struct {
	RunTimeout   time.Duration `flag:"job-run-timeout" env:"SY_JOB_RUN_TIMEOUT" default:"10m" usage:"a scheduled run whose turn has not completed after this fails (runtime_timeout)"`
	Lease        time.Duration `flag:"job-lease" env:"SY_JOB_LEASE" default:"30s" usage:"a replica running a scheduled tick renews its claim every lease/3; a claim not renewed for this long is taken over by another replica"`
	CatchUp      time.Duration `flag:"job-catch-up" env:"SY_JOB_CATCH_UP" default:"1h" usage:"after every replica was down, the most recent missed tick of each job runs once if it is at most this old (0: missed ticks are skipped)"`
	MaxAttempts  int           `flag:"job-max-attempts" env:"SY_JOB_MAX_ATTEMPTS" default:"3" usage:"how many replicas may start one tick (first claim plus takeovers) before it fails as job_run_abandoned"`
	RunRecordTTL time.Duration `flag:"job-run-record-ttl" env:"SY_JOB_RUN_RECORD_TTL" default:"24h" usage:"how long run records (sy_job_runs) are kept; must exceed catch-up + max-attempts × (run-timeout + lease)"`
}

// Validate checks the settings against each other.
func (c *Config) Validate() error {
	var errs []error
	if c.RunTimeout <= 0 {
		errs = append(errs, errors.New("job-run-timeout must be positive"))
	}
	if c.Lease < 3*time.Millisecond {
		errs = append(errs, errors.New("job-lease must be positive"))
	}
	if c.CatchUp < 0 {
		errs = append(errs, errors.New("job-catch-up must not be negative"))
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, errors.New("job-max-attempts must be at least 1"))
	}
	if need := c.CatchUp + time.Duration(c.MaxAttempts)*(c.RunTimeout+c.Lease); c.RunRecordTTL <= need {
		errs = append(errs, fmt.Errorf("job-run-record-ttl (%s) must exceed catch-up + max-attempts × (run-timeout + lease) = %s", c.RunRecordTTL, need))
	}
	return errors.Join(errs...)
}

// DefaultConfig is Config with the documented defaults.
func DefaultConfig() Config {
	return Config{RunTimeout: 10 * time.Minute, Lease: 30 * time.Second, CatchUp: time.Hour, MaxAttempts: 3, RunRecordTTL: 24 * time.Hour}
}

// RunInfo names the tick a RunTurn call belongs to (RunFromContext).
type RunInfo struct {
	Job  string
	Tick time.Time
	// Attempt is 1 for the first claim, +1 for each takeover.
	Attempt int
	// Key is the run record's key, <job>.<tick unix>; with Attempt it
	// makes an idempotency key for the session the turn creates.
	Key string
}

type runInfoKey struct{}

// RunFromContext returns the tick of a Runner's ctx.
func RunFromContext(ctx context.Context) (RunInfo, bool) {
	ri, ok := ctx.Value(runInfoKey{}).(RunInfo)
	return ri, ok
}
