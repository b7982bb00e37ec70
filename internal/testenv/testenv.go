package testenv

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Environment variables exported by scripts/test.sh.
const (
	// EnvS3URL holds an s3:// URL of a bucket on the local versitygw server.
	EnvS3URL = "ACCRETE_TEST_S3_URL"
	// EnvGCSURL holds a gs:// URL of a bucket on the local fake-gcs-server.
	EnvGCSURL = "ACCRETE_TEST_GCS_URL"
	// EnvAzureURL holds an azblob:// URL of a container on the local Azurite.
	EnvAzureURL = "ACCRETE_TEST_AZURE_URL"
	// EnvRequireServers, when "1", turns a missing server URL into a test
	// failure instead of a skip.
	EnvRequireServers = "ACCRETE_TEST_REQUIRE_SERVERS"
)

// seq makes prefixes unique within one process; the pid and start time make
// them unique across the processes of one test run.
var seq atomic.Uint64

var start = time.Now().UnixNano()

// RequireServers reports whether the emulator servers are required, that is
// whether ACCRETE_TEST_REQUIRE_SERVERS=1.
func RequireServers() bool {
	return os.Getenv(EnvRequireServers) == "1"
}

// S3URL returns the URL of the local S3 server with a unique key prefix.
// Without ACCRETE_TEST_S3_URL it skips the test (or fails it when servers are
// required).
func S3URL(t testing.TB) string {
	t.Helper()
	return serverURL(t, EnvS3URL, "S3 (versitygw)")
}

// GCSURL returns the URL of the local GCS emulator with a unique key prefix.
// Without ACCRETE_TEST_GCS_URL it skips the test (or fails it when servers
// are required).
func GCSURL(t testing.TB) string {
	t.Helper()
	return serverURL(t, EnvGCSURL, "GCS (fake-gcs-server)")
}

// AzureURL returns the URL of the local Azure emulator with a unique key
// prefix. Without ACCRETE_TEST_AZURE_URL it skips the test (or fails it when
// servers are required).
func AzureURL(t testing.TB) string {
	t.Helper()
	return serverURL(t, EnvAzureURL, "Azure (Azurite)")
}

func serverURL(t testing.TB, env, what string) string {
	t.Helper()
	raw := os.Getenv(env)
	if raw == "" {
		if RequireServers() {
			t.Fatalf("testenv: %s is not set but %s=1: the %s server must be running", env, EnvRequireServers, what)
		}
		t.Skipf("testenv: %s is not set; run bash scripts/test.sh to start the local %s server", env, what)
	}
	u, err := WithUniquePrefix(raw, t.Name())
	if err != nil {
		t.Fatalf("testenv: %s=%q: %v", env, raw, err)
	}
	return u
}

// WithUniquePrefix returns raw with a fresh path segment appended to its
// path, derived from name, the process id and a counter. The query string is
// kept. It is exported for tests that need several distinct prefixes on one
// server.
func WithUniquePrefix(raw, name string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("testenv: parse url: %w", err)
	}
	seg := fmt.Sprintf("%s-%d-%x-%d", sanitize(name), os.Getpid(), start, seq.Add(1))
	p := strings.Trim(u.Path, "/")
	if p != "" {
		p += "/"
	}
	u.Path = "/" + p + seg
	u.RawPath = ""
	return u.String(), nil
}

// sanitize keeps test names usable as one key segment on every backend.
func sanitize(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 48 {
			break
		}
	}
	return b.String()
}
