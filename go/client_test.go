package vmnetbroker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeReply is what the fake daemon answers one request with.
type fakeReply struct {
	body   any // marshalled, or []byte as it is
	fds    int // /dev/null fds to send along
	hangup bool
	silent bool
}

type fakeRequest struct {
	body map[string]any
	fds  int
}

// fake is a daemon that answers each connection's request with the next reply.
type fake struct {
	t        *testing.T
	path     string
	l        *net.UnixListener
	requests chan fakeRequest
	done     chan struct{}
}

func newFake(t *testing.T, replies ...fakeReply) *fake {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sock")
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	f := &fake{t: t, path: path, l: l, requests: make(chan fakeRequest, len(replies)), done: make(chan struct{})}
	go f.serve(replies)
	t.Cleanup(func() { l.Close(); <-f.done })
	return f
}

func (f *fake) serve(replies []fakeReply) {
	defer close(f.done)
	var held []*net.UnixConn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for _, r := range replies {
		c, err := f.l.AcceptUnix()
		if err != nil {
			return
		}
		buf := make([]byte, 1<<17)
		oob := make([]byte, syscall.CmsgSpace(16*4))
		n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		if err != nil {
			c.Close()
			return
		}
		got := fakeRequest{}
		for _, file := range parseRights(oob[:oobn]) {
			got.fds++
			file.Close()
		}
		json.Unmarshal(buf[:n], &got.body)
		f.requests <- got
		switch {
		case r.hangup:
			c.Close()
			continue
		case r.silent:
			held = append(held, c)
			continue
		}
		data, ok := r.body.([]byte)
		if !ok {
			data, _ = json.Marshal(r.body)
		}
		var fds []int
		for i := 0; i < r.fds; i++ {
			fd, _ := syscall.Open("/dev/null", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
			fds = append(fds, fd)
		}
		var rights []byte
		if len(fds) > 0 {
			rights = syscall.UnixRights(fds...)
		}
		c.WriteMsgUnix(data, rights, nil)
		for _, fd := range fds {
			syscall.Close(fd)
		}
		c.Close() // what was sent stays readable
	}
	if len(held) > 0 { // until the test ends
		for {
			c, err := f.l.AcceptUnix()
			if err != nil {
				return
			}
			c.Close()
		}
	}
}

func shared() map[string]any {
	return map[string]any{"name": "shared", "mode": "shared", "bridge": "vmbr0", "subnet": "192.168.64.1",
		"mask": "255.255.255.0", "ipv6_prefix": "fd00:1::", "prefix_len": 64, "mtu": 1500}
}

func tapReply(kind string) map[string]any {
	n := shared()
	n["port"] = map[string]any{"kind": kind, "ifname": "vmtap0", "mac": "52:54:00:12:34:56", "address": "192.168.64.2"}
	return map[string]any{"network": n}
}

// openFDs lists this process's fds that point at /dev/null or a socket.
func openFDs(t *testing.T) []string {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err == nil && (target == "/dev/null" || strings.HasPrefix(target, "socket:")) {
			out = append(out, e.Name()+" "+target)
		}
	}
	sort.Strings(out)
	return out
}

func TestCodesAreTheMacOSBrokers(t *testing.T) {
	want := []string{"VMNET_BROKER_SUCCESS", "VMNET_BROKER_CONNECTION_FAILURE", "VMNET_BROKER_INVALID_REPLY",
		"VMNET_BROKER_NOT_ALLOWED", "VMNET_BROKER_INVALID_REQUEST", "VMNET_BROKER_NOT_FOUND",
		"VMNET_BROKER_CREATE_FAILURE", "VMNET_BROKER_INTERNAL_ERROR", "VMNET_BROKER_LIMIT_EXCEEDED",
		"VMNET_BROKER_CONFLICT", "VMNET_BROKER_TIMEOUT"}
	for i, name := range want {
		if got := Code(i).String(); got != name {
			t.Errorf("Code(%d) = %s, want %s", i, got, name)
		}
	}
	if Code(42).String() != "VMNET_BROKER_UNKNOWN" || Code(42).Text() != "unknown status code" {
		t.Error("unknown code")
	}
}

func TestErrorsIs(t *testing.T) {
	f := newFake(t, fakeReply{body: map[string]any{"error": 5, "message": "no network named 'lab'"}})
	c := &Client{Socket: f.path}
	_, err := c.Acquire(context.Background(), "lab", nil)
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, NotFound) || errors.Is(err, ErrNotAllowed) {
		t.Fatalf("errors.Is does not tell NOT_FOUND: %v", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Code != NotFound || e.Message != "no network named 'lab'" {
		t.Fatalf("errors.As: %#v", e)
	}
	if err.Error() != "VMNET_BROKER_NOT_FOUND: no network named 'lab'" {
		t.Errorf("Error() = %q", err.Error())
	}
	if CodeOf(err) != NotFound || CodeOf(nil) != Success || CodeOf(fmt.Errorf("x: %w", err)) != NotFound {
		t.Error("CodeOf")
	}
}

func TestAcquireSendsEveryKeyAndHandsOverFiles(t *testing.T) {
	f := newFake(t, fakeReply{body: tapReply("tap"), fds: 2})
	before := openFDs(t)
	p, err := (&Client{Socket: f.path}).Acquire(context.Background(), "shared", &AcquireOptions{
		Port: PortTAP, MAC: "52:54:00:AB:CD:EF", Label: "vm1", VnetHdr: true, MultiQueue: 2,
		PortForwards: []PortForward{{Protocol: "tcp", ExternalPort: 2222, InternalPort: 22}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := <-f.requests
	want := map[string]any{"command": "acquire", "network_name": "shared", "port": "tap",
		"mac": "52:54:00:ab:cd:ef", "label": "vm1", "vnet_hdr": true, "multi_queue": 2.0,
		"port_forwards": []any{map[string]any{"protocol": "tcp", "external_port": 2222.0, "internal_port": 22.0}}}
	if !reflect.DeepEqual(got.body, want) || got.fds != 0 {
		t.Fatalf("request %v (%d fds), want %v", got.body, got.fds, want)
	}
	if p.Kind != PortTAP || p.Ifname != "vmtap0" || p.Network.Bridge != "vmbr0" || p.Network.MTU != 1500 || len(p.Files) != 2 {
		t.Fatalf("port %+v", p)
	}
	if p.Conn() != nil {
		t.Error("a tap port kept its connection, which its lease does not need")
	}
	if target, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", p.File().Fd())); target != "/dev/null" {
		t.Errorf("file points at %s", target)
	}
	files := p.TakeFiles()
	if p.File() != nil || len(files) != 2 {
		t.Fatal("TakeFiles")
	}
	p.Close()
	for _, file := range files {
		if _, err := file.Stat(); err != nil {
			t.Errorf("a taken file was closed: %v", err)
		}
		file.Close()
	}
	<-f.done
	if after := openFDs(t); !reflect.DeepEqual(before, after) {
		t.Errorf("fds left open: before %v, after %v", before, after)
	}
}

func TestNetnsFileIsSent(t *testing.T) {
	f := newFake(t, fakeReply{body: tapReply("netns")})
	ns, err := os.Open("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	p, err := (&Client{Socket: f.path}).Acquire(context.Background(), "shared", &AcquireOptions{Netns: ns, Ifname: "eth1"})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	got := <-f.requests
	if got.fds != 1 || got.body["port"] != "netns" || got.body["ifname"] != "eth1" {
		t.Fatalf("request %v with %d fds", got.body, got.fds)
	}
	if _, err := ns.Stat(); err != nil {
		t.Error("the caller's namespace file was closed")
	}
}

func TestBadValuesFailBeforeConnecting(t *testing.T) {
	ns, _ := os.Open("/proc/self/ns/net")
	defer ns.Close()
	cases := map[string]*AcquireOptions{
		"port":           {Port: "vhost"},
		"netns-no-fd":    {Port: PortNetns},
		"fd-not-netns":   {Port: PortTAP, Netns: ns},
		"mac-multicast":  {MAC: "01:00:5e:00:00:01"},
		"mac-zero":       {MAC: "00:00:00:00:00:00"},
		"mac-short":      {MAC: "52:54:00:12:34"},
		"label-control":  {Label: "a\nb"},
		"label-c1":       {Label: "a\u009b2J"},
		"label-bidi":     {Label: "evil\u202egnp.exe"},
		"label-long":     {Label: strings.Repeat("x", 65)},
		"ifname-slash":   {Ifname: "a/b"},
		"ifname-long":    {Ifname: strings.Repeat("x", 16)},
		"queues":         {MultiQueue: 17},
		"queues-neg":     {MultiQueue: -1},
		"forward-proto":  {PortForwards: []PortForward{{Protocol: "sctp", ExternalPort: 1, InternalPort: 1}}},
		"forward-port":   {PortForwards: []PortForward{{Protocol: "tcp", ExternalPort: 0, InternalPort: 1}}},
		"forward-twice":  {PortForwards: []PortForward{{Protocol: "tcp", ExternalPort: 1, InternalPort: 1}, {Protocol: "tcp", ExternalPort: 1, InternalPort: 2}}},
		"forward-addr":   {PortForwards: []PortForward{{Protocol: "tcp", ExternalPort: 1, InternalPort: 1, InternalAddress: "1.2.3.4"}}},
		"both-netns":     {Netns: ns, NetnsPath: "/proc/self/ns/net"},
		"netns-nonexist": {NetnsPath: "/nonexistent"},
	}
	c := &Client{Socket: "/nonexistent/sock"}
	for name, o := range cases {
		if _, err := c.Acquire(context.Background(), "shared", o); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%s: %v, want INVALID_REQUEST", name, err)
		}
	}
	for _, name := range []string{"", "a/b", "..", "a..b", "-x", strings.Repeat("x", 65)} {
		if _, err := c.Acquire(context.Background(), name, nil); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("name %q: %v, want INVALID_REQUEST", name, err)
		}
	}
	if !ValidNetworkName("A.b-c_9") || !ValidNetworkName(strings.Repeat("x", 64)) {
		t.Error("ValidNetworkName refuses a good name")
	}
}

func TestConnectionFailures(t *testing.T) {
	_, err := (&Client{Socket: "/nonexistent/sock"}).Status(context.Background())
	if !errors.Is(err, ErrConnectionFailure) || !errors.Is(err, syscall.ENOENT) {
		t.Errorf("no socket: %v", err)
	}
	f := newFake(t, fakeReply{hangup: true})
	if _, err := (&Client{Socket: f.path}).Status(context.Background()); !errors.Is(err, ErrConnectionFailure) {
		t.Errorf("hang-up: %v", err)
	}
}

func TestContextBoundsTheCall(t *testing.T) {
	f := newFake(t, fakeReply{silent: true}, fakeReply{silent: true})
	c := &Client{Socket: f.path}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Status(ctx)
	if !errors.Is(err, ErrConnectionFailure) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("deadline: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("the deadline did not end the call")
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel2() }()
	if _, err := c.Networks(ctx2); !errors.Is(err, context.Canceled) {
		t.Errorf("cancel: %v", err)
	}
}

func TestSocketFromEnvironment(t *testing.T) {
	f := newFake(t, fakeReply{body: map[string]any{"version": 1, "networks": []any{}}})
	t.Setenv(SocketEnv, f.path)
	if SocketPath() != f.path {
		t.Fatal("SocketPath ignores", SocketEnv)
	}
	st, err := Status(context.Background())
	if err != nil || st.Version != 1 || len(st.Networks) != 0 {
		t.Fatalf("%v %v", st, err)
	}
	t.Setenv(SocketEnv, "")
	if SocketPath() != DefaultSocket {
		t.Error("empty", SocketEnv, "is not the default")
	}
}

func TestStatusOver64KiBAndTyped(t *testing.T) {
	n := shared()
	n["state"] = "idle"
	n["idle_remaining"] = 0
	var leases []any
	for i := 0; i < 1500; i++ {
		leases = append(leases, map[string]any{"kind": "tap", "ifname": fmt.Sprintf("vmtap%d", i), "uid": 0,
			"pid": i, "label": strings.Repeat("x", 60)})
	}
	leases = append(leases, map[string]any{"kind": "none", "hidden": true})
	n["leases"] = leases
	f := newFake(t, fakeReply{body: map[string]any{"version": 1, "networks": []any{n}}})
	st, err := (&Client{Socket: f.path}).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sh := st.Network("shared")
	if sh == nil || len(sh.Leases) != 1501 || *sh.IdleRemaining != 0 || *sh.Leases[0].UID != 0 || !sh.Leases[1500].Hidden {
		t.Fatalf("status %+v", sh)
	}
	if st.Network("host") != nil {
		t.Error("Network(host)")
	}
}

func TestMalformedRepliesAreInvalidReply(t *testing.T) {
	for name, body := range map[string]any{
		"null-member":   map[string]any{"version": 1, "networks": []any{map[string]any{"name": nil}}},
		"wrong-type":    map[string]any{"version": 1, "networks": []any{map[string]any{"leases": []any{map[string]any{"uid": "0"}}}}},
		"networks-obj":  map[string]any{"networks": map[string]any{}},
		"trailing-data": []byte(`{"networks": []} {}`),
	} {
		f := newFake(t, fakeReply{body: body})
		if _, err := (&Client{Socket: f.path}).Status(context.Background()); !errors.Is(err, ErrInvalidReply) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestConnRawBytes(t *testing.T) {
	f := newFake(t, fakeReply{body: map[string]any{"error": 4, "message": "not valid JSON"}})
	c, err := Dial(context.Background(), f.path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m, err := c.Request(context.Background(), []byte("hello"))
	if err != nil || !strings.Contains(string(m.Data), `"error":4`) || len(m.Files) != 0 {
		t.Fatalf("%s %v", m.Data, err)
	}
}

func TestLeaseCallsSendTheirKeysAndDecodeTheLease(t *testing.T) {
	lease := map[string]any{"kind": "named_tap", "ifname": "fc-vm1", "lease_id": 7, "persistent": true,
		"uid": 0, "pid": 1, "label": "", "network_name": "shared",
		"port_forwards": []any{map[string]any{"protocol": "tcp", "external_port": 2222,
			"internal_address": "192.168.64.2", "internal_port": 22,
			"internal_address6": "fd00::5054:ff:fe12:3456"}}}
	f := newFake(t, fakeReply{body: map[string]any{"lease": lease}},
		fakeReply{body: map[string]any{"lease": lease}},
		fakeReply{body: map[string]any{"leases": []any{lease}}},
		fakeReply{body: map[string]any{"network": shared(), "ended_leases": []any{}}})
	c := &Client{Socket: f.path}
	ctx := context.Background()
	l, err := c.ForwardAdd(ctx, LeaseRef{Ifname: "fc-vm1"}, []PortForward{{Protocol: "tcp", ExternalPort: 2222, InternalPort: 22}})
	if err != nil || l.LeaseID != 7 || !l.Persistent || l.NetworkName != "shared" ||
		l.PortForwards[0].InternalAddress6 != "fd00::5054:ff:fe12:3456" {
		t.Fatalf("ForwardAdd: %+v, %v", l, err)
	}
	if got := <-f.requests; !reflect.DeepEqual(got.body, map[string]any{"command": "forward_add", "ifname": "fc-vm1",
		"port_forwards": []any{map[string]any{"protocol": "tcp", "external_port": 2222.0, "internal_port": 22.0}}}) {
		t.Errorf("forward_add request: %v", got.body)
	}
	if _, err := c.ForwardRemove(ctx, LeaseRef{ID: 7}, []PortForward{{Protocol: "tcp", ExternalPort: 2222, InternalPort: 22}}); err != nil {
		t.Fatal(err)
	}
	if got := <-f.requests; !reflect.DeepEqual(got.body, map[string]any{"command": "forward_remove", "lease_id": 7.0,
		"port_forwards": []any{map[string]any{"protocol": "tcp", "external_port": 2222.0}}}) {
		t.Errorf("forward_remove request: %v", got.body)
	}
	if ls, err := c.ForwardList(ctx, LeaseRef{}); err != nil || len(ls) != 1 {
		t.Fatalf("ForwardList: %v %v", ls, err)
	}
	if got := <-f.requests; !reflect.DeepEqual(got.body, map[string]any{"command": "forward_list"}) {
		t.Errorf("forward_list request: %v", got.body)
	}
	if s, err := c.StopNetwork(ctx, "shared", true); err != nil || s.Network.Name != "shared" {
		t.Fatalf("StopNetwork: %v %v", s, err)
	}
	if got := <-f.requests; !reflect.DeepEqual(got.body, map[string]any{"command": "stop", "network_name": "shared", "force": true}) {
		t.Errorf("stop request: %v", got.body)
	}
}

func TestLeaseCallsRefuseBeforeConnecting(t *testing.T) {
	c := &Client{Socket: "/nonexistent/sock"}
	ctx := context.Background()
	for name, err := range map[string]error{
		"neither":     func() error { _, err := c.Release(ctx, LeaseRef{}); return err }(),
		"both":        func() error { _, err := c.Release(ctx, LeaseRef{Ifname: "a", ID: 1}); return err }(),
		"bad-ifname":  func() error { _, err := c.Release(ctx, LeaseRef{Ifname: "a/b"}); return err }(),
		"no-forwards": func() error { _, err := c.ForwardAdd(ctx, LeaseRef{ID: 1}, nil); return err }(),
		"bad-forward": func() error {
			_, err := c.ForwardAdd(ctx, LeaseRef{ID: 1}, []PortForward{{Protocol: "tcp"}})
			return err
		}(),
		"list-both":     func() error { _, err := c.ForwardList(ctx, LeaseRef{Ifname: "a", ID: 1}); return err }(),
		"stop-bad-name": func() error { _, err := c.StopNetwork(ctx, "a/b", false); return err }(),
	} {
		if !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%s: %v, want INVALID_REQUEST", name, err)
		}
	}
	_, err := c.Release(ctx, LeaseRef{ID: 1})
	if !errors.Is(err, ErrConnectionFailure) || !strings.Contains(err.Error(), "daemon is not running") ||
		!strings.Contains(err.Error(), "systemctl start vmnet-brokerd.socket") {
		t.Errorf("no daemon: %v", err)
	}
}

func TestWaitAddress(t *testing.T) {
	reply := map[string]any{"address": "192.168.64.130", "network_name": "shared", "lease": map[string]any{
		"kind": "tap", "ifname": "vmtap0", "mac": "52:54:00:12:34:56", "uid": 0, "pid": 1, "label": "vm",
		"guests": []any{map[string]any{"mac": "52:54:00:aa:00:01", "on_bridge": true,
			"ipv4": []any{"192.168.64.130"}, "ipv6": []any{}, "hostname": "vm"}},
		"names": []any{"vm.shared.vmnet"}}}
	f := newFake(t, fakeReply{body: reply}, fakeReply{body: map[string]any{"error": 10, "message": "no address"}})
	c := &Client{Socket: f.path}
	w, err := c.WaitAddress(context.Background(), &WaitOptions{Label: "vm", Network: "shared", Timeout: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	got := <-f.requests
	want := map[string]any{"command": "wait_address", "label": "vm", "network_name": "shared", "timeout": float64(2)}
	if !reflect.DeepEqual(got.body, want) {
		t.Fatalf("request %v, want %v", got.body, want)
	}
	if w.Address != "192.168.64.130" || w.Lease.Guests[0].Hostname != "vm" || w.Lease.Names[0] != "vm.shared.vmnet" {
		t.Fatalf("reply %+v", w)
	}
	_, err = c.WaitAddress(context.Background(), &WaitOptions{Ifname: "vmtap0", NoWait: true})
	if !errors.Is(err, ErrTimeout) || CodeOf(err) != Timeout || Timeout.String() != "VMNET_BROKER_TIMEOUT" {
		t.Fatalf("got %v, want a Timeout", err)
	}
	if got := <-f.requests; got.body["timeout"] != float64(0) {
		t.Fatalf("NoWait sent %v", got.body)
	}
	for _, o := range []WaitOptions{{}, {Ifname: "a", Label: "b"}, {Ifname: "a/b"}, {Label: "a\nb"},
		{Ifname: "a", Network: "a/b"}, {Ifname: "a", Timeout: 2 * time.Hour}, {Ifname: "a", Timeout: -time.Second}} {
		o := o
		if _, err := c.WaitAddress(context.Background(), &o); CodeOf(err) != InvalidRequest {
			t.Errorf("%+v: got %v, want InvalidRequest", o, err)
		}
	}
}
