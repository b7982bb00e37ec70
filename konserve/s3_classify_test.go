package konserve_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/accretedb/accrete/konserve"
)

// TestS3ErrorClassification drives the S3 backend against a scripted HTTP
// server to pin how each answer is classified, including the answers
// versitygw never gives (409 ConditionalRequestConflict, 500).
func TestS3ErrorClassification(t *testing.T) {
	type reply struct {
		status int
		code   string // S3 error code, "" for no XML body
		etag   string
	}
	tests := []struct {
		name        string
		old         konserve.Version
		reply       reply
		wantErr     error // nil: success
		ambiguous   bool  // an error wrapping neither ErrConflict nor ErrNotFound
		wantVersion konserve.Version
	}{
		{"create ok", "", reply{200, "", `"e1"`}, nil, false, `"e1"`},
		{"replace ok", `"e1"`, reply{200, "", `"e2"`}, nil, false, `"e2"`},
		{"create exists 412", "", reply{412, "PreconditionFailed", ""}, konserve.ErrConflict, false, ""},
		{"replace stale 412", `"e1"`, reply{412, "PreconditionFailed", ""}, konserve.ErrConflict, false, ""},
		{"replace vanished 404", `"e1"`, reply{404, "NoSuchKey", ""}, konserve.ErrConflict, false, ""},
		{"concurrent conditional write 409", `"e1"`, reply{409, "ConditionalRequestConflict", ""}, nil, true, ""},
		{"access denied 403", `"e1"`, reply{403, "AccessDenied", ""}, nil, true, ""},
		{"server error 500", `"e1"`, reply{500, "InternalError", ""}, nil, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotIfMatch, gotIfNoneMatch atomic.Value
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPut {
					http.Error(w, "unexpected "+r.Method, http.StatusBadRequest)
					return
				}
				gotIfMatch.Store(r.Header.Get("If-Match"))
				gotIfNoneMatch.Store(r.Header.Get("If-None-Match"))
				writeS3Reply(w, tt.reply.status, tt.reply.code, tt.reply.etag)
			}))
			defer srv.Close()
			b := openScriptedS3(t, srv.URL)
			v, err := b.Swap(context.Background(), "branches/main/HEAD", tt.old, []byte("head"))
			switch {
			case tt.ambiguous:
				if err == nil || errors.Is(err, konserve.ErrConflict) || errors.Is(err, konserve.ErrNotFound) {
					t.Errorf("Swap error = %v, want an ambiguous error (neither ErrConflict nor ErrNotFound)", err)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Swap error = %v, want %v", err, tt.wantErr)
				}
			default:
				if err != nil || v != tt.wantVersion {
					t.Errorf("Swap = %q, %v; want %q, nil", v, err, tt.wantVersion)
				}
			}
			im, _ := gotIfMatch.Load().(string)
			inm, _ := gotIfNoneMatch.Load().(string)
			if tt.old == "" && (inm != "*" || im != "") {
				t.Errorf("create sent If-Match %q If-None-Match %q, want none and *", im, inm)
			}
			if tt.old != "" && (im != string(tt.old) || inm != "") {
				t.Errorf("replace sent If-Match %q If-None-Match %q, want %q and none", im, inm, tt.old)
			}
		})
	}
}

// TestS3ConditionalGet: a 304 to GET with If-None-Match is "unchanged",
// a 200 is "changed" with the new ETag, a 404 is ErrNotFound.
func TestS3ConditionalGet(t *testing.T) {
	var mode atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			http.Error(w, "unexpected "+r.Method, http.StatusBadRequest)
			return
		}
		switch mode.Load() {
		case 0:
			if r.Header.Get("If-None-Match") != `"v1"` {
				http.Error(w, "missing If-None-Match", http.StatusBadRequest)
				return
			}
			w.Header().Set("ETag", `"v1"`)
			w.WriteHeader(http.StatusNotModified)
		case 1:
			w.Header().Set("ETag", `"v2"`)
			fmt.Fprint(w, "new head")
		default:
			writeS3Reply(w, 404, "NoSuchKey", "")
		}
	}))
	defer srv.Close()
	b := openScriptedS3(t, srv.URL)
	cr, ok := b.(konserve.ConditionalReader)
	if !ok {
		t.Fatalf("%T does not implement ConditionalReader", b)
	}
	ctx := context.Background()
	data, v, changed, err := cr.ReadVersionedIfChanged(ctx, "h", `"v1"`)
	if err != nil || changed || data != nil || v != `"v1"` {
		t.Errorf("304: got %q, %q, %v, %v; want nil, %q, false, nil", data, v, changed, err, `"v1"`)
	}
	mode.Store(1)
	data, v, changed, err = cr.ReadVersionedIfChanged(ctx, "h", `"v1"`)
	if err != nil || !changed || string(data) != "new head" || v != `"v2"` {
		t.Errorf("200: got %q, %q, %v, %v; want %q, %q, true, nil", data, v, changed, err, "new head", `"v2"`)
	}
	mode.Store(2)
	if _, _, _, err := cr.ReadVersionedIfChanged(ctx, "h", `"v1"`); !errors.Is(err, konserve.ErrNotFound) {
		t.Errorf("404: error %v, want ErrNotFound", err)
	}
	if _, _, err := b.ReadVersioned(ctx, "h"); !errors.Is(err, konserve.ErrNotFound) {
		t.Errorf("ReadVersioned 404: error %v, want ErrNotFound", err)
	}
}

// openScriptedS3 opens an s3:// backend on a scripted server, with static
// credentials. (The SDK still retries a 500 three times with backoff.)
func openScriptedS3(t *testing.T, endpoint string) konserve.Backend {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	b := openBackend(t, "s3://scripted/db?region=us-east-1&use_path_style=true&endpoint="+endpoint)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func writeS3Reply(w http.ResponseWriter, status int, code, etag string) {
	if etag != "" {
		w.Header().Set("ETag", etag)
	}
	if code == "" {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><RequestId>r</RequestId></Error>`,
		code, strings.ToLower(code))
}
