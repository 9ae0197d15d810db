package jobs

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var t0 = time.Date(2026, 3, 2, 8, 59, 30, 0, time.UTC) // a Monday

func TestParseScheduleAccepts(t *testing.T) {
	cases := []struct {
		spec string
		next time.Time // first tick after t0
	}{
		{"0 9 * * 1-5", time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)},
		{"*/5 * * * *", time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)},
		{"45 59 8 * * *", time.Date(2026, 3, 2, 8, 59, 45, 0, time.UTC)}, // 6 fields: seconds first
		{"@hourly", time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)},
		{"@daily", time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)},
		{"@every 90s", t0.Add(90 * time.Second)}, // counted from creation
		{"  @every 1s ", t0.Add(time.Second)},
		// 09:00 in Berlin (UTC+1 in March) is 08:00 UTC: the next is tomorrow's.
		{"CRON_TZ=Europe/Berlin 0 9 * * *", time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC)},
		{"TZ=UTC 0 9 * * *", time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)},
	}
	for _, c := range cases {
		s, err := ParseSchedule(c.spec, t0)
		if err != nil {
			t.Errorf("%q: %v", c.spec, err)
			continue
		}
		if got := s.Next(t0); !got.Equal(c.next) {
			t.Errorf("%q: next after %s = %s, want %s", c.spec, t0, got, c.next)
		}
	}
}

func TestParseScheduleRefuses(t *testing.T) {
	for _, spec := range []string{
		"", "   ", "* * *", "61 * * * *", "* * * * * * *", "@bogus", "@every", "@every 0s", "@every -5s",
		"@every 500ms", "@every soon", "0 0 30 2 *", "TZ=UTC", "CRON_TZ=Nowhere/Else 0 * * * *", "CRON_TZ=",
	} {
		_, err := ParseSchedule(spec, t0)
		var je *Error
		if !errors.As(err, &je) || je.Code != CodeInvalidSchedule {
			t.Errorf("%q: got %v, want invalid_schedule", spec, err)
		}
	}
}

func TestEveryIsAnchoredAtCreation(t *testing.T) {
	created := time.Date(2026, 1, 1, 12, 3, 27, 400e6, time.UTC)
	s, err := ParseSchedule("@every 10m", created)
	if err != nil {
		t.Fatal(err)
	}
	// Two replicas starting at different moments compute the same ticks.
	for _, from := range []time.Time{created, created.Add(3 * time.Minute), created.Add(7*time.Minute + 999*time.Millisecond)} {
		if got, want := s.Next(from), time.Date(2026, 1, 1, 12, 13, 27, 0, time.UTC); !got.Equal(want) {
			t.Errorf("next after %s = %s, want %s", from, got, want)
		}
	}
	if got, want := s.Next(time.Date(2026, 1, 1, 12, 13, 27, 0, time.UTC)), time.Date(2026, 1, 1, 12, 23, 27, 0, time.UTC); !got.Equal(want) {
		t.Errorf("next after a tick = %s, want %s", got, want)
	}
}

func TestDueTicks(t *testing.T) {
	s, err := ParseSchedule("*/5 * * * *", t0)
	if err != nil {
		t.Fatal(err)
	}
	at := func(h, m int) time.Time { return time.Date(2026, 3, 2, h, m, 0, 0, time.UTC) }
	// Ticks 09:00 … 09:30 fall in (08:59:30, 09:32].
	got := dueTicks(s, t0, at(9, 32), false, 100)
	if len(got) != 7 || !got[0].Equal(at(9, 0)) || !got[6].Equal(at(9, 30)) {
		t.Errorf("all ticks: %v", got)
	}
	if got := dueTicks(s, t0, at(9, 32), false, 3); len(got) != 3 || !got[0].Equal(at(9, 20)) {
		t.Errorf("burst bound keeps the most recent: %v", got)
	}
	if got := dueTicks(s, t0, at(9, 32), true, 100); len(got) != 1 || !got[0].Equal(at(9, 30)) {
		t.Errorf("latest only: %v", got)
	}
	if got := dueTicks(s, at(9, 30), at(9, 30), false, 100); len(got) != 0 {
		t.Errorf("the lower bound is exclusive: %v", got)
	}
	if got := dueTicks(s, at(9, 29), at(9, 30), false, 100); len(got) != 1 || !got[0].Equal(at(9, 30)) {
		t.Errorf("the upper bound is inclusive: %v", got)
	}
	every, err := ParseSchedule("@every 1s", t0)
	if err != nil {
		t.Fatal(err)
	}
	// A year of missed seconds costs a jump, not 31 million steps.
	now := t0.Add(365 * 24 * time.Hour).Add(300 * time.Millisecond)
	if got := dueTicks(every, t0, now, true, 10); len(got) != 1 || !got[0].Equal(now.Truncate(time.Second)) {
		t.Errorf("every, latest only: %v", got)
	}
	if got := dueTicks(every, now.Add(-3*time.Second), now, false, 10); len(got) != 3 {
		t.Errorf("every, 3 s: %v", got)
	}
}

func TestPreview(t *testing.T) {
	if got := Preview("short"); got != "short" {
		t.Errorf("short text changed: %q", got)
	}
	long := strings.Repeat("é", 600) // 2 bytes each
	got := Preview(long)
	if utf8.RuneCountInString(got) != MaxPreviewRunes || !utf8.ValidString(got) || len(got) != 1000 {
		t.Errorf("preview of 600 é: %d runes, %d bytes, valid %v", utf8.RuneCountInString(got), len(got), utf8.ValidString(got))
	}
	mixed := strings.Repeat("a", 499) + "😀😀"
	if got := Preview(mixed); got != strings.Repeat("a", 499)+"😀" {
		t.Errorf("4-byte rune at the boundary: %q", got[495:])
	}
	if got := Preview("ok\xff\xfe"); !utf8.ValidString(got) {
		t.Errorf("invalid UTF-8 kept: %q", got)
	}
	if got := Preview(strings.Repeat("x", 500)); len(got) != 500 {
		t.Errorf("exactly 500: %d", len(got))
	}
}

func TestConfigValidate(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	c.RunRecordTTL = time.Hour
	if err := c.Validate(); err == nil {
		t.Error("a run-record TTL shorter than catch-up + attempts × (timeout + lease) was accepted")
	}
}

func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"0 9 * * 1-5", "@every 1s", "CRON_TZ=Europe/Berlin 0 9 * * *", "TZ=", "*/0 * * * *", "@every 1h30m", "0 0 30 2 *"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := ParseSchedule(spec, t0)
		if err != nil {
			var je *Error
			if !errors.As(err, &je) || je.Code != CodeInvalidSchedule {
				t.Fatalf("%q: error without invalid_schedule: %v", spec, err)
			}
			return
		}
		next := s.Next(t0)
		if !next.After(t0) || next.Nanosecond() != 0 {
			t.Fatalf("%q: next %s is not a whole second after %s", spec, next, t0)
		}
	})
}
