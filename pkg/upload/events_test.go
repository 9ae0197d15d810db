package upload

import (
	"testing"
	"time"

	"github.com/switchyard-hub/switchyard/pkg/testenv"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

func TestEventsThrottle(t *testing.T) {
	n := testenv.NATS(t)
	b := testenv.Bus(t, n.URL(), "events")
	e := NewEvents(b.NC, 0)
	clock := time.Unix(1000, 0)
	e.now = func() time.Time { return clock }
	var sent []int64
	for i := 0; i < 10; i++ { // every 100 ms for a second
		if e.Progress(&syv1.UploadProgress{TransferId: "t1", Status: StatusInProgress, Bytes: int64(i)}) {
			sent = append(sent, int64(i))
		}
		// Another transfer is throttled apart.
		if i == 1 && !e.Progress(&syv1.UploadProgress{TransferId: "t2", Status: StatusInProgress}) {
			t.Fatal("first event of another transfer was held back")
		}
		clock = clock.Add(100 * time.Millisecond)
	}
	want := []int64{0, 3, 6, 9} // 250 ms apart: at most 4 a second
	if len(sent) != len(want) {
		t.Fatalf("sent at %v, want %v", sent, want)
	}
	for i := range want {
		if sent[i] != want[i] {
			t.Fatalf("sent at %v, want %v", sent, want)
		}
	}
	// The final frame always goes, even right after an InProgress.
	final := &syv1.UploadProgress{TransferId: "t1", Status: StatusCompleted, Bytes: 10, StartTimeUnixMs: time.Unix(999, 0).UnixMilli()}
	if !e.Progress(final) {
		t.Fatal("Completed was throttled")
	}
	if final.GetSpeed() != 10*1000/2000 || final.GetProgressTimeUnixMs() != clock.UnixMilli() {
		t.Fatalf("speed %d, progress time %d", final.GetSpeed(), final.GetProgressTimeUnixMs())
	}
}
