package vmnetbroker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// Limits the daemon checks, checked here first so that a bad value fails
// without a round trip.
const (
	NetworkNameMax = 64
	LabelMax       = 64
	QueuesMax      = 16
	ForwardsMax    = 16
)

// AcquireOptions are the request keys of an acquire; the zero value asks for
// a TAP with a MAC the daemon makes up.
type AcquireOptions struct {
	// Port is the kind of port; "" sends none (the daemon makes a TAP).
	Port PortKind
	// MAC is the port's MAC address, e.g. "52:54:00:12:34:56"; "" lets
	// the daemon make one up. Give the guest this MAC and it gets the
	// port's reserved address, known from the reply on; with a MAC of its
	// own it gets one of the network's dynamic range (WaitAddress tells).
	MAC string
	// Label is free text shown in status and the interface alias.
	Label string
	// Netns is the network namespace (an fd of /run/netns/NAME or
	// /proc/PID/ns/net) that a PortNetns port goes into; borrowed, not
	// closed. Setting it implies PortNetns.
	Netns *os.File
	// NetnsPath is the same as Netns, by path: Acquire opens and closes it.
	NetnsPath string
	// Ifname is the interface's name inside the namespace (default eth0);
	// for PortNamedTAP, the TAP's name on the host (default vmtapN), as a
	// libvirt domain or a Firecracker config names it.
	Ifname string
	// VnetHdr opens the TAP with IFF_VNET_HDR.
	VnetHdr bool
	// MultiQueue is the TAP's queue count, 1-16 (0 sends none: one queue).
	// Above 1 sets IFF_MULTI_QUEUE, and the port has one file per queue.
	MultiQueue int
	// PortForwards are host ports forwarded to the port's address while the
	// lease lives (InternalAddress stays empty).
	PortForwards []PortForward
	// Persistent (PortNamedTAP, PortNetns): the lease outlives the
	// connection, until Release, until its network is stopped, or until its
	// owner is over quota after a restart; Port.LeaseID names it.
	Persistent bool
}

// Client talks to the daemon at Socket ("" for SocketPath(), read at each
// call). The zero value is ready to use, and so is DefaultClient.
type Client struct {
	Socket string
}

// DefaultClient is the Client of the package's functions.
var DefaultClient = &Client{}

// Acquire gets a port on network with DefaultClient.
func Acquire(ctx context.Context, network string, opts *AcquireOptions) (*Port, error) {
	return DefaultClient.Acquire(ctx, network, opts)
}

// Status asks DefaultClient's daemon for every running network and its leases.
func Status(ctx context.Context) (*StatusReply, error) {
	return DefaultClient.Status(ctx)
}

// Networks asks DefaultClient's daemon for every network it can create.
func Networks(ctx context.Context) (*NetworksReply, error) {
	return DefaultClient.Networks(ctx)
}

// WaitAddress waits with DefaultClient until the guest behind a port has an
// IPv4 address.
func WaitAddress(ctx context.Context, opts *WaitOptions) (*WaitReply, error) {
	return DefaultClient.WaitAddress(ctx, opts)
}

// WaitTimeoutMax is the longest the daemon waits for an address.
const WaitTimeoutMax = time.Hour

// WaitOptions name the port a wait_address is about, and how long the
// daemon waits.
type WaitOptions struct {
	// Ifname names the port by its interface on the host, as status shows
	// it ("vmtap3"); or
	Ifname string
	// Label names it by its label (one of the caller's ports). Exactly one
	// of Ifname and Label.
	Label string
	// Network, when set, looks at that network's ports only.
	Network string
	// Timeout is how long the daemon waits, in whole seconds (rounded up),
	// at most WaitTimeoutMax; 0 leaves it to the daemon (60 s). ctx must
	// allow that long: its deadline ends the call on the client's side.
	Timeout time.Duration
	// NoWait asks the daemon to answer at once: Timeout (the code) when no
	// address is known yet.
	NoWait bool
}

func waitRequest(o *WaitOptions) (map[string]any, error) {
	if (o.Ifname == "") == (o.Label == "") {
		return nil, errorf(InvalidRequest, "name the port by Ifname or by Label")
	}
	req := map[string]any{"command": "wait_address"}
	if o.Ifname != "" {
		if !validIfname(o.Ifname) {
			return nil, errorf(InvalidRequest, "'%s' is not a valid interface name", o.Ifname)
		}
		req["ifname"] = o.Ifname
	}
	if o.Label != "" {
		if !validLabel(o.Label) {
			return nil, errorf(InvalidRequest, "a label is 1-%d printable characters", LabelMax)
		}
		req["label"] = o.Label
	}
	if o.Network != "" {
		if !ValidNetworkName(o.Network) {
			return nil, errorf(InvalidRequest, "invalid network name '%s'", o.Network)
		}
		req["network_name"] = o.Network
	}
	if o.Timeout < 0 || o.Timeout > WaitTimeoutMax {
		return nil, errorf(InvalidRequest, "the timeout is at most %v", WaitTimeoutMax)
	}
	switch {
	case o.NoWait:
		req["timeout"] = 0
	case o.Timeout > 0:
		req["timeout"] = int((o.Timeout + time.Second - 1) / time.Second)
	}
	return req, nil
}

// WaitAddress asks the daemon for the IPv4 address of the guest behind a
// port, and waits until it has one (from DHCP, or the host's neighbour
// table), whatever MAC the guest uses. The error is an *Error: Timeout
// when no address came in time, NotFound when there is no such port or it
// went away meanwhile, NotAllowed for another user's port.
func (c *Client) WaitAddress(ctx context.Context, opts *WaitOptions) (*WaitReply, error) {
	if opts == nil {
		opts = &WaitOptions{}
	}
	req, err := waitRequest(opts)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(req)
	if err != nil {
		return nil, wrapf(InvalidRequest, err, "encode request: %v", err)
	}
	conn, msg, err := exchange(ctx, c.Socket, data)
	if err != nil {
		return nil, err
	}
	conn.Close()
	defer msg.Close()
	if err := checkError(msg.Data); err != nil {
		return nil, err
	}
	if len(msg.Files) > 0 {
		return nil, errorf(InvalidReply, "a 'wait_address' reply carries fds")
	}
	var w WaitReply
	if err := decodeReply(msg.Data, &w); err != nil {
		return nil, err
	}
	if w.Address == "" {
		return nil, errorf(InvalidReply, "reply has neither 'error' nor an 'address'")
	}
	return &w, nil
}

// ValidNetworkName reports whether name is a network name: 1-64 of
// A-Za-z0-9._-, starting with a letter or digit, without "..".
func ValidNetworkName(name string) bool {
	if len(name) == 0 || len(name) > NetworkNameMax || strings.Contains(name, "..") {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || (c != '.' && c != '-' && c != '_')) {
			return false
		}
	}
	return true
}

func validMAC(s string) bool {
	if len(s) != 17 {
		return false
	}
	var b [6]byte
	zero := true
	for i := 0; i < 6; i++ {
		var v byte
		for j := 0; j < 2; j++ {
			c := s[i*3+j]
			switch {
			case c >= '0' && c <= '9':
				v = v<<4 | (c - '0')
			case c >= 'a' && c <= 'f':
				v = v<<4 | (c - 'a' + 10)
			case c >= 'A' && c <= 'F':
				v = v<<4 | (c - 'A' + 10)
			default:
				return false
			}
		}
		if i < 5 && s[i*3+2] != ':' {
			return false
		}
		b[i] = v
		zero = zero && v == 0
	}
	return !zero && b[0]&1 == 0
}

// labelRuneRefused: what the daemon refuses in a label. Controls (C0, DEL,
// C1), line and paragraph separators, and the bidirectional formatting
// characters, which reorder what follows them on screen.
func labelRuneRefused(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == 0x061c || r == 0x200e || r == 0x200f ||
		(r >= 0x2028 && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

func validLabel(s string) bool {
	if len(s) > LabelMax || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if labelRuneRefused(r) {
			return false
		}
	}
	return true
}

func validIfname(s string) bool {
	if len(s) == 0 || len(s) >= 16 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '/' || c == ':' || c == '%' {
			return false
		}
	}
	return true
}

// acquireRequest builds the request and says which port kind it asks for.
func acquireRequest(network string, o *AcquireOptions, hasNetns bool) (map[string]any, PortKind, error) {
	if !ValidNetworkName(network) {
		return nil, "", errorf(InvalidRequest, "invalid network name '%s': 1-%d characters of A-Z, a-z, 0-9, "+
			"'.', '-', '_', starting with a letter or digit, without '..'", network, NetworkNameMax)
	}
	req := map[string]any{"command": "acquire", "network_name": network}
	kind := PortTAP
	if o.Port != "" {
		switch o.Port {
		case PortTAP, PortNetns, PortNamedTAP, PortNone:
		default:
			return nil, "", errorf(InvalidRequest, "unknown port kind '%s' (want tap, netns, named_tap or none)", o.Port)
		}
		kind = o.Port
		req["port"] = string(kind)
	}
	if kind == PortNetns && !hasNetns {
		return nil, "", errorf(InvalidRequest, "port 'netns' needs a network namespace fd")
	}
	if kind != PortNetns && hasNetns {
		return nil, "", errorf(InvalidRequest, "a network namespace fd applies only to port 'netns'")
	}
	if o.MAC != "" {
		if !validMAC(o.MAC) {
			return nil, "", errorf(InvalidRequest, "'%s' is not a unicast MAC address like 52:54:00:12:34:56", o.MAC)
		}
		req["mac"] = strings.ToLower(o.MAC)
	}
	if o.Label != "" {
		if !validLabel(o.Label) {
			return nil, "", errorf(InvalidRequest, "a label is at most %d bytes of printable text (no control or bidirectional formatting characters)", LabelMax)
		}
		req["label"] = o.Label
	}
	if o.Ifname != "" {
		if !validIfname(o.Ifname) {
			return nil, "", errorf(InvalidRequest, "'%s' is not a valid interface name", o.Ifname)
		}
		req["ifname"] = o.Ifname
	}
	if o.VnetHdr {
		req["vnet_hdr"] = true
	}
	if o.Persistent {
		req["persistent"] = true
	}
	if o.MultiQueue != 0 {
		if o.MultiQueue < 1 || o.MultiQueue > QueuesMax {
			return nil, "", errorf(InvalidRequest, "the queue count must be from 1 to %d", QueuesMax)
		}
		req["multi_queue"] = o.MultiQueue
	}
	if len(o.PortForwards) > 0 {
		fw, err := forwardsRequest(o.PortForwards, false)
		if err != nil {
			return nil, "", err
		}
		req["port_forwards"] = fw
	}
	return req, kind, nil
}

// forwardsRequest is a request's "port_forwards"; hostPortOnly
// (forward_remove): the protocol and host port of each, which name it.
func forwardsRequest(forwards []PortForward, hostPortOnly bool) ([]map[string]any, error) {
	fw := make([]map[string]any, 0, len(forwards))
	seen := map[string]bool{}
	for _, f := range forwards {
		if f.Protocol != "tcp" && f.Protocol != "udp" {
			return nil, errorf(InvalidRequest, "the protocol must be \"tcp\" or \"udp\"")
		}
		if f.ExternalPort < 1 || f.ExternalPort > 65535 ||
			(!hostPortOnly && (f.InternalPort < 1 || f.InternalPort > 65535)) {
			return nil, errorf(InvalidRequest, "ports must be from 1 to 65535")
		}
		if f.InternalAddress != "" || f.InternalAddress6 != "" {
			return nil, errorf(InvalidRequest, "a port forward of a request has no internal address: the port's own is meant")
		}
		key := fmt.Sprintf("%s/%d", f.Protocol, f.ExternalPort)
		if seen[key] {
			return nil, errorf(InvalidRequest, "%s port %d is forwarded already", f.Protocol, f.ExternalPort)
		}
		seen[key] = true
		if hostPortOnly {
			fw = append(fw, map[string]any{"protocol": f.Protocol, "external_port": f.ExternalPort})
		} else {
			fw = append(fw, map[string]any{"protocol": f.Protocol, "external_port": f.ExternalPort,
				"internal_port": f.InternalPort})
		}
	}
	if len(fw) > ForwardsMax {
		return nil, errorf(InvalidRequest, "at most %d port forwards in one request", ForwardsMax)
	}
	return fw, nil
}

// checkError decodes data as a JSON object and, when it is an error reply,
// returns its code and message as an *Error.
func checkError(data []byte) error {
	if err := checkReplyJSON(data); err != nil {
		return errorf(InvalidReply, "reply is not valid JSON: %v", err)
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return errorf(InvalidReply, "reply is not a JSON object")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return errorf(InvalidReply, "reply is not valid JSON: %v", err)
	}
	code, ok := top["error"]
	if !ok {
		return nil
	}
	var n int64
	var msg string
	message, ok := top["message"]
	if !isJSONNumber(code) || json.Unmarshal(code, &n) != nil || !ok || !isJSONString(message) ||
		json.Unmarshal(message, &msg) != nil {
		return errorf(InvalidReply, "malformed error reply")
	}
	// Codes above the known ones pass through: the protocol may add codes.
	if n <= 0 || n > math.MaxInt32 {
		return errorf(InvalidReply, "error reply with code %d", n)
	}
	return &Error{Code: Code(n), Message: msg}
}

func isJSONNumber(v json.RawMessage) bool {
	return len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9')
}

func isJSONString(v json.RawMessage) bool {
	return len(v) > 0 && v[0] == '"'
}

func decodeReply(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return errorf(InvalidReply, "malformed reply: %v", err)
	}
	return nil
}

// Acquire gets a port on network, which the daemon creates on first use.
// opts may be nil. ctx bounds the whole exchange. The error is an *Error;
// errors.Is(err, ErrNotFound) and the like tell the codes apart.
func (c *Client) Acquire(ctx context.Context, network string, opts *AcquireOptions) (*Port, error) {
	var o AcquireOptions
	if opts != nil {
		o = *opts
	}
	hasNetns := o.Netns != nil || o.NetnsPath != ""
	if o.Port == "" && hasNetns {
		o.Port = PortNetns
	}
	if o.Netns != nil && o.NetnsPath != "" {
		return nil, errorf(InvalidRequest, "give Netns or NetnsPath, not both")
	}
	req, kind, err := acquireRequest(network, &o, hasNetns)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(req)
	if err != nil {
		return nil, wrapf(InvalidRequest, err, "encode request: %v", err)
	}
	if len(data) > MessageMax {
		return nil, errorf(InvalidRequest, "request larger than %d bytes", MessageMax)
	}
	var files []*os.File
	if o.Netns != nil {
		files = append(files, o.Netns)
	} else if o.NetnsPath != "" {
		f, err := os.OpenFile(o.NetnsPath, os.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			return nil, wrapf(InvalidRequest, err, "open %s: %v", o.NetnsPath, err)
		}
		defer f.Close()
		files = append(files, f)
	}

	conn, msg, err := exchange(ctx, c.Socket, data, files...)
	if err != nil {
		return nil, err
	}
	if kind == PortTAP || kind == PortNetns {
		// Their leases do not need the connection: let it go at once,
		// before the decoding (which, done first, measurably delays the end
		// of the daemon's exchange: see bench/README.md of the project).
		conn.Close()
		conn = nil
	}
	queues := o.MultiQueue
	if queues == 0 {
		queues = 1
	}
	p, err := newPort(msg, kind, queues)
	if err != nil {
		msg.Close()
		if conn != nil {
			conn.Close()
		}
		return nil, err
	}
	p.conn = conn
	return p, nil
}

// newPort checks an acquire reply: it must describe the port asked for,
// with exactly the files that kind brings.
func newPort(msg *Message, kind PortKind, queues int) (*Port, error) {
	if err := checkError(msg.Data); err != nil {
		return nil, err
	}
	var r acquireReply
	if err := decodeReply(msg.Data, &r); err != nil {
		return nil, err
	}
	if r.Network == nil {
		return nil, errorf(InvalidReply, "reply has neither 'error' nor a valid 'network'")
	}
	if r.Network.Port == nil {
		return nil, errorf(InvalidReply, "reply has no 'port'")
	}
	if r.Network.Port.Kind != kind {
		return nil, errorf(InvalidReply, "asked for a '%s' port, the reply has '%s'", kind, r.Network.Port.Kind)
	}
	want := 0
	if kind == PortTAP {
		want = queues
	}
	if len(msg.Files) != want {
		return nil, errorf(InvalidReply, "the reply carries %d fd(s), expected %d", len(msg.Files), want)
	}
	return &Port{Network: r.Network.Network, PortInfo: *r.Network.Port, Files: msg.Files, Reply: msg.Data}, nil
}

// Status asks for every running network and its leases. A caller that is
// not root sees other users' leases hidden.
func (c *Client) Status(ctx context.Context) (*StatusReply, error) {
	var s StatusReply
	if err := c.call(ctx, map[string]any{"command": "status"}, "networks", true, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Networks asks for every network the daemon can create, with each
// file's errors.
func (c *Client) Networks(ctx context.Context) (*NetworksReply, error) {
	var n NetworksReply
	if err := c.call(ctx, map[string]any{"command": "networks"}, "networks", true, &n); err != nil {
		return nil, err
	}
	return &n, nil
}

// call sends req and decodes the reply, which must have member key (an
// object or, with array, an array) and no files, into v.
func (c *Client) call(ctx context.Context, req map[string]any, key string, array bool, v any) error {
	data, err := json.Marshal(req)
	if err != nil {
		return wrapf(InvalidRequest, err, "encode request: %v", err)
	}
	conn, msg, err := exchange(ctx, c.Socket, data)
	if err != nil {
		return err
	}
	conn.Close()
	if err := checkError(msg.Data); err != nil {
		msg.Close()
		return err
	}
	if len(msg.Files) > 0 {
		msg.Close()
		return errorf(InvalidReply, "a '%s' reply carries fds", req["command"])
	}
	var probe map[string]json.RawMessage
	if err := decodeReply(msg.Data, &probe); err != nil {
		return err
	}
	want := byte('{')
	if array {
		want = '['
	}
	if t := bytes.TrimLeft(probe[key], " \t\r\n"); len(t) == 0 || t[0] != want {
		return errorf(InvalidReply, "reply has neither 'error' nor a valid '%s'", key)
	}
	return decodeReply(msg.Data, v)
}

// leaseRequest is {"command": command} naming ref's lease; optional: the
// zero LeaseRef is allowed (ForwardList).
func leaseRequest(command string, ref LeaseRef, optional bool) (map[string]any, error) {
	req := map[string]any{"command": command}
	switch {
	case ref.Ifname != "" && ref.ID != 0:
		return nil, errorf(InvalidRequest, "name the lease by its interface or by its id, not both")
	case ref.Ifname != "":
		if !validIfname(ref.Ifname) {
			return nil, errorf(InvalidRequest, "'%s' is not a valid interface name", ref.Ifname)
		}
		req["ifname"] = ref.Ifname
	case ref.ID != 0:
		if ref.ID > math.MaxInt64 {
			return nil, errorf(InvalidRequest, "a lease id is at most %d", int64(math.MaxInt64))
		}
		req["lease_id"] = ref.ID
	case !optional:
		return nil, errorf(InvalidRequest, "name the lease by its interface or by its id")
	}
	return req, nil
}

type leaseReply struct {
	Lease *Lease `json:"lease"`
}

func (c *Client) leaseCall(ctx context.Context, req map[string]any) (*Lease, error) {
	var r leaseReply
	if err := c.call(ctx, req, "lease", false, &r); err != nil {
		return nil, err
	}
	return r.Lease, nil
}

// Release ends a lease of the caller's (root: anyone's) now: its port goes
// (a plain TAP still held by a VM is only taken off the network). It
// returns the lease as it was. ErrNotFound: no such lease; ErrNotAllowed:
// another user's.
func (c *Client) Release(ctx context.Context, ref LeaseRef) (*Lease, error) {
	req, err := leaseRequest("release", ref, false)
	if err != nil {
		return nil, err
	}
	return c.leaseCall(ctx, req)
}

// ForwardAdd forwards more host ports to the lease's address while it
// lives, all or none (ErrConflict: one is forwarded already;
// ErrLimitExceeded: more than 16 on the lease). It returns the lease with
// all its forwards.
func (c *Client) ForwardAdd(ctx context.Context, ref LeaseRef, forwards []PortForward) (*Lease, error) {
	return c.forwardChange(ctx, "forward_add", ref, forwards)
}

// ForwardRemove stops forwarding the host ports of forwards (their
// Protocol and ExternalPort) to the lease, all or none (ErrNotFound).
func (c *Client) ForwardRemove(ctx context.Context, ref LeaseRef, forwards []PortForward) (*Lease, error) {
	stripped := make([]PortForward, len(forwards))
	for i, f := range forwards {
		stripped[i] = PortForward{Protocol: f.Protocol, ExternalPort: f.ExternalPort}
	}
	return c.forwardChange(ctx, "forward_remove", ref, stripped)
}

func (c *Client) forwardChange(ctx context.Context, command string, ref LeaseRef, forwards []PortForward) (*Lease, error) {
	req, err := leaseRequest(command, ref, false)
	if err != nil {
		return nil, err
	}
	if len(forwards) == 0 {
		return nil, errorf(InvalidRequest, "give at least one port forward")
	}
	fw, err := forwardsRequest(forwards, command == "forward_remove")
	if err != nil {
		return nil, err
	}
	req["port_forwards"] = fw
	return c.leaseCall(ctx, req)
}

// ForwardList returns the lease ref names with its forwards or, for the
// zero LeaseRef, every lease of the caller's (root: of everyone's) that
// forwards ports.
func (c *Client) ForwardList(ctx context.Context, ref LeaseRef) ([]Lease, error) {
	req, err := leaseRequest("forward_list", ref, true)
	if err != nil {
		return nil, err
	}
	var r struct {
		Leases []Lease `json:"leases"`
	}
	if err := c.call(ctx, req, "leases", true, &r); err != nil {
		return nil, err
	}
	return r.Leases, nil
}

// StopNetwork removes running network name now (root only). With leases
// it is refused (ErrConflict, naming them) unless force, which ends them.
func (c *Client) StopNetwork(ctx context.Context, name string, force bool) (*StopReply, error) {
	if !ValidNetworkName(name) {
		return nil, errorf(InvalidRequest, "invalid network name '%s': 1-%d characters of A-Z, a-z, 0-9, "+
			"'.', '-', '_', starting with a letter or digit, without '..'", name, NetworkNameMax)
	}
	req := map[string]any{"command": "stop", "network_name": name}
	if force {
		req["force"] = true
	}
	var r StopReply
	if err := c.call(ctx, req, "network", false, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Release ends a lease with DefaultClient.
func Release(ctx context.Context, ref LeaseRef) (*Lease, error) {
	return DefaultClient.Release(ctx, ref)
}
