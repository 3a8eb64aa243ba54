package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram counts durations in buckets four to an octave of microseconds
// (within 19 % of the value), lock-free, for echo percentiles.
type histogram struct {
	buckets [64 * 4]atomic.Int64
	max     atomic.Int64
}

func bucketOf(us uint64) int {
	if us < 4 {
		return int(us)
	}
	n := bits.Len64(us) // 3..64
	return n*4 - 8 + int(us>>(n-3)&3)
}

// lowerBound is the smallest value in bucket b, in microseconds.
func lowerBound(b int) uint64 {
	if b < 4 {
		return uint64(b)
	}
	n := (b + 8) / 4
	return (4 | uint64(b%4)) << (n - 3)
}

func (h *histogram) add(d time.Duration) {
	us := uint64(max(d.Microseconds(), 0))
	h.buckets[bucketOf(us)].Add(1)
	for m := h.max.Load(); int64(us) > m && !h.max.CompareAndSwap(m, int64(us)); m = h.max.Load() {
	}
}

// quantile is the lower bound of the bucket holding the q-th (0..1) value.
func (h *histogram) quantile(q float64) time.Duration {
	var total int64
	for i := range h.buckets {
		total += h.buckets[i].Load()
	}
	if total == 0 {
		return 0
	}
	rank := int64(q * float64(total-1))
	for i := range h.buckets {
		if rank -= h.buckets[i].Load(); rank < 0 {
			return time.Duration(lowerBound(i)) * time.Microsecond
		}
	}
	return h.maxDuration()
}

func (h *histogram) maxDuration() time.Duration {
	return time.Duration(h.max.Load()) * time.Microsecond
}
