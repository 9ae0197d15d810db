package jobs

import (
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	// Schedules may name a zone (CRON_TZ=Europe/Berlin ...): the zone
	// database is compiled in, so a scratch image needs no /usr/share/zoneinfo.
	_ "time/tzdata"
)

// parser accepts the standard 5 fields, an optional leading seconds field
// (6 fields) and descriptors (@yearly … @hourly, @every <duration>).
var parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Schedule is a parsed job schedule. Every replica computes the same ticks
// from the same job record: cron expressions are evaluated in UTC unless
// they name a zone, and @every intervals count from the job's creation
// time (truncated to the second), not from when a replica started.
type Schedule struct {
	spec   string
	cron   cron.Schedule
	every  time.Duration
	anchor time.Time
}

// ParseSchedule parses spec for a job created at created.
func ParseSchedule(spec string, created time.Time) (s *Schedule, err error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errorf(CodeInvalidSchedule, "schedule is empty")
	}
	full := spec
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		if !strings.Contains(spec, " ") {
			return nil, errorf(CodeInvalidSchedule, "schedule %q: a zone must be followed by an expression", spec)
		}
	} else {
		full = "CRON_TZ=UTC " + spec
	}
	defer func() {
		// The parser is third-party code fed user input: a panic in it is
		// an invalid schedule, not a crashed replica.
		if r := recover(); r != nil {
			s, err = nil, errorf(CodeInvalidSchedule, "schedule %q does not parse", spec)
		}
	}()
	cs, perr := parser.Parse(full)
	if perr != nil {
		return nil, errorf(CodeInvalidSchedule, "schedule %q: %v", spec, perr)
	}
	s = &Schedule{spec: spec, cron: cs, anchor: created.UTC().Truncate(time.Second)}
	if cd, ok := cs.(cron.ConstantDelaySchedule); ok {
		// The parser rounds anything below 1s up to 1s; refuse it instead.
		expr := full[strings.Index(full, " ")+1:]
		d, derr := time.ParseDuration(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(expr), "@every")))
		if derr != nil || d < time.Second {
			return nil, errorf(CodeInvalidSchedule, "schedule %q: @every needs an interval of at least 1s", spec)
		}
		s.every = cd.Delay
	}
	if s.Next(created).IsZero() {
		return nil, errorf(CodeInvalidSchedule, "schedule %q never fires", spec)
	}
	return s, nil
}

// String is the schedule as written.
func (s *Schedule) String() string { return s.spec }

// Next is the first tick strictly after t (zero: none within five years).
// Ticks are whole seconds.
func (s *Schedule) Next(t time.Time) time.Time {
	if s.every > 0 {
		if t.Before(s.anchor) {
			return s.anchor.Add(s.every)
		}
		k := t.Sub(s.anchor)/s.every + 1
		return s.anchor.Add(k * s.every)
	}
	return s.cron.Next(t).UTC()
}

// dueTicks returns the ticks t with after < t <= now, oldest first. With
// latestOnly only the most recent is returned; otherwise at most max, the
// most recent ones.
func dueTicks(s *Schedule, after, now time.Time, latestOnly bool, max int) []time.Time {
	if latestOnly {
		max = 1
	}
	if s.every > 0 && !now.Before(s.anchor.Add(s.every)) {
		// Jump close to now instead of walking every interval.
		last := s.anchor.Add(now.Sub(s.anchor) / s.every * s.every)
		if start := last.Add(-time.Duration(max) * s.every); start.After(after) {
			after = start
		}
	}
	var out []time.Time
	for t := s.Next(after); !t.IsZero() && !t.After(now); t = s.Next(t) {
		out = append(out, t)
		if len(out) > max {
			out = out[1:]
		}
	}
	return out
}
