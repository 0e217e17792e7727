package flags

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/buckets.golden.json")

type goldenVector struct {
	Seed        string `json:"seed"`
	Value       string `json:"value"`
	RolloutHash string `json:"rolloutHash"`
	Bucket      int    `json:"bucket"`
	VariantHash string `json:"variantHash"`
	// Variant is the variant picked by a split {"a": 1, "b": 2, "c": 3}.
	Variant string `json:"variant"`
}

func goldenInputs() [][2]string {
	in := [][2]string{
		{"", ""}, {"new-checkout", ""}, {"", "user-1"}, {"new-checkout", "user-1"}, {"new-checkout", "user-2"},
		{"checkout-copy", "user-1"}, {"copy-test-2", "user-1"}, {"promo-2026", "user-1"},
		{"a", "bc"}, {"ab", "c"}, {"abc", ""}, {"", "abc"}, // length prefixes keep these apart
		{"flag", "ünïcødé-ユーザー"}, {"flag", strings.Repeat("x", 31)}, {"flag", strings.Repeat("x", 32)},
		{"flag", strings.Repeat("long-subject-", 20)}, {strings.Repeat("s", 100), "k"},
	}
	for i := range 16 {
		in = append(in, [2]string{"rollout", fmt.Sprintf("user-%d", i*7919)})
	}
	return in
}

func computeGolden() []goldenVector {
	split := &cserve{variant: -1, split: []cweight{{1, 0}, {3, 1}, {6, 2}}, total: 6}
	var out []goldenVector
	for _, in := range goldenInputs() {
		vh := prefixedHash(variantSeed, seedPrefix(in[0]), in[1])
		out = append(out, goldenVector{
			Seed: in[0], Value: in[1],
			RolloutHash: fmt.Sprintf("%016x", prefixedHash(rolloutSeed, seedPrefix(in[0]), in[1])),
			Bucket:      Bucket(in[0], in[1]),
			VariantHash: fmt.Sprintf("%016x", vh),
			Variant:     []string{"a", "b", "c"}[pickVariant(split, vh)],
		})
	}
	return out
}

// TestGoldenVectors pins the bucketing contract: if it fails, the change
// would move subjects between buckets in every deployed rollout.
func TestGoldenVectors(t *testing.T) {
	got := computeGolden()
	const path = "testdata/buckets.golden.json"
	if *update {
		data, err := json.MarshalIndent(got, "", "  ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, append(data, '\n'), 0o644))
	}
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var want []goldenVector
	require.NoError(t, json.Unmarshal(data, &want))
	require.Len(t, want, len(got))
	for i := range want {
		assert.Equal(t, want[i], got[i])
	}
}

// TestXXH64 checks the hash against reference XXH64 values (computed with
// the reference implementation).
func TestXXH64(t *testing.T) {
	assert.Equal(t, uint64(0xef46db3751d8e999), xxh64(nil, 0))
	assert.Equal(t, uint64(0xd24ec4f1a98c6e5b), xxh64([]byte("a"), 0))
	assert.Equal(t, uint64(0x44bc2cf5ad770999), xxh64([]byte("abc"), 0))
	assert.Equal(t, uint64(0xfbcea83c8a378bf1), xxh64([]byte("Nobody inspects the spammish repetition"), 0))
	assert.Equal(t, uint64(0xd5afba1336a3be4b), xxh64(nil, 1))
	// The bucketing input is the length-prefixed pair, the seed part padded
	// to a multiple of 8 bytes.
	assert.Equal(t, []byte{2, 0, 0, 0, 0, 0, 0, 0, 'a', 'b', 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 'c'}, bucketInput(nil, "ab", "c"))
	assert.Equal(t, "\x08\x00\x00\x00\x00\x00\x00\x0012345678", seedPrefix("12345678"))
}

// TestPrefixedHashMatchesReference: the in-place hash equals XXH64 of the
// materialized input for every length combination up to 80 bytes.
func TestPrefixedHashMatchesReference(t *testing.T) {
	s := strings.Repeat("abcdefghij", 8)
	v := strings.Repeat("0123456789", 8)
	for i := 0; i <= len(s); i++ {
		for j := 0; j <= len(v); j++ {
			for _, seed := range []uint64{rolloutSeed, variantSeed} {
				want := xxh64(bucketInput(nil, s[:i], v[:j]), seed)
				if got := prefixedHash(seed, seedPrefix(s[:i]), v[:j]); got != want {
					t.Fatalf("seed %q value %q: %x, want %x", s[:i], v[:j], got, want)
				}
			}
		}
	}
	assert.Equal(t, int(scale(prefixedHash(rolloutSeed, seedPrefix("f"), "k"), Buckets)), Bucket("f", "k"))
}

func TestScale(t *testing.T) {
	assert.Equal(t, uint64(0), scale(0, Buckets))
	assert.Equal(t, uint64(Buckets-1), scale(^uint64(0), Buckets))
	assert.Equal(t, uint64(5000), scale(1<<63, Buckets))
}

const propertyKeys = 100_000

// subjectKeys returns n random subject keys from a fixed seed, so that
// every statistical test below sees the same keys on every run.
func subjectKeys(n int) []string {
	r := rand.New(rand.NewPCG(2026, 9))
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%08x-%04x", r.Uint32(), r.Uint32()&0xffff)
	}
	return keys
}

// sequentialKeys returns user-0 … user-(n-1): IDs as many services issue them.
func sequentialKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("user-%d", i)
	}
	return keys
}

// TestRaisingPercentOnlyAddsSubjects: for 100k subjects, every subject in
// a rollout stays in it when the percentage is raised, and each rollout
// holds its percentage of subjects.
func TestRaisingPercentOnlyAddsSubjects(t *testing.T) {
	t.Parallel()
	keys := append(subjectKeys(propertyKeys/2), sequentialKeys(propertyKeys/2)...)
	ctx := context.Background()
	percents := []string{"0", "0.01", "0.5", "1", "5", "12.5", "33.33", "50", "99.99", "100"}
	prev := make([]bool, len(keys))
	buckets := make([]int, len(keys))
	for i, k := range keys {
		buckets[i] = Bucket("s1", k)
	}
	for _, p := range percents {
		c := newStatic(t, `{"flags": {"f": {"type": "bool", "salt": "s1", "rollout": {"variant": "true", "percent": `+p+`}}}}`, nil)
		var pf float64
		_, err := fmt.Sscan(p, &pf)
		require.NoError(t, err)
		bp := int(math.Round(pf * 100))
		n := 0
		for i, k := range keys {
			in := c.Bool(ctx, "f", Subject{Key: k}, false)
			if prev[i] {
				require.True(t, in, "subject %s left the rollout when it was raised to %s%%", k, p)
			}
			// The contract, exactly: inside iff bucket < percent×100, so 0%
			// holds nobody, 100% everybody, 0.01% exactly bucket 0.
			require.Equal(t, buckets[i] < bp, in, "subject %s (bucket %d) at %s%%", k, buckets[i], p)
			if in {
				n++
			}
			prev[i] = in
		}
		// Binomial standard deviation at 100k subjects is ≤ 158; allow 5σ.
		assert.InDelta(t, pf/100*propertyKeys, n, 800, "percent %s", p)
		switch bp {
		case 0:
			assert.Zero(t, n)
		case Buckets:
			assert.Equal(t, propertyKeys, n)
		}
	}
}

// chiSquare returns Σ (observed-expected)²/expected.
func chiSquare(observed, expected []float64) float64 {
	var x float64
	for i := range observed {
		d := observed[i] - expected[i]
		x += d * d / expected[i]
	}
	return x
}

// Critical values of the chi-square distribution at p = 0.001.
const (
	chi2df1 = 10.83
	chi2df2 = 13.82
	chi2df3 = 16.27
)

func TestVariantWeights(t *testing.T) {
	t.Parallel()
	keys := subjectKeys(propertyKeys)
	c := newStatic(t, `{"flags": {"f": {"type": "string", "variants": {"a": "A", "b": "B", "c": "C"}, "default": "a",
		"rollout": {"split": {"a": 50, "b": 30, "c": 20}}}}}`, nil)
	counts := map[string]float64{}
	for _, k := range keys {
		counts[c.String(t.Context(), "f", Subject{Key: k}, "")]++
	}
	obs := []float64{counts["A"], counts["B"], counts["C"]}
	exp := []float64{0.5 * propertyKeys, 0.3 * propertyKeys, 0.2 * propertyKeys}
	x := chiSquare(obs, exp)
	t.Logf("split 50/30/20: %v, chi2 = %.2f", obs, x)
	assert.Less(t, x, chi2df2)
}

// TestVariantIndependentOfRollout: inside a 10% rollout the split is still
// 50/50, because the variant comes from an independent hash (reusing the
// rollout hash would put all of the 10% in one variant).
func TestVariantIndependentOfRollout(t *testing.T) {
	t.Parallel()
	keys := subjectKeys(propertyKeys)
	c := newStatic(t, `{"flags": {"f": {"type": "string", "variants": {"a": "A", "b": "B", "off": "-"}, "default": "off",
		"rollout": {"split": {"a": 1, "b": 1}, "percent": 10}}}}`, nil)
	counts := map[string]float64{}
	for _, k := range keys {
		counts[c.String(t.Context(), "f", Subject{Key: k}, "")]++
	}
	in := counts["A"] + counts["B"]
	x := chiSquare([]float64{counts["A"], counts["B"]}, []float64{in / 2, in / 2})
	t.Logf("inside 10%%: A=%v B=%v, chi2 = %.2f", counts["A"], counts["B"], x)
	assert.Less(t, x, chi2df1)
	assert.InDelta(t, 0.1*propertyKeys, in, 800)
}

// twoByTwo evaluates two bool flags for every key and returns the
// contingency table [a&b, a&!b, !a&b, !a&!b] and its chi-square statistic
// for independence.
func twoByTwo(t *testing.T, c *Client, keys []string) ([4]float64, float64) {
	var tab [4]float64
	for _, k := range keys {
		a := c.Bool(t.Context(), "a", Subject{Key: k}, false)
		b := c.Bool(t.Context(), "b", Subject{Key: k}, false)
		switch {
		case a && b:
			tab[0]++
		case a:
			tab[1]++
		case b:
			tab[2]++
		default:
			tab[3]++
		}
	}
	n := float64(len(keys))
	ra, rna := tab[0]+tab[1], tab[2]+tab[3]
	cb, cnb := tab[0]+tab[2], tab[1]+tab[3]
	exp := []float64{ra * cb / n, ra * cnb / n, rna * cb / n, rna * cnb / n}
	return tab, chiSquare(tab[:], exp)
}

func TestDifferentSaltsAreIndependent(t *testing.T) {
	t.Parallel()
	keys := subjectKeys(propertyKeys)
	c := newStatic(t, `{"flags": {
		"a": {"type": "bool", "salt": "exp-1", "rollout": {"variant": "true", "percent": 50}},
		"b": {"type": "bool", "salt": "exp-2", "rollout": {"variant": "true", "percent": 50}}}}`, nil)
	tab, x := twoByTwo(t, c, keys)
	t.Logf("different salts: %v, chi2 = %.2f", tab, x)
	assert.Less(t, x, chi2df1)

	// Flags without salts are seeded by their keys: also independent.
	c = newStatic(t, `{"flags": {
		"a": {"type": "bool", "rollout": {"variant": "true", "percent": 30}},
		"b": {"type": "bool", "rollout": {"variant": "true", "percent": 30}}}}`, nil)
	tab, x = twoByTwo(t, c, keys)
	t.Logf("different keys: %v, chi2 = %.2f", tab, x)
	assert.Less(t, x, chi2df1)
}

func TestSameBucketGroupIsCorrelated(t *testing.T) {
	t.Parallel()
	keys := subjectKeys(propertyKeys)
	c := newStatic(t, `{"flags": {
		"a": {"type": "bool", "bucketGroup": "g", "rollout": {"variant": "true", "percent": 10}},
		"b": {"type": "bool", "bucketGroup": "g", "salt": "other", "rollout": {"variant": "true", "percent": 20}}}}`, nil)
	tab, x := twoByTwo(t, c, keys)
	t.Logf("same group: %v, chi2 = %.2f", tab, x)
	assert.Zero(t, tab[1], "every subject in the 10%% flag is in the 20%% flag of the same group")
	assert.Greater(t, x, 1000.0)
}

func TestUniformBuckets(t *testing.T) {
	t.Parallel()
	// 100k keys over 10 deciles of the bucket space.
	obs := make([]float64, 10)
	for _, k := range sequentialKeys(propertyKeys) {
		obs[Bucket("uniform", k)/1000]++
	}
	exp := make([]float64, 10)
	for i := range exp {
		exp[i] = propertyKeys / 10
	}
	x := chiSquare(obs, exp)
	t.Logf("deciles: %v, chi2 = %.2f", obs, x)
	assert.Less(t, x, 27.88) // df = 9, p = 0.001
}

func TestBucketDoesNotAllocate(t *testing.T) {
	assert.Zero(t, testing.AllocsPerRun(100, func() { Bucket("new-checkout", "user-12345") }))
}
