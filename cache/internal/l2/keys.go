package l2

import (
	"strconv"
	"strings"
)

// keyspace builds the Redis names of one namespace.
type keyspace struct {
	base    string // "<prefix>:<ns>:"
	version string // "<prefix>:<ns>:version"
	channel string // "<prefix>:<ns>:inv"
}

func newKeyspace(prefix, ns string) keyspace {
	base := prefix + ":" + ns + ":"
	return keyspace{base: base, version: base + "version", channel: base + "inv"}
}

// data returns the key of key under version ver: <prefix>:<ns>:v<ver>:{<key>}.
// The hash tag is the entity key, so every generation of one key (and its lease)
// is in one slot, and different keys spread over the Cluster.
func (k keyspace) data(ver uint64, key string) string {
	var b strings.Builder
	b.Grow(len(k.base) + 24 + len(key))
	b.WriteString(k.base)
	b.WriteByte('v')
	var num [20]byte
	b.Write(strconv.AppendUint(num[:0], ver, 10))
	b.WriteString(":{")
	b.WriteString(key)
	b.WriteByte('}')
	return b.String()
}

// hashTag returns the part of a Redis key that Cluster hashes: the text between
// the first '{' and the next '}' when that is not empty, else the whole key.
func hashTag(key string) string {
	open := strings.IndexByte(key, '{')
	if open < 0 {
		return key
	}
	end := strings.IndexByte(key[open+1:], '}')
	if end <= 0 {
		return key
	}
	return key[open+1 : open+1+end]
}

// slot returns the Redis Cluster hash slot of key (CRC16/XMODEM of its hash tag,
// mod 16384), as the server computes it.
func slot(key string) uint16 {
	return crc16(hashTag(key)) % 16384
}

func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
