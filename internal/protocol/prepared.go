package protocol

import "unicode/utf8"

// A Prepared is a text message framed once for many connections (a
// broadcast): WritePrepared queues the same read-only frames on every
// connection instead of copying the message into each queue, so sending it
// to N connections allocates nothing per connection. A Prepared never
// changes once made, so any number of connections' engines may use it at
// once.
type Prepared struct {
	frames     []*[]byte
	size       int // the message's payload bytes
	maxPayload int
	valid      bool // UTF-8, checked once here rather than once per connection
}

// Prepare frames msg as text frames of at most maxPayload bytes each (the
// connections' MaxPayload). msg is copied.
func Prepare(msg []byte, maxPayload int) *Prepared {
	p := &Prepared{size: len(msg), maxPayload: maxPayload, valid: utf8.Valid(msg)}
	op := byte(opText)
	for {
		n := min(len(msg), maxPayload)
		fin := n == len(msg)
		b := appendFrame(make([]byte, 0, maxServerHeader+n), fin, op, msg[:n])
		p.frames = append(p.frames, &b)
		if fin {
			return p
		}
		msg, op = msg[n:], opContinuation
	}
}

// MaxPayload is the fragment size p was framed for.
func (p *Prepared) MaxPayload() int { return p.maxPayload }

// WritePrepared queues p like Write queues a message, with every rule of
// Write and its errors; ErrPreparedSize when p was framed for another
// MaxPayload.
func (c *Conn) WritePrepared(p *Prepared) error {
	switch {
	case !p.valid:
		return ErrInvalidUTF8
	case p.maxPayload != int(c.maxPayload):
		return ErrPreparedSize
	case len(p.frames) > MaxQueuedFrames:
		return ErrMessageTooLarge
	}
	if err := c.admit(p.size, len(p.frames)); err != nil {
		return err
	}
	for _, b := range p.frames {
		c.pushData(b, kindShared)
	}
	return nil
}
