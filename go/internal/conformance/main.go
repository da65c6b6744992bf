// Command conformance is the Go package's conformance runner:
//
//	vmnet-broker-conformance-go SOCKET CASE.json
//
// It makes the case's "call" through package vmnetbroker and prints the
// outcome as one JSON object (test/conformance/conformance.py of the
// project says what it holds).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"vmnet-broker.invalid/vmnetbroker"
)

type call struct {
	Command       string `json:"command"`
	Network       string `json:"network"`
	SocketFromEnv bool   `json:"socket_from_env"`
	Label         string `json:"label"`   // wait_address
	Timeout       *int   `json:"timeout"` // wait_address
	Options       struct {
		Port         string  `json:"port"`
		MAC          string  `json:"mac"`
		Label        string  `json:"label"`
		Netns        string  `json:"netns"`
		Ifname       string  `json:"ifname"`
		VnetHdr      bool    `json:"vnet_hdr"`
		MultiQueue   int     `json:"multi_queue"`
		Persistent   bool    `json:"persistent"`
		PortForwards [][]any `json:"port_forwards"`
	} `json:"options"`
	// release, forward_*, wait_address: the lease; forward_*: the
	// forwards; stop: force.
	Ifname       string  `json:"ifname"`
	LeaseID      uint64  `json:"lease_id"`
	PortForwards [][]any `json:"port_forwards"`
	Force        bool    `json:"force"`
}

// forwards turns [["tcp", 2222, 22], ["udp", 53]] into PortForwards.
func forwards(v [][]any) []vmnetbroker.PortForward {
	var out []vmnetbroker.PortForward
	for _, f := range v {
		var pf vmnetbroker.PortForward
		if len(f) > 0 {
			pf.Protocol, _ = f[0].(string)
		}
		if len(f) > 1 {
			e, _ := f[1].(float64)
			pf.ExternalPort = int(e)
		}
		if len(f) > 2 {
			i, _ := f[2].(float64)
			pf.InternalPort = int(i)
		}
		out = append(out, pf)
	}
	return out
}

type outcome struct {
	Status    int      `json:"status"`
	Name      string   `json:"name,omitempty"`
	Message   string   `json:"message,omitempty"`
	Value     any      `json:"value,omitempty"`
	FDs       *int     `json:"fds,omitempty"`
	FDTargets []string `json:"fd_targets,omitempty"`
	Leaked    []string `json:"leaked_fds"`
}

// openFDs maps each open fd to its target. The runtime's own (its netpoll
// epoll and wakeup fds) are left out: they come and stay with the first
// network call, and are no leak of the package.
func openFDs() map[string]string {
	out := map[string]string{}
	ents, _ := os.ReadDir("/proc/self/fd")
	for _, e := range ents {
		t, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil {
			continue
		}
		switch t {
		case "anon_inode:[eventpoll]", "anon_inode:[eventfd]":
			continue
		}
		if len(t) > 5 && t[:5] == "pipe:" {
			continue
		}
		out[e.Name()] = t
	}
	return out
}

func failed(err error) outcome {
	var e *vmnetbroker.Error
	if !errors.As(err, &e) {
		fmt.Fprintln(os.Stderr, "not a *vmnetbroker.Error:", err)
		os.Exit(2)
	}
	return outcome{Status: int(e.Code), Name: e.Code.String(), Message: e.Message}
}

func acquire(ctx context.Context, c *vmnetbroker.Client, cl *call) outcome {
	o := cl.Options
	opts := &vmnetbroker.AcquireOptions{Port: vmnetbroker.PortKind(o.Port), MAC: o.MAC, Label: o.Label,
		Ifname: o.Ifname, VnetHdr: o.VnetHdr, MultiQueue: o.MultiQueue, Persistent: o.Persistent}
	if o.Netns == "self" {
		opts.NetnsPath = "/proc/self/ns/net"
	} else {
		opts.NetnsPath = o.Netns
	}
	opts.PortForwards = forwards(o.PortForwards)
	port, err := c.Acquire(ctx, cl.Network, opts)
	if err != nil {
		return failed(err)
	}
	defer port.Close()
	type value struct {
		vmnetbroker.Network
		Port vmnetbroker.PortInfo `json:"port"`
	}
	n := len(port.Files)
	out := outcome{Value: value{port.Network, port.PortInfo}, FDs: &n}
	for _, f := range port.Files {
		t, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
		out.FDTargets = append(out.FDTargets, t)
	}
	return out
}

func run(ctx context.Context, sock string, cl *call) outcome {
	if cl.SocketFromEnv {
		os.Setenv(vmnetbroker.SocketEnv, sock)
		sock = ""
	}
	c := &vmnetbroker.Client{Socket: sock}
	zero := 0
	switch cl.Command {
	case "acquire":
		return acquire(ctx, c, cl)
	case "status":
		s, err := c.Status(ctx)
		if err != nil {
			return failed(err)
		}
		return outcome{Value: s, FDs: &zero}
	case "networks":
		n, err := c.Networks(ctx)
		if err != nil {
			return failed(err)
		}
		return outcome{Value: n, FDs: &zero}
	case "release", "forward_add", "forward_remove":
		ref := vmnetbroker.LeaseRef{Ifname: cl.Ifname, ID: cl.LeaseID}
		var l *vmnetbroker.Lease
		var err error
		switch cl.Command {
		case "release":
			l, err = c.Release(ctx, ref)
		case "forward_add":
			l, err = c.ForwardAdd(ctx, ref, forwards(cl.PortForwards))
		default:
			l, err = c.ForwardRemove(ctx, ref, forwards(cl.PortForwards))
		}
		if err != nil {
			return failed(err)
		}
		return outcome{Value: map[string]any{"lease": l}, FDs: &zero}
	case "forward_list":
		l, err := c.ForwardList(ctx, vmnetbroker.LeaseRef{Ifname: cl.Ifname, ID: cl.LeaseID})
		if err != nil {
			return failed(err)
		}
		if l == nil {
			l = []vmnetbroker.Lease{}
		}
		return outcome{Value: map[string]any{"leases": l}, FDs: &zero}
	case "stop":
		s, err := c.StopNetwork(ctx, cl.Network, cl.Force)
		if err != nil {
			return failed(err)
		}
		if s.EndedLeases == nil {
			s.EndedLeases = []vmnetbroker.Lease{}
		}
		return outcome{Value: s, FDs: &zero}
	case "wait_address":
		o := &vmnetbroker.WaitOptions{Ifname: cl.Ifname, Label: cl.Label, Network: cl.Network}
		if cl.Timeout != nil && *cl.Timeout == 0 {
			o.NoWait = true
		} else if cl.Timeout != nil {
			o.Timeout = time.Duration(*cl.Timeout) * time.Second
		}
		w, err := c.WaitAddress(ctx, o)
		if err != nil {
			return failed(err)
		}
		return outcome{Value: w, FDs: &zero}
	}
	fmt.Fprintln(os.Stderr, "unknown command", cl.Command)
	os.Exit(2)
	return outcome{}
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: vmnet-broker-conformance-go SOCKET CASE.json")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var c struct {
		Call call `json:"call"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		fmt.Fprintln(os.Stderr, os.Args[2], err)
		os.Exit(2)
	}
	// The runtime's netpoll fds first, so that they are not counted.
	if a, b, err := socketPair(); err == nil {
		a.Close()
		b.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	before := openFDs()
	out := run(ctx, os.Args[1], &c.Call)
	out.Leaked = []string{}
	for fd, t := range openFDs() {
		if before[fd] != t {
			out.Leaked = append(out.Leaked, fd+" -> "+t)
		}
	}
	json.NewEncoder(os.Stdout).Encode(out)
}

func socketPair() (net.Conn, net.Conn, error) {
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: "@vmnet-broker-conformance-" + strconv.Itoa(os.Getpid()), Net: "unixpacket"})
	if err != nil {
		return nil, nil, err
	}
	defer l.Close()
	a, err := net.Dial("unixpacket", l.Addr().String())
	if err != nil {
		return nil, nil, err
	}
	b, err := l.Accept()
	if err != nil {
		a.Close()
		return nil, nil, err
	}
	return a, b, nil
}
