package main

import (
	"slices"
	"strconv"
	"time"
)

// The data set is generated on demand from (seed, id): nothing but the list
// order is held in memory, so 200k users cost a few megabytes and start-up
// takes milliseconds, and every run with the same seed serves the same users.
// Writes are kept as overrides in the repository.

// User is the core row of a user.
type User struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	CreatedAt time.Time `json:"created_at"`
}

// Profile is the public profile of a user, a separate table.
type Profile struct {
	Bio       string `json:"bio"`
	AvatarURL string `json:"avatar_url"`
	Location  string `json:"location"`
	Company   string `json:"company"`
	Followers int    `json:"followers"`
}

// Preferences are a user's settings, a separate table.
type Preferences struct {
	Theme      string `json:"theme"`
	Language   string `json:"language"`
	Timezone   string `json:"timezone"`
	Newsletter bool   `json:"newsletter"`
}

// Activity is one entry of a user's recent activity.
type Activity struct {
	Kind   string    `json:"kind"`
	Target string    `json:"target"`
	At     time.Time `json:"at"`
}

// epoch is the newest creation time in the data set; users were created over
// the three years before it.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const creationSpan = 3 * 365 * 24 * 3600 // seconds

var (
	firstNames = []string{"Ada", "Alan", "Barbara", "Brian", "Claude", "Dennis", "Donald", "Edsger", "Frances", "Grace", "Guido", "Hedy", "Ivan", "John", "Ken", "Leslie", "Linus", "Margaret", "Niklaus", "Radia", "Rob", "Robert", "Russ", "Shafi", "Sophie", "Tim", "Tony", "Vint", "Whitfield", "Yukihiro"}
	lastNames  = []string{"Lovelace", "Turing", "Liskov", "Kernighan", "Shannon", "Ritchie", "Knuth", "Dijkstra", "Allen", "Hopper", "Rossum", "Lamarr", "Sutherland", "McCarthy", "Thompson", "Lamport", "Torvalds", "Hamilton", "Wirth", "Perlman", "Pike", "Griesemer", "Cox", "Goldwasser", "Wilson", "Berners-Lee", "Hoare", "Cerf", "Diffie", "Matsumoto"}
	places     = []string{"Amsterdam", "Berlin", "Bogotá", "Cape Town", "Chicago", "Dublin", "Helsinki", "Lagos", "Lisbon", "London", "Montréal", "Mumbai", "Nairobi", "Osaka", "Paris", "São Paulo", "Seoul", "Sydney", "Toronto", "Zürich"}
	companies  = []string{"Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne", "Tyrell", "Cyberdyne", "Soylent", "Wonka"}
	topics     = []string{"distributed systems", "compilers", "databases", "type theory", "networking", "cryptography", "graphics", "operating systems", "machine learning", "observability"}
	themes     = []string{"light", "dark", "system"}
	languages  = []string{"en", "de", "es", "fr", "ja", "pt", "nl", "fi"}
	timezones  = []string{"UTC", "Europe/Amsterdam", "Europe/Berlin", "America/New_York", "America/Chicago", "Asia/Tokyo", "Asia/Kolkata", "Australia/Sydney"}
	kinds      = []string{"login", "comment", "like", "follow", "purchase", "review"}
)

// mix is splitmix64's finaliser: a cheap, well-distributed hash of x.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// dataset is the generated, read-only part of the repository.
type dataset struct {
	seed    uint64
	n       int
	created []int64 // unix seconds, index id-1
	order   []int32 // ids sorted newest first: (created_at DESC, id DESC)
}

func newDataset(n int, seed uint64) *dataset {
	d := &dataset{seed: seed, n: n, created: make([]int64, n), order: make([]int32, n)}
	for i := range n {
		id := int64(i + 1)
		// Creation times have one-second resolution, so some users share one:
		// the list order needs the id as a tie-breaker.
		d.created[i] = epoch.Unix() - int64(d.hash(id, 0)%creationSpan)
		d.order[i] = int32(id)
	}
	slices.SortFunc(d.order, func(a, b int32) int {
		return d.compare(int64(a), int64(b))
	})
	return d
}

// compare orders ids newest first, ties by id descending.
func (d *dataset) compare(a, b int64) int {
	ca, cb := d.created[a-1], d.created[b-1]
	switch {
	case ca > cb:
		return -1
	case ca < cb:
		return 1
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

func (d *dataset) hash(id int64, salt uint64) uint64 {
	return mix(d.seed ^ mix(uint64(id)^salt<<48))
}

func (d *dataset) exists(id int64) bool { return id >= 1 && id <= int64(d.n) }

func pick(list []string, h uint64) string { return list[h%uint64(len(list))] }

func (d *dataset) user(id int64) User {
	h := d.hash(id, 1)
	first, last := pick(firstNames, h), pick(lastNames, h>>16)
	return User{
		ID:        id,
		Name:      first + " " + last,
		Email:     first + "." + last + strconv.FormatInt(id, 10) + "@example.com",
		CreatedAt: time.Unix(d.created[id-1], 0).UTC(),
	}
}

func (d *dataset) profile(id int64) Profile {
	h := d.hash(id, 2)
	return Profile{
		Bio:       "Works on " + pick(topics, h) + " and " + pick(topics, h>>8) + ".",
		AvatarURL: "https://avatars.example.com/" + strconv.FormatInt(id, 10) + ".png",
		Location:  pick(places, h>>16),
		Company:   pick(companies, h>>24),
		Followers: int(h>>32) % 5000,
	}
}

func (d *dataset) preferences(id int64) Preferences {
	h := d.hash(id, 3)
	return Preferences{
		Theme:      pick(themes, h),
		Language:   pick(languages, h>>8),
		Timezone:   pick(timezones, h>>16),
		Newsletter: h>>24&1 == 1,
	}
}

// activityLen is the number of recent activity entries per user.
const activityLen = 5

func (d *dataset) activity(id int64, i int) Activity {
	h := d.hash(id, 4+uint64(i))
	return Activity{
		Kind:   pick(kinds, h),
		Target: "item/" + strconv.FormatUint(h>>20%100000, 10),
		At:     epoch.Add(-time.Duration(i)*time.Hour - time.Duration(h>>40%3600)*time.Second),
	}
}
