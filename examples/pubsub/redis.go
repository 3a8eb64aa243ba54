package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisBroker lets several pubsub servers share topics through Redis.
//
// Each topic is a hash, a stream and a channel:
//
//	pubsub:{news}:meta  hash: epoch (names the log), seq (the last offset)
//	pubsub:{news}:log   stream: the last History messages, entry ID <offset>-0, field d
//	pubsub:{news}       channel: "<epoch> <offset> <data>" for every message
//
// One Lua script publishes: it takes the next offset, appends to the
// stream and PUBLISHes, all at once, because Redis runs a script alone:
// whichever server publishes, offsets are given in one order and every
// subscribed server receives them in that order. Pub/sub delivers only to
// connections subscribed at that moment, so after (re)subscribing the
// broker reads the head and the hub fetches what it missed from the
// stream (Sink.Head); the stream is also the history resuming clients are
// replayed from. The epoch lives in the same hash as seq: when Redis loses
// the data (a restart without persistence), both go together, and the next
// publish starts a new epoch. This broker talks to one Redis; the {braces}
// would keep a topic's keys in one Redis Cluster slot, as the script needs.
type redisBroker struct {
	rdb     *redis.Client
	ps      *redis.PubSub
	sink    Sink
	history int
	addr    string
	log     *slog.Logger

	down atomic.Bool // last call failed: said once per outage

	// Watch and Unwatch queue here, in order, for the goroutine that
	// talks to Redis, so that neither waits on the network.
	opsMu sync.Mutex
	ops   []watchOp
	wake  chan struct{}

	ctx  context.Context // ends with Close
	stop context.CancelFunc
	wg   sync.WaitGroup
}

type watchOp struct {
	topic string
	watch bool
}

const redisPrefix = "pubsub:"

// redisTopicTTL: a topic's keys expire a day after its last publish, so
// that topics nobody uses leave Redis. A subscriber of a topic that
// expired gets a missed event at the next publish (a new log begins),
// though it missed nothing.
const redisTopicTTL = 24 * time.Hour

func metaKey(topic string) string { return redisPrefix + "{" + topic + "}:meta" }
func logKey(topic string) string  { return redisPrefix + "{" + topic + "}:log" }
func channel(topic string) string { return redisPrefix + "{" + topic + "}" }

func topicOf(channel string) (string, bool) {
	s, ok := strings.CutPrefix(channel, redisPrefix+"{")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(s, "}")
}

// publishScript: KEYS meta, log; ARGV data, history length, a new epoch
// (used when the log does not exist), channel, seconds the topic's keys
// live after its last publish. Returns {epoch, offset}.
var publishScript = redis.NewScript(`
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
	epoch = ARGV[3]
	redis.call('DEL', KEYS[1], KEYS[2])
	redis.call('HSET', KEYS[1], 'epoch', epoch)
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local offset = string.format('%d', seq)
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[2], offset .. '-0', 'd', ARGV[1])
redis.call('PUBLISH', ARGV[4], epoch .. ' ' .. offset .. ' ' .. ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
return {epoch, seq}
`)

// newRedisBroker connects to url (redis://host:port[/db]); a Redis that is
// not there yet is waited for in the background.
func newRedisBroker(url string, history int, sink Sink, log *slog.Logger) (*redisBroker, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("broker %q: %v (want redis://host:port or redis://host:port/db)", url, err)
	}
	// Fail fast while Redis is away: a publisher is told at once, and no
	// publish that may have gone through is sent twice.
	opt.DialTimeout = time.Second
	opt.DialerRetries = 1
	opt.ReadTimeout = brokerTimeout
	opt.WriteTimeout = brokerTimeout
	opt.MaxRetries = -1
	opt.DisableIdentity = true
	// go-redis has one logger per process, read by its goroutines
	// without a lock: set it once, before any of them runs.
	setRedisLogger.Do(func() { redis.SetLogger(redisLogger{log}) })
	b := &redisBroker{
		rdb: redis.NewClient(opt), sink: sink, history: history, addr: opt.Addr, log: log,
		wake: make(chan struct{}, 1),
	}
	b.ctx, b.stop = context.WithCancel(context.Background())
	b.ps = b.rdb.Subscribe(b.ctx)
	msgs := b.ps.ChannelWithSubscriptions(redis.WithChannelSize(1024))
	b.wg.Add(3)
	go b.receive(msgs)
	go b.runOps()
	go func() {
		// Say at start when Redis is not there, rather than at the
		// first publish.
		defer b.wg.Done()
		ctx, cancel := context.WithTimeout(b.ctx, brokerTimeout)
		defer cancel()
		if err := b.rdb.Ping(ctx).Err(); err != nil && b.ctx.Err() == nil {
			b.failed(err)
		}
	}()
	return b, nil
}

// failed wraps a Redis error so that it says where, and notes the outage.
func (b *redisBroker) failed(err error) error {
	if b.down.CompareAndSwap(false, true) {
		b.log.Warn("Redis unavailable: publishes fail and deliveries wait until it is back", "addr", b.addr, "err", err)
	}
	return fmt.Errorf("redis at %s: %w", b.addr, err)
}

func (b *redisBroker) ok() {
	if b.down.CompareAndSwap(true, false) {
		b.log.Info("Redis is back", "addr", b.addr)
	}
}

func (b *redisBroker) Publish(ctx context.Context, topic string, data []byte) (Position, error) {
	res, err := publishScript.Run(ctx, b.rdb, []string{metaKey(topic), logKey(topic)},
		data, b.history, newEpoch(), channel(topic), int64(redisTopicTTL/time.Second)).Slice()
	if err != nil {
		if sentMaybe(err) {
			return Position{}, b.failed(fmt.Errorf("%w: %w", errPerhapsSent, err))
		}
		return Position{}, b.failed(err)
	}
	b.ok()
	epoch, _ := res[0].(string)
	seq, _ := res[1].(int64)
	return Position{epoch, uint64(seq)}, nil
}

// sentMaybe says whether a failed command may have reached Redis: every
// failure except Redis's own error reply, a closed client, a pool that had
// no connection to give and a connection that could not be made, all of
// which go-redis returns before it writes the command.
func sentMaybe(err error) bool {
	var re redis.Error
	var oe *net.OpError
	switch {
	case errors.As(err, &re), errors.Is(err, redis.ErrClosed), errors.Is(err, redis.ErrPoolTimeout),
		errors.As(err, &oe) && oe.Op == "dial":
		return false
	}
	return true
}

func (b *redisBroker) History(ctx context.Context, topic string, after uint64, limit int) (Log, error) {
	var meta *redis.SliceCmd
	var entries *redis.XMessageSliceCmd
	_, err := b.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		meta = p.HMGet(ctx, metaKey(topic), "epoch", "seq")
		entries = p.XRangeN(ctx, logKey(topic), strconv.FormatUint(after+1, 10)+"-0", "+", int64(limit))
		return nil
	})
	if err != nil {
		return Log{}, b.failed(err)
	}
	b.ok()
	head, err := parseHead(meta.Val())
	if err != nil {
		return Log{}, err
	}
	lg := Log{Head: head}
	for _, e := range entries.Val() {
		off, _, _ := strings.Cut(e.ID, "-")
		o, err := strconv.ParseUint(off, 10, 64)
		d, ok := e.Values["d"].(string)
		if err != nil || !ok {
			return Log{}, fmt.Errorf("redis at %s: entry %s of %s is not one of ours", b.addr, e.ID, logKey(topic))
		}
		lg.Msgs = append(lg.Msgs, Message{Position{head.Epoch, o}, []byte(d)})
	}
	return lg, nil
}

func (b *redisBroker) head(ctx context.Context, topic string) (Position, error) {
	v, err := b.rdb.HMGet(ctx, metaKey(topic), "epoch", "seq").Result()
	if err != nil {
		return Position{}, b.failed(err)
	}
	b.ok()
	return parseHead(v)
}

// parseHead reads HMGET epoch seq; a missing hash is the empty log.
func parseHead(v []any) (Position, error) {
	epoch, _ := v[0].(string)
	seq, _ := v[1].(string)
	if seq == "" {
		return Position{Epoch: epoch}, nil
	}
	n, err := strconv.ParseUint(seq, 10, 64)
	if err != nil {
		return Position{}, fmt.Errorf("redis: seq %q of a topic is not a number", seq)
	}
	return Position{epoch, n}, nil
}

func (b *redisBroker) Watch(topic string)   { b.queue(watchOp{topic, true}) }
func (b *redisBroker) Unwatch(topic string) { b.queue(watchOp{topic, false}) }

func (b *redisBroker) queue(op watchOp) {
	b.opsMu.Lock()
	b.ops = append(b.ops, op)
	b.opsMu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// runOps sends SUBSCRIBE and UNSUBSCRIBE in the order asked. A failure
// needs no retry: go-redis remembers the channels and subscribes to them
// again when it reconnects.
func (b *redisBroker) runOps() {
	defer b.wg.Done()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-b.wake:
		}
		b.opsMu.Lock()
		ops := b.ops
		b.ops = nil
		b.opsMu.Unlock()
		for _, op := range ops {
			ctx, cancel := context.WithTimeout(b.ctx, brokerTimeout)
			if op.watch {
				b.ps.Subscribe(ctx, channel(op.topic))
			} else {
				b.ps.Unsubscribe(ctx, channel(op.topic))
			}
			cancel()
		}
	}
}

// receive gives the hub what Redis delivers. Every subscription
// confirmation, the first and those after a reconnect, is followed by a
// Head read after it: from then on the channel carries every message, and
// the hub reads what came before from the stream.
func (b *redisBroker) receive(msgs <-chan any) {
	defer b.wg.Done()
	for msg := range msgs {
		switch m := msg.(type) {
		case *redis.Subscription:
			if topic, ok := topicOf(m.Channel); ok && m.Kind == "subscribe" {
				b.announceHead(topic)
			}
		case *redis.Message:
			topic, ok := topicOf(m.Channel)
			if !ok {
				continue
			}
			epoch, rest, _ := strings.Cut(m.Payload, " ")
			off, data, _ := strings.Cut(rest, " ")
			o, err := strconv.ParseUint(off, 10, 64)
			if err != nil || epoch == "" {
				b.log.Warn("ignoring a message that is not ours", "channel", m.Channel)
				continue
			}
			b.sink.Message(topic, Message{Position{epoch, o}, []byte(data)})
		}
	}
}

// announceHead reads topic's head and gives it to the hub, retrying a
// little: the subscription is up, so Redis is most likely there. If it
// went away again, the reconnect brings another confirmation.
func (b *redisBroker) announceHead(topic string) {
	for wait := retryMin; ; wait *= 2 {
		ctx, cancel := context.WithTimeout(b.ctx, brokerTimeout)
		p, err := b.head(ctx, topic)
		cancel()
		if err == nil {
			b.sink.Head(topic, p)
			return
		}
		if wait > retryMax || b.ctx.Err() != nil {
			b.log.Warn("cannot read a topic's head; its subscribers here wait for the next reconnect or message",
				"topic", topic, "err", err)
			return
		}
		select {
		case <-b.ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func (b *redisBroker) Close() error {
	b.stop()
	err := errors.Join(b.ps.Close(), b.rdb.Close())
	b.wg.Wait()
	return err
}

var setRedisLogger sync.Once

// redisLogger keeps go-redis's own lines (a failed dial every 100 ms while
// Redis is away) out of the log unless debugging; the broker says once
// when Redis goes and comes back.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...), "from", "go-redis")
}
