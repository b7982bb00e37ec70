package testenv

import (
	"net/url"
	"strings"
	"testing"
)

func TestWithUniquePrefix(t *testing.T) {
	tests := []struct {
		raw, wantPrefix, wantQuery string
	}{
		{"s3://bkt?region=us-east-1&use_path_style=true", "/T-", "region=us-east-1&use_path_style=true"},
		{"s3://bkt/base?region=x", "/base/T-", "region=x"},
		{"gs://bkt/", "/T-", ""},
		{"azblob://c/a/b/", "/a/b/T-", ""},
	}
	for _, tt := range tests {
		got, err := WithUniquePrefix(tt.raw, "T")
		if err != nil {
			t.Fatalf("WithUniquePrefix(%q): %v", tt.raw, err)
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("parse %q: %v", got, err)
		}
		if !strings.HasPrefix(u.Path, tt.wantPrefix) {
			t.Errorf("WithUniquePrefix(%q) path = %q, want prefix %q", tt.raw, u.Path, tt.wantPrefix)
		}
		if u.RawQuery != tt.wantQuery {
			t.Errorf("WithUniquePrefix(%q) query = %q, want %q", tt.raw, u.RawQuery, tt.wantQuery)
		}
	}
	a, _ := WithUniquePrefix("s3://b", "same")
	b, _ := WithUniquePrefix("s3://b", "same")
	if a == b {
		t.Errorf("two calls returned the same URL %q", a)
	}
}

func TestSanitize(t *testing.T) {
	if got, want := sanitize("TestX/sub case#1"), "TestX_sub_case_1"; got != want {
		t.Errorf("sanitize = %q, want %q", got, want)
	}
	long := strings.Repeat("a", 200)
	if got := sanitize(long); len(got) > 48 {
		t.Errorf("sanitize(200 chars) has length %d, want <= 48", len(got))
	}
}
