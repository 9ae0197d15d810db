package device

import (
	"sync"
	"time"

	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// chunksInFlight bounds the chunks of one socket being stored at once;
// the read loop waits above it (TCP backpressure), so a controller that
// does not wait for acknowledgements never makes the gateway buffer more
// than this many chunks.
const chunksInFlight = 4

// state is one controller socket.
type state struct {
	user     string // client token's user ("" without one)
	deviceID string
	refuse   *refusal

	// Work on the socket's chunks: at most chunksInFlight stored at once;
	// complete, cancel and status wait for the ones sent before them.
	sem    chan struct{}
	chunks sync.WaitGroup

	mu       sync.Mutex
	hubID    string
	hubName  string
	paired   bool
	claimed  bool // holds the (device, hubId) presence key
	caps     deviceCaps
	nextReq  uint64
	pending  map[string]*pending // request_id → the controller request it answers
	uploads  map[string]*upInfo
	hasHello bool
}

// deviceCaps is what agent_status shows.
type deviceCaps struct {
	name, version, platform string
	accept                  bool
}

// pending is a request relayed to the device, waiting for its answer.
type pending struct {
	id       string // the controller frame's id
	op       string
	uploadID string
	timer    *time.Timer
	// then, when set, takes the answer instead of rendering it (the steps
	// of complete_upload).
	then func(r *syv1.DeviceResponse)
}

// upInfo is what the socket knows of an upload it touched.
type upInfo struct {
	total        int64
	game, exe    string
	written      int64
	lastProgress time.Time
}

func (st *state) isPaired() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.paired
}

func (st *state) hub() (id, name string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.hubID, st.hubName
}

// owner is who the socket's uploads belong to: the client token's user,
// else the controller's hubId (so a controller resumes its own uploads
// from any gateway, and no other controller can touch them).
func (st *state) owner() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.user != "" {
		return st.user
	}
	return "hub:" + st.hubID
}

func (st *state) take(requestID string) *pending {
	st.mu.Lock()
	defer st.mu.Unlock()
	p := st.pending[requestID]
	if p != nil {
		delete(st.pending, requestID)
		if p.timer != nil {
			p.timer.Stop()
		}
	}
	return p
}

// knows reports whether an event for requestID or uploadID belongs here.
func (st *state) knows(requestID, uploadID string) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if requestID != "" && st.pending[requestID] != nil {
		return true
	}
	return uploadID != "" && st.uploads[uploadID] != nil
}
