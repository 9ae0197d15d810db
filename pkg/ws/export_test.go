package ws

// DialPeer is the test client both test packages dial with.
var DialPeer = dialPeer
