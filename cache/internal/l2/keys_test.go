package l2

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDataKey(t *testing.T) {
	ks := newKeyspace("app", "user")
	assert.Equal(t, "app:user:v17:{42}", ks.data(17, "42"))
	assert.Equal(t, "app:user:version", ks.version)
	assert.Equal(t, "app:user:inv", ks.channel)
	// The tag is the entity key: every generation of a key is in one slot,
	// different keys spread.
	assert.Equal(t, slot(ks.data(1, "42")), slot(ks.data(2, "42")))
	assert.Equal(t, "42", hashTag(ks.data(1, "42")))
	spread := map[uint16]bool{}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		spread[slot(ks.data(1, k))] = true
	}
	assert.Greater(t, len(spread), 4)
}

func TestSlot(t *testing.T) {
	// Values from the Redis Cluster specification and CLUSTER KEYSLOT.
	assert.Equal(t, uint16(12182), slot("foo"))
	assert.Equal(t, uint16(0x31C3), crc16("123456789"))
	assert.Equal(t, slot("{user1000}.following"), slot("{user1000}.followers"))
	assert.Equal(t, slot("foo{}{bar}"), crc16("foo{}{bar}")%16384, "empty tag hashes the whole key")
	assert.Equal(t, slot("foo{{bar}}zap"), crc16("{bar")%16384)
	assert.Equal(t, slot("foo{bar}{zap}"), crc16("bar")%16384)
}
