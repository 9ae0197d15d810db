package process

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// Listen binds a TCP address and says clearly why it cannot: what names
// the setting (e.g. config.Name(&cfg, "Listen") = "SY_LISTEN (-listen)").
// Services bind their listeners with it before they write to Redis or
// consume from NATS, so a port in use stops the process before it has
// done anything.
func Listen(what, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return nil, fmt.Errorf("%s %s is already in use by another process: stop it or choose another address (%w)", what, addr, err)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return nil, fmt.Errorf("%s %s is not an address of this machine (%w)", what, addr, err)
	case errors.Is(err, syscall.EACCES):
		return nil, fmt.Errorf("%s %s: permission denied (ports below 1024 need privileges) (%w)", what, addr, err)
	case err != nil:
		return nil, fmt.Errorf("%s %q: %w", what, addr, err)
	}
	return ln, nil
}
