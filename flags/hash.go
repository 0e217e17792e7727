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

// bucketInput appends the length-prefixed bucketing input to dst:
// uint32 little-endian len(seed), seed, uint32 little-endian len(value), value.
func bucketInput(dst []byte, seed, value string) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(seed)))
	dst = append(dst, seed...)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(value)))
	dst = append(dst, value...)
	return dst
}

// hashOf returns the 64-bit XXH64 hash (with the given xxh64 seed) of the
// length-prefixed (seed, value).
func hashOf(xxSeed uint64, seed, value string) uint64 {
	var buf [128]byte
	return xxh64(bucketInput(buf[:0], seed, value), xxSeed)
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
	return int(scale(hashOf(rolloutSeed, seed, value), Buckets))
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
		h = bits.RotateLeft64(v1, 1) + bits.RotateLeft64(v2, 7) + bits.RotateLeft64(v3, 12) + bits.RotateLeft64(v4, 18)
		h = xxMerge(h, v1)
		h = xxMerge(h, v2)
		h = xxMerge(h, v3)
		h = xxMerge(h, v4)
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
	h ^= h >> 33
	h *= prime2
	h ^= h >> 29
	h *= prime3
	h ^= h >> 32
	return h
}
