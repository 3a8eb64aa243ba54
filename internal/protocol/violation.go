package protocol

// MaxFragments bounds the frames of one incoming message. Fragments with a
// payload are bounded by the size rule, but empty ones cost the client
// nothing (a million were accepted); 1,024 lets a full-size message arrive
// in 64-byte pieces.
const MaxFragments = 1024

// violation is a rule a client frame header broke, found before any of its
// payload is read.
type violation struct {
	code   StatusCode
	drop   Drop
	reason string
}

// checkHeader applies RFC 6455 and the dorrit rules to a client frame
// header: see checkFrame.
func (c *Conn) checkHeader(h header) *violation {
	soFar := 0
	if c.inMessage && c.msg != nil {
		soFar = len(*c.msg)
	}
	return checkFrame(h, c.inMessage, soFar, int(c.fragments), int(c.maxPayload))
}

// checkFrame applies RFC 6455 and the dorrit rules to a client frame header:
// reserved bits, the mask, the opcode and its place in a message, control
// frames (whole and short), binary messages, the fragment bound and the size
// bound — the size before a byte of the payload is taken. inMessage says
// whether a fragmented message is being assembled, soFar how many payload
// bytes and fragments it already has.
func checkFrame(h header, inMessage bool, soFar, fragments, maxPayload int) *violation {
	switch {
	case h.rsv != 0:
		return &errReserved
	case !h.masked:
		return &errUnmasked
	}
	switch h.opcode {
	case opText:
		if inMessage {
			return &errTextInMessage
		}
	case opContinuation:
		if !inMessage {
			return &errLoneContinuation
		}
		if fragments >= MaxFragments {
			return &errTooManyFragments
		}
	case opBinary:
		return &errBinary
	case opClose, opPing, opPong:
		if !h.fin {
			return &errFragmentedControl
		}
		if h.length > maxControlPayload {
			return &errLongControl
		}
		return nil
	default:
		return &errOpcode
	}
	if h.length > uint64(maxPayload-soFar) { // soFar is 0 for an unfragmented message
		return &errTooBig
	}
	return nil
}

// The violations, with the close code each gets and the reason its close
// frame carries.
var (
	errReserved          = violation{StatusProtocolError, DropProtocol, "reserved bits set without a negotiated extension"}
	errUnmasked          = violation{StatusProtocolError, DropProtocol, "client frame not masked"}
	errTextInMessage     = violation{StatusProtocolError, DropProtocol, "new text message inside a fragmented message"}
	errLoneContinuation  = violation{StatusProtocolError, DropProtocol, "continuation frame without a message to continue"}
	errFragmentedControl = violation{StatusProtocolError, DropProtocol, "fragmented control frame"}
	errLongControl       = violation{StatusProtocolError, DropProtocol, "control frame payload over 125 bytes"}
	errOpcode            = violation{StatusProtocolError, DropProtocol, "unknown opcode"}
	errBadClose          = violation{StatusProtocolError, DropProtocol, "invalid close frame"}
	errBinary            = violation{StatusUnsupportedData, DropBinary, "binary messages are not accepted"}
	errTooManyFragments  = violation{StatusMessageTooBig, DropTooBig, "message in more than 1024 fragments"}
	errTooBig            = violation{StatusMessageTooBig, DropTooBig, "frame or message larger than the buffer size allows"}
	errBadUTF8           = violation{StatusInvalidPayload, DropBadUTF8, "invalid UTF-8 in a text message"}
	errCutUTF8           = violation{StatusInvalidPayload, DropBadUTF8, "text message ends inside a UTF-8 sequence"}
	errBadCloseUTF8      = violation{StatusInvalidPayload, DropBadUTF8, "close reason is not valid UTF-8"}
)

// fail ends the connection because of what the client sent (RFC 6455
// §7.1.7): nothing more is parsed, queued data frames are dropped, and the
// close frame with the violation's code leaves at the next frame boundary.
// A violation once the server's own close is under way is still counted,
// but changes nothing else.
func (c *Conn) fail(v *violation) Event {
	c.countDrop(v.drop)
	c.stopParsing()
	if c.state == Open {
		c.abort(CloseInfo{Code: v.code, Reason: v.reason})
	}
	return Event{Kind: Violation, Code: v.code, Reason: v.reason, Drop: v.drop}
}
