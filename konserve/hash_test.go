package konserve

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestHashOfGolden(t *testing.T) {
	// BLAKE3-256 of the empty input and of "abc", from the BLAKE3 test
	// vectors: pins that node addresses are BLAKE3-256 and never change.
	for _, tc := range []struct{ in, want string }{
		{"", "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"},
		{"abc", "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"},
	} {
		if got := HashOf([]byte(tc.in)).String(); got != tc.want {
			t.Errorf("HashOf(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestParseHash(t *testing.T) {
	h := HashOf([]byte("x"))
	for _, tc := range []struct {
		in   string
		want Hash
		ok   bool
	}{
		{h.String(), h, true},
		{strings.ToUpper(h.String()), h, true},
		{strings.Repeat("0", 64), Hash{}, true},
		{"", Hash{}, false},
		{h.String()[:63], Hash{}, false},
		{h.String() + "0", Hash{}, false},
		{"g" + h.String()[1:], Hash{}, false},
	} {
		got, err := ParseHash(tc.in)
		if tc.ok && (err != nil || got != tc.want) {
			t.Errorf("ParseHash(%q) = %s, %v; want %s, nil", tc.in, got, err, tc.want)
		}
		if !tc.ok && !errors.Is(err, ErrInvalidHash) {
			t.Errorf("ParseHash(%q) error = %v, want ErrInvalidHash", tc.in, err)
		}
	}
	if !(Hash{}).IsZero() || h.IsZero() {
		t.Errorf("IsZero: zero -> %v, HashOf(x) -> %v; want true, false", (Hash{}).IsZero(), h.IsZero())
	}
}

func TestNodeKey(t *testing.T) {
	h := HashOf([]byte("node"))
	key := nodeKey(h)
	if want := "nodes/" + h.String()[:2] + "/" + h.String(); key != want {
		t.Fatalf("nodeKey = %q, want %q", key, want)
	}
	if got, ok := parseNodeKey(key); !ok || got != h {
		t.Errorf("parseNodeKey(nodeKey(h)) = %s, %v; want %s, true", got, ok, h)
	}
	wrongDir := "nodes/zz/" + h.String()
	upper := "nodes/" + strings.ToUpper(h.String()[:2]) + "/" + strings.ToUpper(h.String())
	for _, bad := range []string{"", "nodes/", wrongDir, upper, key + "x", "commits/" + h.String(), "nodes/" + h.String()} {
		if _, ok := parseNodeKey(bad); ok {
			t.Errorf("parseNodeKey(%q) accepted a key nodeKey cannot produce", bad)
		}
	}
}

func FuzzParseHash(f *testing.F) {
	f.Add(HashOf(nil).String())
	f.Add(strings.ToUpper(HashOf([]byte("a")).String()))
	f.Add("")
	f.Add("xyz")
	f.Add(strings.Repeat("0", 65))
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHash(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidHash) {
				t.Fatalf("ParseHash(%q) error %v does not wrap ErrInvalidHash", s, err)
			}
			return
		}
		if got := h.String(); got != strings.ToLower(s) {
			t.Fatalf("ParseHash(%q).String() = %q, want the lowercased input", s, got)
		}
	})
}

func FuzzParseNodeKey(f *testing.F) {
	f.Add(nodeKey(HashOf(nil)))
	f.Add("nodes/ab/" + strings.Repeat("ab", 32))
	f.Add("nodes/00/" + strings.Repeat("AB", 32))
	f.Add("branches/main/HEAD")
	f.Fuzz(func(t *testing.T, key string) {
		h, ok := parseNodeKey(key)
		if ok && nodeKey(h) != key {
			t.Fatalf("parseNodeKey(%q) accepted it as %s, whose key is %q", key, h, nodeKey(h))
		}
	})
}

// FuzzCheckFileKey: every key the file backend accepts maps to a path
// strictly inside the root, and never to one of its own dot files (F4).
func FuzzCheckFileKey(f *testing.F) {
	for _, s := range []string{"branches/main/HEAD", "../x", "a/../../b", "/abs", "a//b", ".lock", "a/.tmp-1", "a\\..\\b", "x/", "é/ü"} {
		f.Add(s)
	}
	const root = "/srv/accrete-root"
	f.Fuzz(func(t *testing.T, key string) {
		if err := checkFileKey(key); err != nil {
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("checkFileKey(%q) error %v does not wrap ErrInvalidKey", key, err)
			}
			return
		}
		p := filepath.Join(root, filepath.FromSlash(key))
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." || strings.HasPrefix(rel, "..") || filepath.ToSlash(rel) != key {
			t.Fatalf("accepted key %q maps to %q (rel %q, %v), not to itself under the root", key, p, rel, err)
		}
		for seg := range strings.SplitSeq(key, "/") {
			if strings.HasPrefix(seg, ".") {
				t.Fatalf("accepted key %q has a dot segment %q", key, seg)
			}
		}
	})
}
