package datom

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// TestFormatGolden pins the bootstrap: its datoms and schema are part of
// every database, so their bytes (and the fixed ids inside) must never
// change. If this fails, the storage format changed: bump the versions.
func TestFormatGolden(t *testing.T) {
	for _, onRead := range []bool{false, true} {
		s, ds := Bootstrap(onRead)
		db, err := EncodeDatoms(ds)
		if err != nil {
			t.Fatal(err)
		}
		sb, err := MarshalSchema(s)
		if err != nil {
			t.Fatal(err)
		}
		got := [2]string{sum(db), sum(sb)}
		want := goldenBootstrap[onRead]
		if got != want {
			t.Errorf("schema-on-read=%v: sha256 of bootstrap datoms, schema = %q, want %q", onRead, got, want)
		}
	}
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

var goldenBootstrap = map[bool][2]string{
	false: {"88c17f59f0efd92e", "b73a6b0d5d7293f0"},
	true:  {"88c17f59f0efd92e", "75392e635ba857be"},
}
