package edn

import (
	"strings"
	"testing"

	"github.com/cockroachdb/apd/v3"
)

// TestSmallDecimal: the fast path builds exactly what apd.NewFromString
// builds (same coefficient, exponent and sign, so the same printed text).
func TestSmallDecimal(t *testing.T) {
	for _, s := range []string{"0", "-0", "+0.0", "1", "1.", "1.50", "-1.50", "0.001", "123456789012345678",
		"1e5", "1.5e-3", "-2.25E+10", "1.e2", "0e0", "99999999999999999.9", "1e10000", "1e-10000"} {
		got, ok := smallDecimal([]byte(s))
		if !ok {
			t.Errorf("smallDecimal(%q): not taken", s)
			continue
		}
		want, _, err := apd.NewFromString(s)
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() || got.Negative != want.Negative || got.Exponent != want.Exponent || got.Form != want.Form {
			t.Errorf("smallDecimal(%q) = %s (exp %d neg %v), want %s (exp %d neg %v)",
				s, got, got.Exponent, got.Negative, want, want.Exponent, want.Negative)
		}
	}
	for _, s := range []string{"1234567890123456789", "999999999999999999.9", "1e10001", "1e99999999999"} {
		if _, ok := smallDecimal([]byte(s)); ok {
			t.Errorf("smallDecimal(%q): taken, want the general path", s)
		}
	}
}

// FuzzDecimal: for any valid EDN decimal text, the fast path agrees with
// apd.NewFromString whenever it is taken.
func FuzzDecimal(f *testing.F) {
	for _, s := range []string{"1.5M", "-0.001M", "1e5M", "12.5e-3M", "0M"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.Trim(s, "0123456789.eE+-M") != "" {
			return // only bare number tokens (no whitespace or comments around)
		}
		v, err := ReadString(s)
		if err != nil {
			return
		}
		d, ok := v.(*apd.Decimal)
		if !ok {
			return
		}
		want, _, err := apd.NewFromString(s[:len(s)-1])
		if err != nil {
			t.Fatalf("%q read as %s but apd refuses it: %v", s, d, err)
		}
		if d.String() != want.String() || d.Negative != want.Negative {
			t.Fatalf("%q: got %s (neg %v), want %s (neg %v)", s, d, d.Negative, want, want.Negative)
		}
	})
}
