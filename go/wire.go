package vmnetbroker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Limits of protocol version 1.
const (
	// DefaultSocket is where the daemon listens unless told otherwise.
	DefaultSocket = "/run/vmnet-broker/broker.sock"
	// SocketEnv names the environment variable that points elsewhere.
	SocketEnv = "VMNET_BROKER_SOCKET"
	// ProtocolVersion is the version this package speaks.
	ProtocolVersion = 1
	// MessageMax is the most bytes of JSON one request may have.
	MessageMax = 64 * 1024
	// ReplyMax is the most bytes one reply may have: a status of hundreds
	// of leases exceeds MessageMax.
	ReplyMax = 16 * 1024 * 1024
	// FDsMax is the most file descriptors one message may carry.
	FDsMax = 16
)

// SocketPath returns $VMNET_BROKER_SOCKET when it is set and not empty,
// else DefaultSocket.
func SocketPath() string {
	if p := os.Getenv(SocketEnv); p != "" {
		return p
	}
	return DefaultSocket
}

// Message is one received message: its JSON and the files (fds) that rode
// on it as SCM_RIGHTS, which are the receiver's to close.
type Message struct {
	Data  []byte
	Files []*os.File
}

// Close closes the message's files.
func (m *Message) Close() {
	closeFiles(m.Files)
	m.Files = nil
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

// Conn is a connection to the daemon: a SOCK_SEQPACKET unix socket that
// carries one JSON message per request and per reply, in order. Closing it
// ends the named_tap and none leases acquired on it. Most programs need only
// Acquire, Status and Networks; Conn is the level below, which also sends
// any bytes (for tests of a daemon).
type Conn struct {
	c    *net.UnixConn
	path string
}

// Dial connects to the daemon's socket at path ("" for SocketPath()).
func Dial(ctx context.Context, path string) (*Conn, error) {
	if path == "" {
		path = SocketPath()
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unixpacket", path)
	if err != nil {
		return nil, connFailure(ctx, err, "connect %s", path)
	}
	return &Conn{c: c.(*net.UnixConn), path: path}, nil
}

// UnixConn returns the socket underneath.
func (c *Conn) UnixConn() *net.UnixConn { return c.c }

// Close closes the connection.
func (c *Conn) Close() error { return c.c.Close() }

// aLongTimeAgo is a deadline in the past: it wakes a blocked read or write.
var aLongTimeAgo = time.Unix(1, 0)

// watch applies ctx's deadline to the socket and interrupts its I/O when
// ctx is cancelled; call the returned function when the I/O is done.
func (c *Conn) watch(ctx context.Context) func() {
	d, _ := ctx.Deadline()
	c.c.SetDeadline(d)
	if ctx.Done() == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			c.c.SetDeadline(aLongTimeAgo)
		case <-done:
		}
	}()
	return func() { close(done) }
}

// connFailure: ConnectionFailure, naming ctx's error when it ended the call.
func connFailure(ctx context.Context, err error, format string, args ...any) *Error {
	what := fmt.Sprintf(format, args...)
	cerr := ctx.Err()
	if d, ok := ctx.Deadline(); cerr == nil && ok && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(d) {
		// The socket's deadline, which is ctx's, fired before ctx's own timer.
		cerr = context.DeadlineExceeded
	}
	if cerr != nil {
		return wrapf(ConnectionFailure, cerr, "%s: %v", what, cerr)
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return wrapf(ConnectionFailure, err, "%s: %v", what, op.Err)
	}
	return wrapf(ConnectionFailure, err, "%s: %v", what, err)
}

// Send sends data as one message with files as SCM_RIGHTS (borrowed: they
// stay open).
func (c *Conn) Send(ctx context.Context, data []byte, files ...*os.File) error {
	defer c.watch(ctx)()
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			fds[i] = int(f.Fd())
		}
		oob = syscall.UnixRights(fds...)
	}
	_, _, err := c.c.WriteMsgUnix(data, oob, nil)
	for _, f := range files {
		// f.Fd() is valid until here: keep f from being finalized before.
		runtime.KeepAlive(f)
	}
	if err != nil {
		if errors.Is(err, syscall.EMSGSIZE) {
			return wrapf(InvalidRequest, err, "request of %d bytes is too large", len(data))
		}
		return connFailure(ctx, err, "send request")
	}
	return nil
}

// SendJSON sends v encoded as JSON, with files.
func (c *Conn) SendJSON(ctx context.Context, v any, files ...*os.File) error {
	data, err := json.Marshal(v)
	if err != nil {
		return wrapf(InvalidRequest, err, "encode request: %v", err)
	}
	return c.Send(ctx, data, files...)
}

// replySize returns the length of the next message without reading it:
// MSG_PEEK|MSG_TRUNC gives a SEQPACKET message's real length.
func (c *Conn) replySize() (int, error) {
	raw, err := c.c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var rerr error
	var one [1]byte
	err = raw.Read(func(fd uintptr) bool {
		n, _, rerr = syscall.Recvfrom(int(fd), one[:], syscall.MSG_PEEK|syscall.MSG_TRUNC|syscall.MSG_DONTWAIT)
		return rerr != syscall.EAGAIN
	})
	if err != nil {
		return 0, err
	}
	return n, rerr
}

// Receive reads one message with its files. It fails with ConnectionFailure
// when the daemon closed the connection without replying, and with
// InvalidReply when the message was cut (longer than ReplyMax, or with more
// than FDsMax files).
func (c *Conn) Receive(ctx context.Context) (*Message, error) {
	defer c.watch(ctx)()
	n, err := c.replySize()
	if err != nil {
		return nil, connFailure(ctx, err, "receive reply")
	}
	size := n
	if size < MessageMax {
		size = MessageMax
	}
	if size > ReplyMax {
		size = ReplyMax
	}
	// One byte more: a message that grew past the limit still shows as too long.
	buf := make([]byte, size+1)
	oob := make([]byte, syscall.CmsgSpace(FDsMax*4))
	n, oobn, flags, _, err := c.c.ReadMsgUnix(buf, oob)
	var files []*os.File
	if oobn > 0 {
		files = parseRights(oob[:oobn])
	}
	if err != nil {
		closeFiles(files)
		if errors.Is(err, io.EOF) {
			return nil, errorf(ConnectionFailure, "the daemon closed the connection without replying")
		}
		return nil, connFailure(ctx, err, "receive reply")
	}
	if n == 0 {
		closeFiles(files)
		return nil, errorf(ConnectionFailure, "the daemon closed the connection without replying")
	}
	if flags&syscall.MSG_CTRUNC != 0 {
		closeFiles(files)
		return nil, errorf(InvalidReply, "reply carries more than %d fds", FDsMax)
	}
	if flags&syscall.MSG_TRUNC != 0 || n > size {
		closeFiles(files)
		return nil, errorf(InvalidReply, "reply larger than %d bytes", ReplyMax)
	}
	return &Message{Data: buf[:n:n], Files: files}, nil
}

// parseRights turns every SCM_RIGHTS fd in oob into a file, so that none leaks.
func parseRights(oob []byte) []*os.File {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var files []*os.File
	for i := range msgs {
		fds, err := syscall.ParseUnixRights(&msgs[i])
		if err != nil {
			continue
		}
		for _, fd := range fds {
			files = append(files, os.NewFile(uintptr(fd), "vmnet-broker"))
		}
	}
	return files
}

// Request sends data with files and receives the reply.
func (c *Conn) Request(ctx context.Context, data []byte, files ...*os.File) (*Message, error) {
	if err := c.Send(ctx, data, files...); err != nil {
		return nil, err
	}
	return c.Receive(ctx)
}

// knownKeys are the members of the replies of protocol version 1. None of
// them is ever null; encoding/json would take a null for a zero value.
var knownKeys = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`error message network networks version name mode bridge
		subnet mask ipv6_prefix prefix_len mtu description port kind ifname mac address
		port_forwards protocol external_port internal_address internal_port uid pid label
		hidden state idle_remaining dnsmasq_pid leases source persistent active
		pending_change errors file key reason`) {
		knownKeys[k] = true
	}
}

// checkReplyJSON fails on an object with a key twice (two values for one key
// are ambiguous, and the daemon and the C library refuse them too) and on a
// known member that is null.
func checkReplyJSON(data []byte) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var walk func() error
	walk = func() error {
		t, err := d.Token()
		if err != nil {
			return err
		}
		delim, ok := t.(json.Delim)
		if !ok {
			return nil
		}
		switch delim {
		case '{':
			seen := map[string]bool{}
			for d.More() {
				k, err := d.Token()
				if err != nil {
					return err
				}
				key := k.(string)
				if seen[key] {
					return fmt.Errorf("duplicate key %q", key)
				}
				seen[key] = true
				if knownKeys[key] {
					var v json.RawMessage
					if err := d.Decode(&v); err != nil {
						return err
					}
					if string(v) == "null" {
						return fmt.Errorf("'%s' is null", key)
					}
					if err := checkReplyJSON(v); err != nil {
						return err
					}
					continue
				}
				if err := walk(); err != nil {
					return err
				}
			}
		case '[':
			for d.More() {
				if err := walk(); err != nil {
					return err
				}
			}
		}
		_, err = d.Token() // the closing delimiter
		return err
	}
	if err := walk(); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return fmt.Errorf("data after the JSON value")
	}
	return nil
}
