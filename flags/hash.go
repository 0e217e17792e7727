package flags

import (
	"encoding/binary"
	"math/bits"
)

// Buckets is the number of rollout buckets: percentages are integers over
// Buckets, so a rollout has a granularity of 0.01%.
const Buckets = 10000

// Seeds of the two independent hashes of the bucketing contract.
const (
	rolloutSeed = 0
	variantSeed = 1
)

// seedPrefix returns the first part of the bucketing input: uint64
// little-endian len(seed), seed, then zero bytes up to a multiple of 8.
// It is computed once per flag.
func seedPrefix(seed string) string {
	b := bucketInput(make([]byte, 0, 8+len(seed)+15), seed, "")
	return string(b[:len(b)-8])
}

// bucketInput appends the whole bucketing input to dst: seedPrefix(seed),
// uint64 little-endian len(value), value. It is the reference the
// allocation-free [prefixedHash] is tested against.
func bucketInput(dst []byte, seed, value string) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(len(seed)))
	dst = append(dst, seed...)
	for (len(dst)-start)%8 != 0 {
		dst = append(dst, 0)
	}
	dst = binary.LittleEndian.AppendUint64(dst, uint64(len(value)))
	return append(dst, value...)
}

// scale maps a 64-bit hash uniformly onto [0, n) without modulo bias: it is
// the high word of h*n.
func scale(h, n uint64) uint64 {
	hi, _ := bits.Mul64(h, n)
	return hi
}

// Bucket returns the rollout bucket in [0, [Buckets]) of a subject value for
// a flag whose bucketing seed is seed (its bucket group, else its salt, else
// its key). A rollout of p basis points contains exactly the subjects whose
// bucket is < p. See the package documentation for the full contract.
func Bucket(seed, value string) int {
	var buf [128]byte
	return int(scale(xxh64(bucketInput(buf[:0], seed, value), rolloutSeed), Buckets))
}

func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func le32(s string) uint64 {
	_ = s[3]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24
}

// prefixedHash returns XXH64(prefix ‖ uint64le(len(value)) ‖ value, xxSeed)
// for a prefix from seedPrefix, reading the three parts in place. Because
// the prefix is a multiple of 8 bytes and the length is one 8-byte word,
// every 8-byte word of the input lies in one part. This equals
// xxh64(bucketInput(nil, seed, value), xxSeed).
func prefixedHash(xxSeed uint64, prefix, value string) uint64 {
	p := len(prefix)
	n := p + 8 + len(value)
	word := func(o int) uint64 {
		switch {
		case o < p:
			return le64(prefix[o:])
		case o == p:
			return uint64(len(value))
		}
		return le64(value[o-p-8:])
	}
	o := 0
	var h uint64
	if n >= 32 {
		v1 := xxSeed + prime1 + prime2
		v2 := xxSeed + prime2
		v3 := xxSeed
		v4 := xxSeed - prime1
		for ; o+32 <= n; o += 32 {
			v1 = xxRound(v1, word(o))
			v2 = xxRound(v2, word(o+8))
			v3 = xxRound(v3, word(o+16))
			v4 = xxRound(v4, word(o+24))
		}
		h = xxLanes(v1, v2, v3, v4)
	} else {
		h = xxSeed + prime5
	}
	h += uint64(n)
	for ; o+8 <= n; o += 8 {
		h ^= xxRound(0, word(o))
		h = bits.RotateLeft64(h, 27)*prime1 + prime4
	}
	// The tail (fewer than 8 bytes) is always inside value.
	tail := value[len(value)-(n-o):]
	if len(tail) >= 4 {
		h ^= le32(tail) * prime1
		h = bits.RotateLeft64(h, 23)*prime2 + prime3
		tail = tail[4:]
	}
	for i := 0; i < len(tail); i++ {
		h ^= uint64(tail[i]) * prime5
		h = bits.RotateLeft64(h, 11) * prime1
	}
	return avalanche(h)
}

func avalanche(h uint64) uint64 {
	h ^= h >> 33
	h *= prime2
	h ^= h >> 29
	h *= prime3
	h ^= h >> 32
	return h
}

// xxh64 primes.
const (
	prime1 uint64 = 11400714785074694791
	prime2 uint64 = 14029467366897019727
	prime3 uint64 = 1609587929392839161
	prime4 uint64 = 9650029242287828579
	prime5 uint64 = 2870177450012600261
)

func xxRound(acc, input uint64) uint64 {
	acc += input * prime2
	acc = bits.RotateLeft64(acc, 31)
	return acc * prime1
}

// xxLanes combines the four accumulators of inputs of 32 bytes or more.
func xxLanes(v1, v2, v3, v4 uint64) uint64 {
	h := bits.RotateLeft64(v1, 1) + bits.RotateLeft64(v2, 7) + bits.RotateLeft64(v3, 12) + bits.RotateLeft64(v4, 18)
	h = xxMerge(h, v1)
	h = xxMerge(h, v2)
	h = xxMerge(h, v3)
	return xxMerge(h, v4)
}

func xxMerge(acc, val uint64) uint64 {
	val = xxRound(0, val)
	acc ^= val
	return acc*prime1 + prime4
}

// xxh64 is the XXH64 hash function (github.com/Cyan4973/xxHash, XXH64
// specification) of b with the given seed.
func xxh64(b []byte, seed uint64) uint64 {
	n := len(b)
	var h uint64
	if n >= 32 {
		v1 := seed + prime1 + prime2
		v2 := seed + prime2
		v3 := seed
		v4 := seed - prime1
		for len(b) >= 32 {
			v1 = xxRound(v1, binary.LittleEndian.Uint64(b[0:8]))
			v2 = xxRound(v2, binary.LittleEndian.Uint64(b[8:16]))
			v3 = xxRound(v3, binary.LittleEndian.Uint64(b[16:24]))
			v4 = xxRound(v4, binary.LittleEndian.Uint64(b[24:32]))
			b = b[32:]
		}
		h = xxLanes(v1, v2, v3, v4)
	} else {
		h = seed + prime5
	}
	h += uint64(n)
	for ; len(b) >= 8; b = b[8:] {
		k := xxRound(0, binary.LittleEndian.Uint64(b[:8]))
		h ^= k
		h = bits.RotateLeft64(h, 27)*prime1 + prime4
	}
	if len(b) >= 4 {
		h ^= uint64(binary.LittleEndian.Uint32(b[:4])) * prime1
		h = bits.RotateLeft64(h, 23)*prime2 + prime3
		b = b[4:]
	}
	for _, c := range b {
		h ^= uint64(c) * prime5
		h = bits.RotateLeft64(h, 11) * prime1
	}
	return avalanche(h)
}
