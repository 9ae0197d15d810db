package ws

import "time"

// DialPeer is the test client both test packages dial with.
var DialPeer = dialPeer

// WriterLinger is how long a writer goroutine outlives its last frame.
func WriterLinger() time.Duration { return writerLinger }
