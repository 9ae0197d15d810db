package ws

// DialPeer is the test client both test packages dial with.
var DialPeer = dialPeer

// Eventually waits up to 5 s for cond.
var Eventually = eventually
