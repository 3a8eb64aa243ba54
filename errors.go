package dorrit

import (
	"errors"
	"fmt"

	"github.com/dorritgo/dorrit/internal/protocol"
)

var (
	// ErrInvalidOptions wraps every complaint Listen has about its Options.
	ErrInvalidOptions = errors.New("dorrit: invalid options")

	// ErrClosed is returned by Write, Read and Accept after the connection or
	// listener was closed. A *CloseError also matches it with errors.Is.
	ErrClosed = errors.New("dorrit: connection closed")

	// ErrQueueFull is returned by Write when MaxQueuedFrames frames already
	// wait for the client. Nothing queued before is lost; the caller may
	// retry later, use WriteContext to wait, or drop the client.
	ErrQueueFull = protocol.ErrQueueFull

	// ErrInvalidUTF8 is returned by Write and WritePrepared for a message
	// that is not valid UTF-8: a text message must be (RFC 6455 §8.1), and
	// a browser fails the connection with 1007 on one that is not. Nothing
	// is queued; the connection stays open.
	ErrInvalidUTF8 = protocol.ErrInvalidUTF8

	// ErrStalled is the cause in a *DeliveryError when the client took no
	// bytes at all for 5 s while a graceful close waited for it to read.
	ErrStalled = errors.New("dorrit: the client took no bytes for 5 s")

	// ErrBadCloseCode is returned by Drop for a close code a server may
	// not send (RFC 6455 §7.4: 1004-1006, 1015-2999 and below 1000 or
	// over 4999).
	ErrBadCloseCode = errors.New("dorrit: close code may not be sent")

	// ErrMessageTooLarge is returned by Write for a message that needs more
	// fragments than the queue can ever hold (MaxQueuedFrames × (BufferSize-5) bytes).
	ErrMessageTooLarge = protocol.ErrMessageTooLarge
)

// StatusCode is a WebSocket close code (RFC 6455 §7.4).
type StatusCode int

// The close codes dorrit sends or reports.
const (
	StatusNormalClosure   StatusCode = 1000
	StatusGoingAway       StatusCode = 1001
	StatusProtocolError   StatusCode = 1002
	StatusUnsupportedData StatusCode = 1003
	StatusNoStatusRcvd    StatusCode = 1005 // reported only: the peer's close frame had no code
	StatusAbnormalClosure StatusCode = 1006 // reported only: the connection ended without a close frame
	StatusInvalidPayload  StatusCode = 1007
	StatusPolicyViolation StatusCode = 1008
	StatusMessageTooBig   StatusCode = 1009
	StatusInternalError   StatusCode = 1011
)

// CloseError tells why a connection is closing or ended. Read and Write
// return it once a close has begun, and Err once the connection is over;
// errors.Is(err, ErrClosed) holds for it.
type CloseError struct {
	Code   StatusCode
	Reason string
	// Remote is true when the client started the close: it sent a close
	// frame, ended its stream or reset the connection while dorrit read.
	// It is false when the server did: Close, CloseNow, Shutdown, a
	// keepalive timeout, a write the socket refused, or a failure because
	// of what the client sent.
	Remote bool
}

func (e *CloseError) Error() string {
	who := "dorrit closed the connection"
	if e.Remote {
		who = "client closed the connection"
	}
	if e.Reason == "" {
		return fmt.Sprintf("dorrit: %s with %d", who, e.Code)
	}
	return fmt.Sprintf("dorrit: %s with %d: %s", who, e.Code, e.Reason)
}

// Is makes errors.Is(err, ErrClosed) true for every CloseError.
func (e *CloseError) Is(target error) bool { return target == ErrClosed }

// A DeliveryError is returned by a graceful close (Close, CloseContext,
// Listener.Shutdown) that gave up before every queued frame reached the
// client. The socket is closed; the frames are counted in Stats.Undelivered.
type DeliveryError struct {
	Undelivered int   // data frames (messages, or fragments of large ones) dropped
	Err         error // why it gave up: ctx.Err() or ErrStalled
}

func (e *DeliveryError) Error() string {
	return fmt.Sprintf("dorrit: graceful close gave up with %d queued frames undelivered: %v", e.Undelivered, e.Err)
}

// Unwrap makes errors.Is(err, context.DeadlineExceeded) or ErrStalled work.
func (e *DeliveryError) Unwrap() error { return e.Err }

// CloseStatus returns the close code carried by err, or -1 when err is not a *CloseError.
func CloseStatus(err error) StatusCode {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}
