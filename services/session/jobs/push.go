package jobs

import (
	"context"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchyard-hub/switchyard/pkg/dialect/push"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// CategoryJob is the UserNotification category of a finished run.
const CategoryJob = "job"

// PushID is the envelope id of a run's UserNotification: fixed per tick,
// like the chat notification's "job-<key>", so a repeat can be dropped.
func PushID(key string) string { return "job-" + key + "-push" }

// UserNotification is the /notification event of a finished run (push
// channel, NotificationType 2), for the job's owner: Title says which job
// and how it went, Message is the result preview, Details carry the
// chat notification's fields.
func UserNotification(n *syv1.JobNotification) *syv1.UserNotification {
	title := "Job " + n.GetJobName() + " finished"
	if !n.GetSuccess() {
		title = "Job " + n.GetJobName() + " failed"
	}
	details := map[string]any{
		"job_name": n.GetJobName(), "session_id": n.GetSessionId(), "success": n.GetSuccess(), "tick": n.GetTick(),
	}
	if code := n.GetError().GetCode(); code != "" {
		details["error_code"] = code
	}
	// Every value is a string or a bool: NewStruct cannot fail.
	d, _ := structpb.NewStruct(details)
	return &syv1.UserNotification{
		Scope: &syv1.PushScope{UserId: n.GetOwner()}, Category: CategoryJob,
		Title: title, Message: n.GetResultPreview(), Details: d,
	}
}

// pushNotification publishes a run's UserNotification on the push
// channels' subject (core NATS; the caller flushes).
func (s *Scheduler) pushNotification(ctx context.Context, key string, n *syv1.JobNotification) error {
	env, err := push.Wrap(PushID(key), UserNotification(n))
	if err != nil {
		return err
	}
	env.Ts, env.UserId = formatTime(s.now()), n.GetOwner()
	return s.bus.Send(ctx, push.Subject(push.KindUserNotification), env)
}
