package vmnetbroker

import (
	"errors"
	"fmt"
)

// Code is a status code of the protocol (vmnet_broker_return_t in C): the
// same numbers and names as the macOS vmnet-broker (its XPC_FAILURE is
// ConnectionFailure here), extended after InternalError. Code implements
// error, so each constant is also the sentinel that errors.Is matches:
//
//	if errors.Is(err, vmnetbroker.ErrNotFound) { ... }
type Code int

// The status codes. Their String is the C name, e.g. "VMNET_BROKER_NOT_FOUND".
const (
	Success           Code = 0  // VMNET_BROKER_SUCCESS
	ConnectionFailure Code = 1  // cannot reach the daemon
	InvalidReply      Code = 2  // the daemon's reply is malformed
	NotAllowed        Code = 3  // the caller may not use that network
	InvalidRequest    Code = 4  // malformed request, bad key or value
	NotFound          Code = 5  // no such network
	CreateFailure     Code = 6  // creating the network or port failed
	InternalError     Code = 7  // anything else
	LimitExceeded     Code = 8  // a per-connection, per-user or per-network limit
	Conflict          Code = 9  // an address, MAC or forwarded port already taken
	Timeout           Code = 10 // what was waited for did not come in time
)

// Sentinel errors, one per failure code, for errors.Is. They are the Code
// constants themselves, typed as error.
var (
	ErrConnectionFailure error = ConnectionFailure
	ErrInvalidReply      error = InvalidReply
	ErrNotAllowed        error = NotAllowed
	ErrInvalidRequest    error = InvalidRequest
	ErrNotFound          error = NotFound
	ErrCreateFailure     error = CreateFailure
	ErrInternalError     error = InternalError
	ErrLimitExceeded     error = LimitExceeded
	ErrConflict          error = Conflict
	ErrTimeout           error = Timeout
)

var statusNames = [...]struct{ name, text string }{
	{"VMNET_BROKER_SUCCESS", "success"},
	{"VMNET_BROKER_CONNECTION_FAILURE", "cannot connect to the vmnet-broker daemon"},
	{"VMNET_BROKER_INVALID_REPLY", "the daemon's reply is malformed"},
	{"VMNET_BROKER_NOT_ALLOWED", "not allowed to use this network"},
	{"VMNET_BROKER_INVALID_REQUEST", "invalid request"},
	{"VMNET_BROKER_NOT_FOUND", "no such network"},
	{"VMNET_BROKER_CREATE_FAILURE", "failed to create the network or port"},
	{"VMNET_BROKER_INTERNAL_ERROR", "internal error in the daemon"},
	{"VMNET_BROKER_LIMIT_EXCEEDED", "limit exceeded"},
	{"VMNET_BROKER_CONFLICT", "address, MAC or port already in use"},
	{"VMNET_BROKER_TIMEOUT", "timed out"},
}

// String returns the code's C name, "VMNET_BROKER_NOT_FOUND" for NotFound,
// and "VMNET_BROKER_UNKNOWN" for a code this version does not know (a newer
// daemon may add codes).
func (s Code) String() string {
	if s < 0 || int(s) >= len(statusNames) {
		return "VMNET_BROKER_UNKNOWN"
	}
	return statusNames[s].name
}

// Text returns a sentence for a person, as vmnet_broker_strerror() does.
func (s Code) Text() string {
	if s < 0 || int(s) >= len(statusNames) {
		return "unknown status code"
	}
	return statusNames[s].text
}

// Error makes a Code usable as a sentinel error; it is the code's name.
func (s Code) Error() string {
	return s.String()
}

// Error is every failure of this package: the status code, the message (the
// daemon's own when the daemon refused the request) and, for connection
// failures, the error underneath (a *net.OpError, context.DeadlineExceeded).
type Error struct {
	Code    Code
	Message string
	Err     error
}

// Error is the code's name and the message: "VMNET_BROKER_NOT_FOUND: no network named 'lab' ...".
func (e *Error) Error() string {
	return e.Code.String() + ": " + e.Message
}

// Unwrap returns the error underneath, if any.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is e's Code (a Code, or a sentinel Err*), or
// an *Error with the same Code.
func (e *Error) Is(target error) bool {
	switch t := target.(type) {
	case Code:
		return t == e.Code
	case *Error:
		return t.Code == e.Code && (t.Message == "" || t.Message == e.Message)
	}
	return false
}

// CodeOf returns the status code of err: Success for nil, the code of an
// *Error or a Code in err's chain, InternalError for anything else.
func CodeOf(err error) Code {
	if err == nil {
		return Success
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	var s Code
	if errors.As(err, &s) {
		return s
	}
	return InternalError
}

func errorf(s Code, format string, args ...any) *Error {
	return &Error{Code: s, Message: fmt.Sprintf(format, args...)}
}

func wrapf(s Code, err error, format string, args ...any) *Error {
	return &Error{Code: s, Message: fmt.Sprintf(format, args...), Err: err}
}
