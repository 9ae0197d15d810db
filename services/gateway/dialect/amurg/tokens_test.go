package amurg

import (
	"testing"
	"time"
)

func TestRefreshDelay(t *testing.T) {
	cases := []struct{ remaining, before, want time.Duration }{
		{24 * time.Hour, time.Hour, 23 * time.Hour},
		{3 * time.Second, time.Second, 2 * time.Second},
		{time.Hour, time.Hour, 48 * time.Minute}, // not more than before left: 80%
		{10 * time.Second, time.Minute, 8 * time.Second},
		{0, time.Hour, 0},
		{-time.Second, time.Hour, 0},
	}
	for _, c := range cases {
		if got := refreshDelay(c.remaining, c.before); got != c.want {
			t.Errorf("refreshDelay(%s, %s) = %s, want %s", c.remaining, c.before, got, c.want)
		}
	}
}
