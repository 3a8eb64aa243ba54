package protocol

import "errors"

// The errors of the application's calls. Their texts are those the root
// package documents, so that it can hand them out as they are.
var (
	// ErrQueueFull: MaxQueuedFrames data frames already wait, or the
	// queue budget refused the bytes. Nothing queued before is lost.
	ErrQueueFull = errors.New("dorrit: outgoing queue full (200 frames wait for a slow client)")

	// ErrInvalidUTF8: the message is not valid UTF-8; nothing is queued.
	ErrInvalidUTF8 = errors.New("dorrit: message not sent: it is not valid UTF-8, as a text message must be (send text, or encode binary data, e.g. as base64)")

	// ErrMessageTooLarge: the message needs more fragments than the queue
	// can ever hold (MaxQueuedFrames × MaxPayload bytes).
	ErrMessageTooLarge = errors.New("dorrit: message larger than the outgoing queue can hold")

	// ErrClosing: a close frame is queued or the connection is over;
	// Why tells whose close it is and its code.
	ErrClosing = errors.New("dorrit: connection closed")

	// ErrPreparedSize: a Prepared was framed for another MaxPayload than
	// the connection's: prepare it with Conn.MaxPayload.
	ErrPreparedSize = errors.New("dorrit: prepared message framed for another buffer size (prepare it with the connection's MaxPayload)")
)

// StatusCode is a WebSocket close code (RFC 6455 §7.4).
type StatusCode uint16

// The close codes the core sends or reports.
const (
	StatusNormalClosure   StatusCode = 1000
	StatusGoingAway       StatusCode = 1001
	StatusProtocolError   StatusCode = 1002
	StatusUnsupportedData StatusCode = 1003
	StatusNoStatusRcvd    StatusCode = 1005 // reported only: the client's close frame had no code
	StatusAbnormalClosure StatusCode = 1006 // reported only: the connection ended without a close frame
	StatusInvalidPayload  StatusCode = 1007
	StatusMessageTooBig   StatusCode = 1009
)

// ValidCloseCode reports whether code may appear in a close frame
// (RFC 6455 §7.4): 1000-1003, 1007-1014, 3000-4999.
func ValidCloseCode(code StatusCode) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}
