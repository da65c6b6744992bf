package vmnetbroker

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"
	"unsafe"

	"syscall"
)

// These tests talk to a real vmnet-brokerd: the project's system tests
// (test/system/test_clients.py) run `go test` with VMNET_BROKER_TEST_SOCKET
// naming a daemon they started in a network namespace of their own, and
// VMNET_BROKER_TEST_NETNS a namespace for a netns port. Without them they
// are skipped.

func daemon(t *testing.T) (*Client, context.Context) {
	t.Helper()
	sock := os.Getenv("VMNET_BROKER_TEST_SOCKET")
	if sock == "" {
		t.Skip("VMNET_BROKER_TEST_SOCKET is not set: no daemon to test against")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return &Client{Socket: sock}, ctx
}

// tapName asks the kernel which TAP f is (TUNGETIFF).
func tapName(t *testing.T, f *os.File) string {
	var ifr [40]byte
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TUNGETIFF, uintptr(unsafe.Pointer(&ifr[0])))
	if errno != 0 {
		t.Fatalf("TUNGETIFF: %v", errno)
	}
	n := 0
	for n < 16 && ifr[n] != 0 {
		n++
	}
	return string(ifr[:n])
}

func leaseLabels(t *testing.T, c *Client, ctx context.Context, network string) map[string]Lease {
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Lease{}
	if n := st.Network(network); n != nil {
		for _, l := range n.Leases {
			if l.Label != nil {
				out[*l.Label] = l
			}
		}
	}
	return out
}

func TestDaemonTAP(t *testing.T) {
	c, ctx := daemon(t)
	p, err := c.Acquire(ctx, "shared", &AcquireOptions{Label: "go-tap", VnetHdr: true, MultiQueue: 2,
		MAC: "52:54:00:60:00:01"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Kind != PortTAP || len(p.Files) != 2 || p.MAC != "52:54:00:60:00:01" || p.Address == "" {
		t.Fatalf("port %+v", p)
	}
	for _, f := range p.Files {
		if name := tapName(t, f); name != p.Ifname {
			t.Errorf("the file is TAP %s, the reply says %s", name, p.Ifname)
		}
	}
	l, ok := leaseLabels(t, c, ctx, "shared")["go-tap"]
	if !ok || l.Kind != "tap" || l.Ifname != p.Ifname || l.Address != p.Address || *l.PID != os.Getpid() {
		t.Errorf("status shows %+v", l)
	}
}

func TestDaemonNoneAndNamedTAP(t *testing.T) {
	c, ctx := daemon(t)
	for _, kind := range []PortKind{PortNone, PortNamedTAP} {
		p, err := c.Acquire(ctx, "shared", &AcquireOptions{Port: kind, Label: "go-" + string(kind)})
		if err != nil {
			t.Fatal(kind, err)
		}
		if p.Kind != kind || len(p.Files) != 0 {
			t.Errorf("%s: %+v", kind, p)
		}
		if _, ok := leaseLabels(t, c, ctx, "shared")["go-"+string(kind)]; !ok {
			t.Errorf("%s: no lease in status", kind)
		}
		p.Close() // the connection's close ends the lease
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, ok := leaseLabels(t, c, ctx, "shared")["go-"+string(kind)]; !ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the lease outlived its connection", kind)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func TestDaemonNetns(t *testing.T) {
	c, ctx := daemon(t)
	ns := os.Getenv("VMNET_BROKER_TEST_NETNS")
	if ns == "" {
		t.Skip("VMNET_BROKER_TEST_NETNS is not set")
	}
	p, err := c.Acquire(ctx, "shared", &AcquireOptions{NetnsPath: ns, Ifname: "eth7", Label: "go-netns",
		PortForwards: []PortForward{{Protocol: "tcp", ExternalPort: 2207, InternalPort: 22}}})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if p.Kind != PortNetns || len(p.PortForwards) != 1 || p.PortForwards[0].InternalAddress != p.Address {
		t.Fatalf("port %+v", p)
	}
	// The lease outlives the connection: it lasts as long as the namespace.
	if _, ok := leaseLabels(t, c, ctx, "shared")["go-netns"]; !ok {
		t.Error("no netns lease after the connection closed")
	}
}

func TestDaemonRefusals(t *testing.T) {
	c, ctx := daemon(t)
	if _, err := c.Acquire(ctx, "nosuch", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown network: %v", err)
	}
	_, err := c.Acquire(ctx, "host", &AcquireOptions{PortForwards: []PortForward{{Protocol: "tcp", ExternalPort: 2222, InternalPort: 22}}})
	var e *Error
	if !errors.As(err, &e) || e.Code != InvalidRequest || e.Message == "" {
		t.Errorf("forwards on host: %v", err)
	}
}

func TestDaemonNetworks(t *testing.T) {
	c, ctx := daemon(t)
	n, err := c.Networks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"host", "shared"} {
		if e := n.Get(name); e == nil || e.Source != "builtin" || len(e.Errors) != 0 {
			t.Errorf("%s: %+v", name, e)
		}
	}
}
