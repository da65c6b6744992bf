package vmnetbroker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
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
//
// A Conn is a blocking socket of its own rather than a net.Conn: the reply
// to an acquire comes when the daemon has made the port, and a thread
// blocked in recvmsg(2) wakes at once, where the runtime's network poller
// adds a hand-over between threads. A context's deadline becomes the
// socket's SO_RCVTIMEO and SO_SNDTIMEO; its cancellation shuts the socket
// down, which wakes the blocked call.
type Conn struct {
	fd     int
	path   string
	closed bool
}

// Dial connects to the daemon's socket at path ("" for SocketPath()).
func Dial(ctx context.Context, path string) (*Conn, error) {
	c, err := newConn(ctx, path)
	if err != nil {
		return nil, err
	}
	stop := c.watch(ctx)
	err = c.connect(ctx)
	stop()
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// newConn makes the socket of a connection to path, not yet connected.
func newConn(ctx context.Context, path string) (*Conn, error) {
	if path == "" {
		path = SocketPath()
	}
	if err := ctx.Err(); err != nil {
		return nil, connFailure(ctx, err, "connect %s", path)
	}
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, wrapf(ConnectionFailure, err, "socket: %v", err)
	}
	c := &Conn{fd: fd, path: path}
	runtime.SetFinalizer(c, (*Conn).Close)
	return c, nil
}

func (c *Conn) connect(ctx context.Context) error {
	for {
		// Blocks only while the daemon's backlog is full; SO_SNDTIMEO bounds it.
		err := syscall.Connect(c.fd, &syscall.SockaddrUnix{Name: c.path})
		if err == nil {
			return nil
		}
		if err != syscall.EINTR {
			return connFailure(ctx, timeoutErr(err), "connect %s", c.path).withAdvice(err)
		}
	}
}

// exchange connects to path and makes one request: the connection and the
// reply. One watch() for all three steps: an acquire pays for it once.
func exchange(ctx context.Context, path string, data []byte, files ...*os.File) (*Conn, *Message, error) {
	c, err := newConn(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	stop := c.watch(ctx)
	var m *Message
	err = c.connect(ctx)
	if err == nil {
		err = c.send(ctx, data, files)
	}
	if err == nil {
		m, err = c.receive(ctx)
	}
	stop()
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, m, nil
}

// Close closes the connection.
func (c *Conn) Close() error {
	if c.closed {
		return syscall.EBADF
	}
	c.closed = true
	runtime.SetFinalizer(c, nil)
	return syscall.Close(c.fd)
}

// Fd returns the socket's file descriptor, still owned by the Conn.
func (c *Conn) Fd() int { return c.fd }

// errTimeout stands for the socket timeout (EAGAIN) that ctx's deadline set.
var errTimeout = errors.New("timed out")

func timeoutErr(err error) error {
	if err == syscall.EAGAIN || err == syscall.EINPROGRESS {
		return errTimeout
	}
	return err
}

// watch applies ctx's deadline to the socket's timeouts and shuts the
// socket down when ctx is cancelled first; call the returned function when
// the I/O is done.
func (c *Conn) watch(ctx context.Context) func() {
	var tv syscall.Timeval // zero: no timeout
	if d, ok := ctx.Deadline(); ok {
		left := time.Until(d)
		if left < time.Microsecond {
			left = time.Microsecond
		}
		tv = syscall.NsecToTimeval(left.Nanoseconds())
	}
	syscall.SetsockoptTimeval(c.fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	syscall.SetsockoptTimeval(c.fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &tv)
	if ctx.Done() == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		select {
		case <-ctx.Done():
			syscall.Shutdown(c.fd, syscall.SHUT_RDWR)
		case <-done:
		}
	}()
	return func() {
		close(done)
		<-finished // no shutdown behind our back once the call is over
	}
}

// connFailure: ConnectionFailure, naming ctx's error when it ended the call.
func connFailure(ctx context.Context, err error, format string, args ...any) *Error {
	what := fmt.Sprintf(format, args...)
	cerr := ctx.Err()
	if d, ok := ctx.Deadline(); cerr == nil && ok && err == errTimeout && !time.Now().Before(d) {
		// The socket's timeout, which is ctx's deadline, fired before ctx's own timer.
		cerr = context.DeadlineExceeded
	}
	if cerr != nil {
		return wrapf(ConnectionFailure, cerr, "%s: %v", what, cerr)
	}
	return wrapf(ConnectionFailure, err, "%s: %v", what, err)
}

// Group is who may connect to the packaged daemon's socket, besides root.
const Group = "vmnet-broker"

// userName is uid's name in /etc/passwd, or "USER". (Not os/user: with cgo
// on, it links the C library in, and this package is pure Go.)
func userName(uid int) string {
	data, err := os.ReadFile("/etc/passwd")
	if err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Split(line, ":")
			if len(f) > 2 && f[2] == strconv.Itoa(uid) {
				return f[0]
			}
		}
	}
	return "USER"
}

// withAdvice adds to a failure to connect what the user can do about it
// (the same words as the C library's).
func (e *Error) withAdvice(err error) *Error {
	switch err {
	case syscall.EACCES, syscall.EPERM:
		name := userName(os.Getuid())
		e.Message += fmt.Sprintf(": only root and the members of group '%s' may use the broker; "+
			"to join it: sudo usermod -aG %s %s, then log in again (or run: newgrp %s)",
			Group, Group, name, Group)
	case syscall.ENOENT, syscall.ECONNREFUSED:
		e.Message += ": the vmnet-broker daemon is not running; start it with: sudo systemctl " +
			"start vmnet-brokerd.socket (it then starts on the first connection), or run vmnet-brokerd"
	}
	return e
}

// Send sends data as one message with files as SCM_RIGHTS (borrowed: they
// stay open).
func (c *Conn) Send(ctx context.Context, data []byte, files ...*os.File) error {
	if c.closed {
		return errorf(ConnectionFailure, "send request: the connection is closed")
	}
	defer c.watch(ctx)()
	return c.send(ctx, data, files)
}

func (c *Conn) send(ctx context.Context, data []byte, files []*os.File) error {
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			fds[i] = int(f.Fd())
		}
		oob = syscall.UnixRights(fds...)
	}
	var err error
	for {
		// MSG_NOSIGNAL: a daemon that went away must not raise SIGPIPE.
		_, err = syscall.SendmsgN(c.fd, data, oob, nil, syscall.MSG_NOSIGNAL)
		if err != syscall.EINTR {
			break
		}
	}
	for _, f := range files {
		// f.Fd() is valid until here: keep f from being finalized before.
		runtime.KeepAlive(f)
	}
	if err == syscall.EMSGSIZE {
		return wrapf(InvalidRequest, err, "request of %d bytes is too large", len(data))
	}
	if err != nil {
		return connFailure(ctx, timeoutErr(err), "send request")
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

// recvmsg is recvmsg(2), again after EINTR.
func (c *Conn) recvmsg(buf, oob []byte, flags int) (n, oobn, rflags int, err error) {
	for {
		n, oobn, rflags, _, err = syscall.Recvmsg(c.fd, buf, oob, flags)
		if err != syscall.EINTR {
			return
		}
	}
}

// Receive reads one message with its files. It fails with ConnectionFailure
// when the daemon closed the connection without replying, and with
// InvalidReply when the message was cut (longer than ReplyMax, or with more
// than FDsMax files).
func (c *Conn) Receive(ctx context.Context) (*Message, error) {
	if c.closed {
		return nil, errorf(ConnectionFailure, "receive reply: the connection is closed")
	}
	defer c.watch(ctx)()
	return c.receive(ctx)
}

func (c *Conn) receive(ctx context.Context) (*Message, error) {
	// MSG_PEEK|MSG_TRUNC gives a SEQPACKET message's real length, whatever
	// the buffer: a reply may be longer than MessageMax.
	var one [1]byte
	n, _, _, err := c.recvmsg(one[:], nil, syscall.MSG_PEEK|syscall.MSG_TRUNC)
	var buf, oob []byte
	var oobn, flags, size int
	if err == nil && n > 0 {
		size = n
		if size < MessageMax {
			size = MessageMax
		}
		if size > ReplyMax {
			size = ReplyMax
		}
		// One byte more: a message that grew past the limit still shows as too long.
		buf = make([]byte, size+1)
		oob = make([]byte, syscall.CmsgSpace(FDsMax*4))
		// MSG_CMSG_CLOEXEC: no window in which a fork+exec inherits a TAP.
		n, oobn, flags, err = c.recvmsg(buf, oob, syscall.MSG_CMSG_CLOEXEC)
	}
	if err != nil {
		return nil, connFailure(ctx, timeoutErr(err), "receive reply")
	}
	var files []*os.File
	if oobn > 0 {
		files = parseRights(oob[:oobn])
	}
	if n == 0 {
		closeFiles(files)
		if ctx.Err() != nil { // shut down by watch(): the reply never came
			return nil, connFailure(ctx, ctx.Err(), "receive reply")
		}
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
		pending_change errors file key reason lease_id internal_address6 network_name
		lease ended_leases cidr ipv6_cidr domain guests names on_bridge ipv4 ipv6
		hostname`) {
		knownKeys[k] = true
	}
}

// checkReplyJSON fails on an object with a key twice (two values for one key
// are ambiguous, and the daemon and the C library refuse them too) and on a
// known member that is null.
func checkReplyJSON(data []byte) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	// walk reads one value; key is the member it is the value of ("" in arrays).
	var walk func(key string) error
	walk = func(key string) error {
		t, err := d.Token()
		if err != nil {
			return err
		}
		if t == nil && knownKeys[key] {
			return fmt.Errorf("'%s' is null", key)
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
				name := k.(string)
				if seen[name] {
					return fmt.Errorf("duplicate key %q", name)
				}
				seen[name] = true
				if err := walk(name); err != nil {
					return err
				}
			}
		case '[':
			for d.More() {
				if err := walk(""); err != nil {
					return err
				}
			}
		}
		_, err = d.Token() // the closing delimiter
		return err
	}
	if err := walk(""); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return fmt.Errorf("data after the JSON value")
	}
	return nil
}
